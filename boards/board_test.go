package boards_test

import (
	"strings"
	"testing"

	"brickyard/boards"
	"brickyard/boards/boardtest"
	"brickyard/boards/single"
	"brickyard/flash"
)

// onlyFlash hides a chip behind the Flash interface, as a real board's
// flash is.
type onlyFlash struct{ boards.Flash }

func provisioned(t *testing.T) *boards.Board {
	t.Helper()
	g := flash.Geometry{Size: 256 << 10, SectorSize: 4096, WriteUnit: 1, Erased: 0xFF}
	layout := boards.Layout{{Name: single.Slot, Offset: 0x10000, Size: 128 << 10}}
	img := boardtest.Blob(boardtest.Spec{Board: "t", Version: "1.0.0", PayloadSize: 5000}, 0xFF)
	b, err := boardtest.Board("t", g, layout, single.Loader{}, img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCloneNeedsASimulatedChip(t *testing.T) {
	b := provisioned(t)
	if !b.CanClone() {
		t.Fatal("a board on a *flash.Chip cannot be cloned")
	}
	if c := b.Clone(); c.Chip == b.Chip || c.Running == b.Running {
		t.Fatal("Clone shares the chip or the running image")
	}
	b.Chip = onlyFlash{b.Chip}
	if b.CanClone() {
		t.Fatal("a board on another Flash says it can be cloned")
	}
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "cannot be copied") {
			t.Fatalf("Clone of an uncopyable board: recovered %v", r)
		}
	}()
	b.Clone()
}

// StandIn is a blank chip of the board's geometry with its layout,
// loader and running image: a Write on it performs the operations the
// same Write performs on the board, and leaves the board alone.
func TestStandInCountsAWrite(t *testing.T) {
	b := provisioned(t)
	upd := boardtest.Blob(boardtest.Spec{Board: "t", Version: "2.0.0", PayloadSize: 9000}, 0xFF)
	sim := b.Clone()
	before := sim.Chip.Ops()
	if err := sim.Loader.Write(sim, single.Slot, upd); err != nil {
		t.Fatal(err)
	}
	want := sim.Chip.Ops() - before

	b.Chip = onlyFlash{b.Chip}
	ops := b.Chip.Ops()
	s := b.StandIn()
	if s.Chip.Ops() != 0 || s.Running == nil || s.Running == b.Running || s.Running.Slot != b.Running.Slot {
		t.Fatalf("stand-in: ops %d running %+v", s.Chip.Ops(), s.Running)
	}
	if err := s.Loader.Write(s, single.Slot, upd); err != nil {
		t.Fatal(err)
	}
	if got := s.Chip.Ops(); got != want {
		t.Fatalf("stand-in counted %d operations, the board %d", got, want)
	}
	if b.Chip.Ops() != ops {
		t.Fatal("the stand-in's write reached the board")
	}
	if h, err := b.VerifySlot(single.Slot); err != nil || h.Version.String() != "1.0.0" {
		t.Fatalf("board after the stand-in's write: %v %v", h.Version, err)
	}
}
