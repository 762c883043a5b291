package mcuboot

import (
	"fmt"
	"testing"

	"brickyard/boards/sweep"
	"brickyard/flash"
)

// TestSweep_NoCutBricks runs the exhaustive power-cut sweep (write,
// activate, trial boot with the test swap, confirm, boot) on every rig,
// cutting before each operation and tearing it with several seeds. No
// cut may brick the board.
func TestSweep_NoCutBricks(t *testing.T) {
	for _, r := range sweepRigs() {
		for _, opts := range []Options{{}, {Permanent: true}} {
			factory := r.board(t, opts)
			for _, m := range sweepModes() {
				res, err := sweep.Run(sweep.Config{Factory: factory, Update: r.image("2.0.0", 2),
					Torn: m.mode == flash.CutTorn, Seed: m.seed})
				if err != nil {
					t.Fatalf("%v %+v %v: %v", r, opts, m, err)
				}
				t.Logf("%v permanent=%v %v: %d cuts: updated %d, rolled back %d, bricked %d; per phase (ops=u/r/b):%s",
					r, opts.Permanent, m, res.Cuts, res.Updated, res.RolledBack, res.Bricked, phases(res))
				if res.Bricked != 0 || res.Cuts != res.Ops {
					t.Errorf("%v %+v %v: %d bricked: %+v", r, opts, m, res.Bricked, res.BrickPoints)
				}
			}
		}
	}
}

// phases prints each phase as name:ops=updated/rolled-back/bricked.
func phases(res sweep.Result) string {
	out := ""
	for _, p := range res.Phases {
		out += fmt.Sprintf(" %s:%d=%d/%d/%d", p.Name, p.Ops, p.Updated, p.RolledBack, p.Bricked)
	}
	return out
}
