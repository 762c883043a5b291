package bench_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"brickyard/boards/bench"
	"brickyard/boards/bench/emu"
	"brickyard/flash"
)

// On a board without a fault rig brickyard cuts the power itself: the
// line dropped before the k-th operation of an install over the link (or
// after it), on an active-high or an active-low line. The board ends as a
// simulated chip cut at the same operation does, and boots its old image.
func TestHostCutMidInstall(t *testing.T) {
	p := getProfile(t, "uboot-nor")
	upd := img(t, p, "2.0.0", 40000)
	for _, tc := range []struct {
		name      string
		k         uint64
		mode      flash.CutMode
		activeLow bool
	}{
		{"before the first erase", 0, flash.CutBefore, false},
		{"before a program", 3, flash.CutBefore, true},
		{"after a program", 5, flash.CutAfter, false},
		{"before an erase past the image", 40, flash.CutBefore, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, p, rigOpts{activeLow: tc.activeLow, emu: func(c *emu.Config) { c.NoRigCut = true }})
			b := r.host.Board()
			boot(t, b)
			sim := factory(t, p).Clone()
			for _, x := range []struct {
				f   interface{ Ops() uint64 }
				arm func(at uint64) error
			}{
				{b.Chip, func(at uint64) error { return b.Chip.ArmCut(at, tc.mode, nil) }},
				{sim.Chip, func(at uint64) error { return sim.Chip.ArmCut(at, tc.mode, nil) }},
			} {
				if err := x.arm(x.f.Ops() + tc.k); err != nil {
					t.Fatal(err)
				}
			}
			err := b.Loader.Write(b, "B", upd)
			serr := sim.Loader.Write(sim, "B", upd)
			if !errors.Is(err, flash.ErrPowerLost) || !errors.Is(serr, flash.ErrPowerLost) {
				t.Fatalf("write: bench %v, simulated %v", err, serr)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := r.emu.WaitPowered(ctx, false); err != nil {
				t.Fatalf("the board still runs: %v", err)
			}
			if got, want := b.Chip.LastOp(), sim.Chip.LastOp(); got.Kind != want.Kind || got.Addr != want.Addr || got.Len != want.Len {
				t.Fatalf("last operation %+v, simulated %+v", got, want)
			}
			b.PowerOn()
			sim.PowerOn()
			if x, y := boot(t, b), boot(t, sim); bootString(x) != bootString(y) || x.Image.Version.String() != "1.0.0" {
				t.Fatalf("boot after the cut: bench %s, simulated %s", bootString(x), bootString(y))
			}
			eb := r.stopEmu()
			a, s := make([]byte, p.Flash.Size), make([]byte, p.Flash.Size)
			_ = eb.Chip.Read(0, a)
			_ = sim.Chip.Read(0, s)
			if !bytes.Equal(a, s) {
				t.Fatal("the cut board's flash differs from the simulated one's")
			}
		})
	}
}

// A torn cut from the host drops the line while the operation is on the
// line: whatever it leaves, the A/B board boots an image (its old one,
// the new one being unfinished) and the link goes on.
func TestHostTornCut(t *testing.T) {
	p := getProfile(t, "esp32-ota")
	r := newRig(t, p, rigOpts{emu: func(c *emu.Config) { c.NoRigCut = true; c.ProgramTime = 20 * time.Millisecond },
		host: func(c *bench.Config) { c.Link.Baud = 4000000; c.TornWindow = 200 * time.Millisecond }})
	b := r.host.Board()
	boot(t, b)
	if err := b.Chip.ArmCut(b.Chip.Ops()+1, flash.CutTorn, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
	if err := b.Loader.Write(b, "ota_1", img(t, p, "2.0.0", 10000)); !errors.Is(err, flash.ErrPowerLost) {
		t.Fatalf("write: %v", err)
	}
	b.PowerOn()
	if x := boot(t, b); x.Slot != "ota_0" || x.Image.Version.String() != "1.0.0" {
		t.Fatalf("boot after a torn cut: %s", bootString(x))
	}
	if err := b.Loader.Write(b, "ota_1", img(t, p, "2.0.0", 10000)); err != nil {
		t.Fatalf("write after: %v", err)
	}
	if r.host.Offline() != nil {
		t.Fatal(r.host.Offline())
	}
	if s := r.emu.Stats(); s.LineCuts != 1 {
		t.Fatalf("%d power losses while running, want the torn cut's", s.LineCuts)
	}
}
