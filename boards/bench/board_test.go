package bench_test

import (
	"bytes"
	"strings"
	"testing"

	"brickyard/boards"
	"brickyard/flash"
)

func boot(t *testing.T, b *boards.Board) boards.Boot {
	t.Helper()
	r, err := b.Loader.Boot(b)
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	return r
}

// An update over the link ends, on the emulated board, exactly where the
// same update ends on a simulated board: the same boots, the same bytes on
// flash, the same operation count; and the console carries the boot log.
func TestUpdateOverLinkMatchesSimulation(t *testing.T) {
	for _, name := range []string{"uboot-nor", "mcuboot-nrf52", "esp32-ota", "single-nor"} {
		t.Run(name, func(t *testing.T) {
			p := getProfile(t, name)
			r := newRig(t, p, rigOpts{})
			b := r.host.Board()
			sim := factory(t, p).Clone()
			sim.Running = nil
			upd := img(t, p, "2.0.0", 20000)

			steps := []struct {
				name string
				do   func(b *boards.Board) (string, error)
			}{
				{"boot", func(b *boards.Board) (string, error) { x, err := b.Loader.Boot(b); return bootString(x), err }},
				{"write", func(b *boards.Board) (string, error) { return "", b.Loader.Write(b, target(b), upd) }},
				{"activate", func(b *boards.Board) (string, error) { return "", b.Loader.Activate(b, target(b)) }},
				{"trial boot", func(b *boards.Board) (string, error) { x, err := b.Loader.Boot(b); return bootString(x), err }},
				{"confirm", func(b *boards.Board) (string, error) { return "", b.Loader.Confirm(b) }},
				{"boot", func(b *boards.Board) (string, error) { x, err := b.Loader.Boot(b); return bootString(x), err }},
			}
			for _, s := range steps {
				opsBench, opsSim := b.Chip.Ops(), sim.Chip.Ops()
				got, err := s.do(b)
				want, werr := s.do(sim)
				if (err == nil) != (werr == nil) || got != want {
					t.Fatalf("%s: bench %q (%v), simulated %q (%v)", s.name, got, err, want, werr)
				}
				if d, w := b.Chip.Ops()-opsBench, sim.Chip.Ops()-opsSim; d != w {
					t.Fatalf("%s: %d operations over the link, %d simulated", s.name, d, w)
				}
			}
			if b.SecurityCounter != sim.SecurityCounter {
				t.Fatalf("security counter %d, simulated %d", b.SecurityCounter, sim.SecurityCounter)
			}
			if !strings.Contains(r.host.Console().Tail(200), "board-emu: running 2.0.0") {
				t.Fatalf("console:\n%s", r.host.Console().Tail(20))
			}
			eb := r.stopEmu()
			a, s := eb.Chip.(*flash.Chip), sim.Chip.(*flash.Chip)
			ga, gs := make([]byte, p.Flash.Size), make([]byte, p.Flash.Size)
			if err := a.Read(0, ga); err != nil {
				t.Fatal(err)
			}
			if err := s.Read(0, gs); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ga, gs) {
				t.Fatal("the emulated board's flash differs from the simulated one's")
			}
		})
	}
}

func bootString(r boards.Boot) string {
	if r.Bricked {
		return "bricked: " + r.Reason
	}
	return r.Slot + " " + r.Image.Version.String() + map[bool]string{true: " trial", false: ""}[r.Trial] + map[bool]string{true: " fell-back", false: ""}[r.FellBack]
}

func target(b *boards.Board) string {
	for _, s := range b.Loader.Slots() {
		if b.Running == nil || s != b.Running.Slot {
			return s
		}
	}
	return b.Loader.Slots()[0]
}

func boardOf(x any) *boards.Board { return x.(*boards.Board) }

func bootOf(x any) (string, error) {
	b := boardOf(x)
	r, err := b.Loader.Boot(b)
	return bootString(r), err
}
