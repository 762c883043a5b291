package espota_test

import (
	"fmt"
	"testing"

	"brickyard/boards/espota"
	"brickyard/boards/image"
	"brickyard/boards/sweep"
	"brickyard/flash"
)

var sweepSetups = []struct {
	name string
	s    setup
}{
	{"wu4", setup{writeUnit: 4, erased: 0xFF}},
	{"wu1", setup{writeUnit: 1, erased: 0xFF}},
	{"wu32", setup{writeUnit: 32, erased: 0xFF}},
	{"wu4-erased00", setup{writeUnit: 4, erased: 0x00}},
	{"factory", setup{writeUnit: 4, erased: 0xFF, factory: true}},
	{"factory-state", setup{writeUnit: 1, erased: 0xFF, opts: espota.Options{FactoryState: true}}},
}

// Every cut of an update, clean and torn: never bricked. Cuts end updated
// or rolled back; the expected phase sizes are those of the package doc.
func TestSweep_NeverBricks(t *testing.T) {
	for _, c := range sweepSetups {
		f := c.s.board(t)
		upd := c.s.image("2.0.0", 2, 0)
		for _, torn := range []bool{false, true} {
			seeds := []uint64{0}
			if torn {
				seeds = []uint64{1, 2, 3, 4, 5}
			}
			for _, seed := range seeds {
				t.Run(fmt.Sprintf("%s/torn=%v/seed=%d", c.name, torn, seed), func(t *testing.T) {
					res, err := sweep.Run(sweep.Config{Factory: f, Update: upd, Torn: torn, Seed: seed})
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("ops %d cuts %d updated %d rolled_back %d bricked %d phases %+v",
						res.Ops, res.Cuts, res.Updated, res.RolledBack, res.Bricked, res.Phases)
					if res.Bricked != 0 {
						t.Errorf("bricked %d: %+v", res.Bricked, res.BrickPoints)
					}
					if res.Cuts != res.Ops || res.Updated+res.RolledBack != res.Cuts {
						t.Errorf("counts do not add up: %+v", res)
					}
					// write: an erase per slot sector, a program per image sector;
					// each otadata step: erase + program.
					imgLen := image.HeaderSize + payload + image.TrailerSize
					want := map[string]int{"write": slotSize/sector + (imgLen+sector-1)/sector,
						"activate": 2, "trial-boot": 2, "confirm": 2, "boot": 0}
					for _, p := range res.Phases {
						if p.Ops != want[p.Name] {
							t.Errorf("phase %s: %d ops, want %d", p.Name, p.Ops, want[p.Name])
						}
					}
					// Clean cuts: only a cut before the trial boot's erase keeps the
					// update (the NEW entry is promoted on the next boot).
					if !torn && res.Updated != 1 {
						t.Errorf("clean cuts: updated %d, want 1", res.Updated)
					}
				})
			}
		}
	}
}

// The mark-valid hazard shows up in the sweep: a clean cut at either
// operation of the confirm phase ends rolled back — before the erase the
// entry is still PENDING_VERIFY and is aborted; after it the active sector
// is gone and the older one wins, although the new app was healthy and
// confirming.
func TestSweep_MarkValidHazardRollsBack(t *testing.T) {
	for _, c := range sweepSetups {
		t.Run(c.name, func(t *testing.T) {
			f := c.s.board(t)
			upd := c.s.image("2.0.0", 2, 0)
			res, err := sweep.Run(sweep.Config{Factory: f, Update: upd})
			if err != nil {
				t.Fatal(err)
			}
			var confirm sweep.Phase
			for _, p := range res.Phases {
				if p.Name == "confirm" {
					confirm = p
				}
			}
			if confirm.Ops == 0 {
				t.Fatalf("no flash operation in the confirm phase: %+v", res.Phases)
			}
			rolledBack, tornUpdated := 0, 0
			for k := confirm.First; k < confirm.First+confirm.Ops; k++ {
				if got := settle(t, cutUpdate(t, f, upd, k, flash.CutBefore, 0)); got != "1.0.0" {
					t.Errorf("clean cut at confirm op %d: runs %s, want the previous app", k-confirm.First, got)
				} else {
					rolledBack++
				}
				// Torn cuts never brick (settle fails the test if they do). They
				// may end updated: a torn program that lands the whole entry, or a
				// half-erased sector reading as seq 0 (see the package doc).
				for seed := range uint64(8) {
					switch settle(t, cutUpdate(t, f, upd, k, flash.CutTorn, seed)) {
					case "1.0.0":
						rolledBack++
					case "2.0.0":
						tornUpdated++
					}
				}
			}
			t.Logf("confirm phase: ops %d..%d: rolled_back %d, torn cuts updated %d", confirm.First, confirm.First+confirm.Ops-1, rolledBack, tornUpdated)
			if rolledBack == 0 {
				t.Error("no cut in the confirm phase rolled back: the mark-valid hazard is missing")
			}
		})
	}
}
