package fleet

import (
	"errors"
	"os"
	"testing"
	"time"

	"brickyard/flash"
	"brickyard/sim/device"
)

// FuzzParseState: a state file of any content loads or is ErrState (or
// the flash chip's or the device's named error), never a panic; what
// loads is a board of the factory's geometry and a device state that the
// device then checks.
func FuzzParseState(f *testing.F) {
	fb, s := factory(f, "uboot-nor")
	d, err := device.New(device.Config{EndpointID: "os::00256D-SIM000001", ControllerID: "proto::controller", Seed: 1}, fb.Clone(), s)
	if err != nil {
		f.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d.PowerOn(t0)
	d.Board().Chip.(*flash.Chip).Erase(0)
	dir := f.TempDir()
	if err := saveState(dir, "os::00256D-SIM000001", d, fb, t0.Add(time.Minute)); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(stateFile(dir, "os::00256D-SIM000001"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(stateMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, ds, err := parseState(data, fb)
		if err != nil {
			if !errors.Is(err, ErrState) && !errors.Is(err, flash.ErrState) {
				t.Fatalf("unnamed error %v", err)
			}
			return
		}
		if b.Chip.Geometry() != fb.Chip.Geometry() {
			t.Fatalf("geometry %+v, want %+v", b.Chip.Geometry(), fb.Chip.Geometry())
		}
		d, err := device.New(device.Config{EndpointID: "os::00256D-SIM000001", ControllerID: "proto::controller", Seed: 1}, b, s)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.LoadState(ds); err != nil {
			if !errors.Is(err, device.ErrState) {
				t.Fatalf("unnamed device error %v", err)
			}
			return
		}
		d.PowerOn(t0)
	})
}
