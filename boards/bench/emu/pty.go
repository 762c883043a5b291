package emu

import (
	"fmt"
	"os"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// PTY is a pseudo-terminal pair for an emulated board: the emulator
// serves the master, the host opens SlavePath as its serial port.
type PTY struct {
	Master    *os.File
	slave     *os.File
	SlavePath string
}

// OpenPTY opens a pair and puts the slave in raw mode at once: a fresh
// slave is cooked (echo, CR/LF translation), which would corrupt frames
// before the host's serial library sets it raw. The pair keeps the slave
// open, so that the host closing and reopening it does not hang up the
// master.
func OpenPTY() (*PTY, error) {
	bm, s, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("emu: open a pseudo-terminal: %w", err)
	}
	// The master as a non-blocking file in Go's poller, so that closing
	// it ends a Read in progress (the receiver's).
	fd, err := unix.Dup(int(bm.Fd()))
	bm.Close()
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("emu: pseudo-terminal master: %w", err)
	}
	m := os.NewFile(uintptr(fd), "/dev/ptmx")
	t, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err == nil {
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB
		t.Cflag |= unix.CS8
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		err = unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, t)
	}
	if err != nil {
		m.Close()
		s.Close()
		return nil, fmt.Errorf("emu: raw mode on %s: %w", s.Name(), err)
	}
	return &PTY{Master: m, slave: s, SlavePath: s.Name()}, nil
}

// Close closes both ends.
func (p *PTY) Close() error {
	err := p.Master.Close()
	if e := p.slave.Close(); err == nil {
		err = e
	}
	return err
}
