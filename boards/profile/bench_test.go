package profile_test

import (
	"testing"

	"brickyard/boards/boardtest"
	"brickyard/boards/sweep"
)

// BenchmarkSweep: the full power-cut sweep of each built-in profile with
// 64 KiB images, clean and torn. One op is one whole sweep; ops/sweep
// reports how many cuts it made.
func BenchmarkSweep(b *testing.B) {
	set := builtin(b)
	for _, name := range set.Names() {
		p, _ := set.Get(name)
		old := boardtest.Blob(boardtest.Spec{Board: name, Version: "1.0.0", PayloadSize: 64 << 10}, p.Flash.Erased)
		upd := boardtest.Blob(boardtest.Spec{Board: name, Version: "2.0.0", PayloadSize: 64 << 10}, p.Flash.Erased)
		factory, err := p.Provision(boardtest.Keyring(), old)
		if err != nil {
			b.Fatal(err)
		}
		for _, torn := range []bool{false, true} {
			mode := map[bool]string{false: "clean", true: "torn"}[torn]
			b.Run(name+"/"+mode, func(b *testing.B) {
				var cuts int
				for b.Loop() {
					res, err := sweep.Run(sweep.Config{Factory: factory, Update: upd, Torn: torn, Seed: 1})
					if err != nil {
						b.Fatal(err)
					}
					cuts = res.Cuts
				}
				b.ReportMetric(float64(cuts), "cuts/sweep")
			})
		}
	}
}
