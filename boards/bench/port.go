package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"go.bug.st/serial"
)

// OpenPort opens a bench board's serial link: a local serial device (a
// USB adapter, a pseudo-terminal's slave) at baud, 8N1, raw; or
// tcp://host:port, a raw TCP port such as ser2net serves (the baud rate
// is then the serial server's). Modem lines are not used: pseudo-terminals
// have none.
func OpenPort(addr string, baud int) (io.ReadWriteCloser, error) {
	if hostport, ok := strings.CutPrefix(addr, "tcp://"); ok {
		c, err := net.DialTimeout("tcp", hostport, 10*time.Second)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		return c, nil
	}
	if strings.Contains(addr, "://") {
		return nil, fmt.Errorf("bench: port %q: want a device path or tcp://host:port", addr)
	}
	if baud <= 0 {
		return nil, fmt.Errorf("bench: port %s: baud %d", addr, baud)
	}
	p, err := serial.Open(addr, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("bench: open %s: %w", addr, err)
	}
	return serialPort{p}, nil
}

// serialPort is a serial.Port whose Read never returns (0, nil): go.bug.st
// does that on a read timeout, which the link does not set.
type serialPort struct{ serial.Port }

func (p serialPort) Read(b []byte) (int, error) {
	for {
		n, err := p.Port.Read(b)
		if n > 0 || err != nil {
			var pe *serial.PortError
			if errors.As(err, &pe) && pe.Code() == serial.PortClosed {
				return n, io.EOF
			}
			return n, err
		}
	}
}
