package bench

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"brickyard/boards/image"
	"brickyard/boards/profile"
)

// Spec describes one bench board as the configuration lists it (the
// bench.boards list of brickyard's configuration file; docs/bench.md):
// where its link is, its bootloader, and how its power, reset and boot
// mode are switched.
type Spec struct {
	Name       string `mapstructure:"name" yaml:"name"`             // names the board's device: bench-1
	Port       string `mapstructure:"port" yaml:"port"`             // /dev/ttyUSB0, or tcp://host:port (ser2net)
	Baud       int    `mapstructure:"baud" yaml:"baud"`             // 0: 115200
	Profile    string `mapstructure:"profile" yaml:"profile"`       // board profile; "": the board's Hello's
	Bootloader string `mapstructure:"bootloader" yaml:"bootloader"` // the kind the board must report ("": any)

	// GPIO lines of GPIOChip (a name, label or /dev path): an offset or a
	// line name each, "" for none; ActiveLow lines are asserted low.
	GPIOChip          string `mapstructure:"gpio_chip" yaml:"gpio_chip"`
	PowerLine         string `mapstructure:"power_line" yaml:"power_line"`
	PowerActiveLow    bool   `mapstructure:"power_active_low" yaml:"power_active_low"`
	ResetLine         string `mapstructure:"reset_line" yaml:"reset_line"`
	ResetActiveLow    bool   `mapstructure:"reset_active_low" yaml:"reset_active_low"`
	BootModeLine      string `mapstructure:"boot_mode_line" yaml:"boot_mode_line"`
	BootModeActiveLow bool   `mapstructure:"boot_mode_active_low" yaml:"boot_mode_active_low"`

	// Power through a PDU daemon speaking pdudaemon's URL form instead of
	// a GPIO line: http://host:port, the PDU's name and outlet.
	PDU         string `mapstructure:"pdu" yaml:"pdu"`
	PDUHostname string `mapstructure:"pdu_hostname" yaml:"pdu_hostname"`
	PDUPort     int    `mapstructure:"pdu_port" yaml:"pdu_port"`

	PowerHold   time.Duration `mapstructure:"power_hold" yaml:"power_hold"`     // 0: 500ms
	BootTimeout time.Duration `mapstructure:"boot_timeout" yaml:"boot_timeout"` // 0: 30s
	HostCuts    bool          `mapstructure:"host_cuts" yaml:"host_cuts"`       // cut by the power line even with a rig

	// Console serves the board's console as a raw TCP port on this
	// address ("": not served).
	Console string `mapstructure:"console" yaml:"console"`
}

// Check reports the first thing wrong with s that can be told without the
// hardware.
func (s Spec) Check() error {
	switch {
	case s.Name == "" || len(s.Name) > 32 || strings.ContainsAny(s.Name, " /\t\n"):
		return fmt.Errorf("bench board name %q: want 1 to 32 characters, no spaces or slashes", s.Name)
	case s.Port == "":
		return fmt.Errorf("bench board %s: port is required (a device path or tcp://host:port)", s.Name)
	case s.Baud < 0 || s.Baud > 16000000:
		return fmt.Errorf("bench board %s: baud %d", s.Name, s.Baud)
	case s.PDU != "" && s.PowerLine != "":
		return fmt.Errorf("bench board %s: power from a GPIO line or a PDU, not both", s.Name)
	case s.PDU != "" && !strings.HasPrefix(s.PDU, "http://") && !strings.HasPrefix(s.PDU, "https://"):
		return fmt.Errorf("bench board %s: pdu %q: want http://host:port", s.Name, s.PDU)
	case s.PDU != "" && (s.PDUHostname == "" || s.PDUPort <= 0):
		return fmt.Errorf("bench board %s: a pdu needs pdu_hostname and pdu_port", s.Name)
	case (s.PowerLine != "" || s.ResetLine != "" || s.BootModeLine != "") && s.GPIOChip == "":
		return fmt.Errorf("bench board %s: GPIO lines need gpio_chip", s.Name)
	case s.PowerHold < 0 || s.BootTimeout < 0:
		return fmt.Errorf("bench board %s: durations must not be negative", s.Name)
	}
	return nil
}

// Config resolves s into a board configuration: its profile from
// profiles, its lines opened (OpenLine), its keys.
func (s Spec) Config(profiles profile.Set, keys *image.Keyring) (Config, error) {
	if err := s.Check(); err != nil {
		return Config{}, err
	}
	c := Config{Port: s.Port, Baud: s.Baud, Bootloader: s.Bootloader, Keys: keys,
		PowerHold: s.PowerHold, BootTimeout: s.BootTimeout, HostCuts: s.HostCuts}
	if c.Baud == 0 {
		c.Baud = 115200
	}
	if s.Profile != "" {
		p, err := profiles.Get(s.Profile)
		if err != nil {
			return Config{}, fmt.Errorf("bench board %s: %w", s.Name, err)
		}
		c.Profile = &p
	}
	line := func(name string, activeLow bool) (*Line, error) {
		if name == "" {
			return nil, nil
		}
		pin, err := OpenLine(s.GPIOChip, name)
		if err != nil {
			return nil, fmt.Errorf("bench board %s: %w", s.Name, err)
		}
		return &Line{Pin: pin, ActiveLow: activeLow}, nil
	}
	power, err := line(s.PowerLine, s.PowerActiveLow)
	if err != nil {
		return Config{}, err
	}
	if power != nil {
		c.Power = GPIOPower{Line: *power}
	}
	if s.PDU != "" {
		c.Power = PDU{URL: strings.TrimSuffix(s.PDU, "/"), Hostname: s.PDUHostname, Port: s.PDUPort}
	}
	if c.Reset, err = line(s.ResetLine, s.ResetActiveLow); err != nil {
		return Config{}, err
	}
	if c.BootMode, err = line(s.BootModeLine, s.BootModeActiveLow); err != nil {
		return Config{}, err
	}
	return c, nil
}

// CheckSpecs checks a list of bench boards: each on its own, and names
// unique.
func CheckSpecs(specs []Spec) error {
	seen := map[string]bool{}
	var errs []error
	for _, s := range specs {
		if err := s.Check(); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("bench board %s is listed twice", s.Name))
		}
		seen[s.Name] = true
	}
	return errors.Join(errs...)
}
