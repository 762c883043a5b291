package uboot_test

import (
	"testing"

	"brickyard/boards"
	"brickyard/boards/boardtest"
	"brickyard/boards/sweep"
	"brickyard/boards/uboot"
	"brickyard/flash"
)

// TestSweep_EveryCut_UpdatedOrRolledBack cuts power at every flash
// operation of an update (write B, activate, trial boot, confirm, boot),
// before the operation and torn part-way with several seeds: no cut may
// brick the board, every one ends updated or rolled back.
func TestSweep_EveryCut_UpdatedOrRolledBack(t *testing.T) {
	chips := []struct {
		name   string
		g      flash.Geometry
		layout boards.Layout
		opt    uboot.Options
	}{
		{"4KiBSectors_Env8KiB", norGeometry, norLayout(), uboot.Options{}},
		{"4KiBSectors_Env4KiB_BootLimit3", norGeometry, norLayout(), uboot.Options{EnvSize: 0x1000, BootLimit: 3}},
		{"64KiBSectors_Env8KiB_SavedTail", bigSectorGeometry, bigSectorLayout(), uboot.Options{}},
	}
	for _, chip := range chips {
		t.Run(chip.name, func(t *testing.T) {
			factory, err := boardtest.Board(boardID, chip.g, chip.layout, newLoader(t, chip.opt), blob(spec("1.0.0")))
			if err != nil {
				t.Fatal(err)
			}
			runs := []struct {
				torn bool
				seed uint64
			}{{false, 0}, {true, 1}, {true, 2}, {true, 3}, {true, 0xB007}, {true, 0x5EED}}
			for _, run := range runs {
				res, err := sweep.Run(sweep.Config{Factory: factory, Update: blob(spec("2.0.0")), Torn: run.torn, Seed: run.seed})
				if err != nil {
					t.Fatalf("torn=%v seed=%d: %v", run.torn, run.seed, err)
				}
				t.Logf("torn=%-5v seed=%-5d ops=%d cuts=%d updated=%d rolled_back=%d bricked=%d phases=%+v",
					run.torn, run.seed, res.Ops, res.Cuts, res.Updated, res.RolledBack, res.Bricked, res.Phases)
				if res.Bricked != 0 {
					t.Errorf("torn=%v seed=%d: %d cuts bricked the board: %+v", run.torn, run.seed, res.Bricked, res.BrickPoints)
				}
				if res.Cuts != res.Ops || res.Updated+res.RolledBack != res.Cuts {
					t.Errorf("torn=%v seed=%d: %d ops, %d cuts, %d updated + %d rolled back", run.torn, run.seed, res.Ops, res.Cuts, res.Updated, res.RolledBack)
				}
				if res.Updated == 0 || res.RolledBack == 0 {
					t.Errorf("torn=%v seed=%d: expected both outcomes, got %d updated, %d rolled back", run.torn, run.seed, res.Updated, res.RolledBack)
				}
			}
		})
	}
}
