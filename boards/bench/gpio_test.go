package bench_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"periph.io/x/conn/v3/gpio"

	"brickyard/boards/bench"
	"brickyard/boards/bench/emu"
)

// A real GPIO line through the kernel's character device. It needs a
// /dev/gpiochip and a line that is safe to toggle, named by
// BRICKYARD_TEST_GPIO=chip:line (gpiochip0:17).
func TestRealGPIOLine(t *testing.T) {
	chips, _ := filepath.Glob("/dev/gpiochip*")
	if len(chips) == 0 {
		_, err := bench.OpenLine("gpiochip0", "0")
		if !errors.Is(err, bench.ErrNoGPIO) {
			t.Fatalf("without /dev/gpiochip*: %v, want ErrNoGPIO", err)
		}
		t.Skip("this machine has no /dev/gpiochip* (its kernel has no GPIO character device, as CI's has none): OpenLine says so, and there is no line to drive")
	}
	spec := os.Getenv("BRICKYARD_TEST_GPIO")
	chip, line, ok := strings.Cut(spec, ":")
	if !ok {
		t.Skipf("the machine has %v, but no line is named safe to toggle: set BRICKYARD_TEST_GPIO=chip:line", chips)
	}
	pin, err := bench.OpenLine(chip, line)
	if err != nil {
		t.Fatal(err)
	}
	for _, activeLow := range []bool{false, true} {
		l := bench.Line{Pin: pin, ActiveLow: activeLow}
		for _, on := range []bool{true, false} {
			if err := l.Set(on); err != nil {
				t.Fatal(err)
			}
			if in, ok := pin.(gpio.PinIn); ok && bool(in.Read()) != (on != activeLow) {
				t.Fatalf("active-low %v asserted %v: the line reads %v", activeLow, on, in.Read())
			}
		}
	}
}

// Reset and boot-mode lines: the strap held across a reset pulse keeps
// the board in its loader (no image boots: the boot says so); released,
// a reset boots the image. Both lines active-low, as reset lines are.
func TestResetAndBootModeLines(t *testing.T) {
	p := getProfile(t, "esp32-ota")
	reset, strap := emu.NewWire("reset", gpio.High), emu.NewWire("boot-mode", gpio.High)
	r := newRig(t, p, rigOpts{
		emu: func(c *emu.Config) {
			c.Lines.Reset, c.Lines.ResetActiveLow = reset, true
			c.Lines.BootMode, c.Lines.BootModeActiveLow = strap, true
		},
		host: func(c *bench.Config) {
			c.Reset = &bench.Line{Pin: reset, ActiveLow: true}
			c.BootMode = &bench.Line{Pin: strap, ActiveLow: true}
		},
	})
	b := r.host.Board()
	boot(t, b)
	if err := r.host.Reset(true); err != nil {
		t.Fatal(err)
	}
	x, err := b.Loader.Boot(b)
	if err != nil || !x.Bricked || !strings.Contains(x.Reason, "loader") {
		t.Fatalf("boot with the strap held: %+v %v", x, err)
	}
	if !strings.Contains(r.host.Console().Tail(5), "waiting for download") {
		t.Fatalf("console: %s", r.host.Console().Tail(5))
	}
	if err := r.host.ReleaseBootMode(); err != nil {
		t.Fatal(err)
	}
	if x := boot(t, b); x.Slot != "ota_0" || x.Image.Version.String() != "1.0.0" {
		t.Fatalf("boot after the strap: %s", bootString(x))
	}
	if s := r.emu.Stats(); s.PowerOns != 1 {
		t.Fatalf("%d power-ons: the lines reset, they do not power-cycle", s.PowerOns)
	}
}
