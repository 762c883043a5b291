package mcuboot

import "testing"

// BenchmarkBoot is a boot of a stable board: trailers and status read,
// no swap, primary verified.
func BenchmarkBoot(b *testing.B) {
	for _, r := range []rig{rigs[0], rigs[4]} {
		b.Run(r.String(), func(b *testing.B) {
			bd := r.board(b, Options{})
			ops := bd.Chip.Ops()
			b.ReportAllocs()
			for b.Loop() {
				bd.Running = nil
				if _, err := bd.Loader.Boot(bd); err != nil {
					b.Fatal(err)
				}
			}
			if bd.Chip.Ops() != ops {
				b.Fatal("a stable boot wrote to flash")
			}
		})
	}
}

// BenchmarkSwap is the boot that performs a test swap, on a fresh clone of
// a board with the update pending each time.
func BenchmarkSwap(b *testing.B) {
	for _, r := range []rig{rigs[0], rigs[4]} {
		b.Run(r.String(), func(b *testing.B) {
			pending := r.pending(b, Options{})
			b.ReportAllocs()
			var ops uint64
			for b.Loop() {
				bd := pending.Clone()
				before := bd.Chip.Ops()
				res, err := bd.Loader.Boot(bd)
				if err != nil || !res.Trial {
					b.Fatalf("%+v, %v", res, err)
				}
				ops = bd.Chip.Ops() - before
			}
			b.ReportMetric(float64(ops), "flash-ops/swap")
		})
	}
}
