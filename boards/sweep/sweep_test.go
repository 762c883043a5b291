package sweep_test

import (
	"testing"

	"brickyard/boards"
	"brickyard/boards/boardtest"
	"brickyard/boards/image"
	"brickyard/boards/single"
	"brickyard/boards/sweep"
	"brickyard/flash"
)

var geom = flash.Geometry{Size: 128 << 10, SectorSize: 4096, WriteUnit: 4, Erased: 0xFF}

func singleBoard(t *testing.T) *boards.Board {
	t.Helper()
	layout := boards.Layout{{Name: single.Slot, Offset: 0, Size: 64 << 10}}
	b, err := boardtest.Board("sim-single", geom, layout, single.Loader{},
		boardtest.Blob(boardtest.Spec{Board: "sim-single", Version: "1.0.0", PayloadSize: 20 << 10}, 0xFF))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The control group: a single bank rewritten in place bricks when the cut
// lands while the slot is being rewritten, and only then.
func TestSweep_SingleBankBricks(t *testing.T) {
	for _, torn := range []bool{false, true} {
		b := singleBoard(t)
		res, err := sweep.Run(sweep.Config{Factory: b, Torn: torn, Seed: 7,
			Update: boardtest.Blob(boardtest.Spec{Board: "sim-single", Version: "2.0.0", PayloadSize: 20 << 10}, 0xFF)})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("torn=%v ops=%d updated=%d rolled_back=%d bricked=%d", torn, res.Ops, res.Updated, res.RolledBack, res.Bricked)
		if res.Cuts != res.Ops || res.Updated+res.RolledBack+res.Bricked != res.Cuts {
			t.Fatalf("counts do not add up: %+v", res)
		}
		if res.Bricked == 0 {
			t.Fatal("no cut bricked a single-bank board: the injector does not work")
		}
		for _, p := range res.BrickPoints {
			if p.Phase != "write" || p.Partition != single.Slot || p.Reason == "" {
				t.Fatalf("brick outside the slot rewrite: %+v", p)
			}
		}
		// boards.WriteImage erases the whole slot, then programs the
		// image: every operation of the write bricks but a clean cut
		// before the first erase, which leaves the old image whole.
		sectors, programs := (64<<10)/4096, (image.HeaderSize+(20<<10)+image.TrailerSize+4095)/4096
		if res.Ops != sectors+programs {
			t.Fatalf("%d operations, want %d erases then %d programs", res.Ops, sectors, programs)
		}
		wantBricked := res.Ops
		if !torn {
			wantBricked--
		}
		if res.Bricked != wantBricked || res.Updated != 0 {
			t.Fatalf("bricked %d updated %d of %d cuts, want %d and 0", res.Bricked, res.Updated, res.Ops, wantBricked)
		}
		for i, p := range res.BrickPoints {
			kind := "erase"
			if p.Op >= sectors {
				kind = "program"
			}
			if p.Kind != kind || (!torn && p.Op != i+1) || (torn && p.Op != i) {
				t.Fatalf("brick point %d: %+v, want a %s", i, p, kind)
			}
		}
	}
}

func TestSweep_Deterministic(t *testing.T) {
	run := func() sweep.Result {
		res, err := sweep.Run(sweep.Config{Factory: singleBoard(t), Torn: true, Seed: 3,
			Update: boardtest.Blob(boardtest.Spec{Board: "sim-single", Version: "2.0.0", PayloadSize: 9000}, 0xFF)})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := run(), run()
	if a.Bricked != b.Bricked || a.Updated != b.Updated || len(a.BrickPoints) != len(b.BrickPoints) {
		t.Fatalf("same seed, different results: %+v / %+v", a, b)
	}
	for i := range a.BrickPoints {
		if a.BrickPoints[i] != b.BrickPoints[i] {
			t.Fatalf("brick point %d differs: %+v / %+v", i, a.BrickPoints[i], b.BrickPoints[i])
		}
	}
}

func TestSweep_RefusesBadInput(t *testing.T) {
	b := singleBoard(t)
	cases := map[string]sweep.Config{
		"no factory":    {Update: boardtest.Blob(boardtest.Spec{Board: "sim-single", Version: "2.0.0", PayloadSize: 10}, 0xFF)},
		"same version":  {Factory: b, Update: boardtest.Blob(boardtest.Spec{Board: "sim-single", Version: "1.0.0", PayloadSize: 10}, 0xFF)},
		"untrusted key": {Factory: b, Update: boardtest.Blob(boardtest.Spec{Board: "sim-single", Version: "2.0.0", PayloadSize: 10, Key: 1}, 0xFF)},
		"other board":   {Factory: b, Update: boardtest.Blob(boardtest.Spec{Board: "other", Version: "2.0.0", PayloadSize: 10}, 0xFF)},
		"does not fit":  {Factory: b, Update: boardtest.Blob(boardtest.Spec{Board: "sim-single", Version: "2.0.0", PayloadSize: 80 << 10}, 0xFF)},
	}
	for name, cfg := range cases {
		if _, err := sweep.Run(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
