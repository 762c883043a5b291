package device

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"brickyard/boards"
	"brickyard/flash"
	"brickyard/sim/faults"
)

// uncopyable is a simulated chip seen only through boards.Flash, as a
// real board's flash is (boards/bench): the device cannot clone it. It is
// a boards.BootCutter that records what it is asked.
type uncopyable struct {
	*flash.Chip
	bootCuts []string
}

func (u *uncopyable) ArmBootCut(f float64, mode flash.CutMode, _ *rand.Rand) error {
	u.bootCuts = append(u.bootCuts, fmt.Sprintf("%s@%g", mode, f))
	return nil
}

func uncopyableBoard(t *testing.T, name string) (*boards.Board, *uncopyable) {
	b := factory(t, name).Clone()
	u := &uncopyable{Chip: b.Chip.(*flash.Chip)}
	b.Chip = u
	if b.CanClone() {
		t.Fatal("a board whose flash is not a *flash.Chip says it can be cloned")
	}
	return b, u
}

// cutEvent runs a download with an install cut at fraction f and returns
// the detail of its power-cut event.
func cutEvent(t *testing.T, h *harness) string {
	t.Helper()
	h.boot()
	h.standardSubs()
	h.serve(fwURL, fwImage(h.board, "2.0.0", 0))
	h.operate(newRow+".Download()", "k1", "URL", fwURL, "AutoActivate", "true")
	h.runUntil(func() bool { return h.hasEvent(EvPowerCut) }, time.Minute)
	for _, e := range h.events {
		if e.Kind == EvPowerCut {
			return e.Detail
		}
	}
	t.Fatalf("no cut:\n%s", h.eventLog())
	return ""
}

// A board that cannot be cloned gets its install cut at the same
// operation as a simulated one: the dry run on its stand-in counts the
// Write's operations as a copy of the board does.
func TestInstallCutOnUncopyableBoard(t *testing.T) {
	for _, board := range abBoards {
		for _, torn := range []bool{false, true} {
			for _, f := range []float64{0, 0.37, 0.999} {
				cut := withFaults(faults.Faults{PowerDuringInstall: &faults.Cut{Fraction: f, Torn: torn}})
				want := cutEvent(t, newHarness(t, board, cut))
				b, _ := uncopyableBoard(t, board)
				if got := cutEvent(t, newHarnessOn(t, board, b, cut)); got != want {
					t.Errorf("%s torn=%v %.3f: uncopyable board cut at %q, a simulated one at %q", board, torn, f, got, want)
				}
			}
		}
	}
}

// A board that cannot be cloned is asked to place its trial cut itself
// (boards.BootCutter), once, with the fault's fraction and mode; nothing
// is dry-run on it.
func TestTrialCutOnUncopyableBoard(t *testing.T) {
	b, u := uncopyableBoard(t, "uboot-nor")
	h := newHarnessOn(t, "uboot-nor", b, withFaults(faults.Faults{PowerDuringTrial: &faults.Cut{Fraction: 0.25, Torn: true}})).boot()
	h.standardSubs()
	h.serve(fwURL, fwImage("uboot-nor", "2.0.0", 0))
	h.operate(newRow+".Download()", "k1", "URL", fwURL, "AutoActivate", "true")
	h.runUntil(func() bool { return h.hasEvent(EvConfirmed) }, 10*time.Minute)
	if !h.hasEvent(EvConfirmed) {
		t.Fatalf("not confirmed:\n%s", h.eventLog())
	}
	if want := []string{"torn@0.25"}; strings.Join(u.bootCuts, ",") != strings.Join(want, ",") {
		t.Fatalf("ArmBootCut calls %v, want %v", u.bootCuts, want)
	}
}
