package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Power switches a bench board's supply: a relay on a GPIO line, a PDU,
// or an emulator's control endpoint.
type Power interface {
	SetPower(ctx context.Context, on bool) error
}

// Line is one GPIO output to the board (power relay, reset, boot-mode
// strap) with its polarity: an active-low line is asserted by driving it
// low.
type Line struct {
	Pin       gpio.PinOut
	ActiveLow bool
}

// Set asserts or releases the line.
func (l Line) Set(asserted bool) error {
	if l.Pin == nil {
		return errors.New("bench: line has no pin")
	}
	if err := l.Pin.Out(gpio.Level(asserted != l.ActiveLow)); err != nil {
		return fmt.Errorf("bench: line %s: %w", l.Pin, err)
	}
	return nil
}

// GPIOPower is a supply switched by a GPIO line: asserted is on.
type GPIOPower struct{ Line Line }

func (p GPIOPower) SetPower(_ context.Context, on bool) error { return p.Line.Set(on) }

// PDU switches one outlet of a PDU daemon speaking pdudaemon's HTTP URL
// form: GET {URL}/power/control/on|off?hostname={Hostname}&port={Port}.
// A lab's pdudaemon is one; board-emu's control endpoint is another
// (emu.ControlHandler).
type PDU struct {
	URL      string // http://host:port
	Hostname string // the PDU's name in the daemon's configuration
	Port     int    // the outlet
	Client   *http.Client
}

func (p PDU) SetPower(ctx context.Context, on bool) error {
	cmd := "off"
	if on {
		cmd = "on"
	}
	u := p.URL + "/power/control/" + cmd + "?" + url.Values{"hostname": {p.Hostname}, "port": {strconv.Itoa(p.Port)}}.Encode()
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("bench: pdu: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("bench: pdu %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: pdu %s: %s: %q", u, resp.Status, body)
	}
	return nil
}
