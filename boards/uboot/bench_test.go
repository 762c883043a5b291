package uboot_test

import (
	"testing"

	"brickyard/boards/uboot"
)

// BenchmarkBoot is a stable board's power-on: load and select the env,
// count nothing, verify and boot A. No flash operation.
func BenchmarkBoot(b *testing.B) {
	board, l := newBoard(b, uboot.Options{})
	ops := board.Chip.Ops()
	b.ReportAllocs()
	for b.Loop() {
		board.Running = nil
		r, err := l.Boot(board)
		if err != nil || r.Slot != uboot.SlotA || r.Trial {
			b.Fatalf("boot: %+v, %v", r, err)
		}
	}
	if board.Chip.Ops() != ops {
		b.Fatalf("stable boots wrote the flash")
	}
}

// BenchmarkBootTrial is a trial boot: one saveenv of the bootcount.
func BenchmarkBootTrial(b *testing.B) {
	board, l := newBoard(b, uboot.Options{BootLimit: 255})
	update(b, board, blob(spec("2.0.0")))
	b.ReportAllocs()
	for b.Loop() {
		fresh := board.Clone()
		if _, err := l.Boot(fresh); err != nil {
			b.Fatal(err)
		}
	}
}
