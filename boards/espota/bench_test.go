package espota_test

import "testing"

// BenchmarkBoot is the boot of a stable board: read otadata, no writes,
// verify the image (SHA-256 of ~20 KiB and an Ed25519 check) and run it.
func BenchmarkBoot(b *testing.B) {
	s := defaultSetup
	board := s.board(b)
	update(b, board, s.image("2.0.0", 1, 0))
	boot(b, board)
	if err := board.Loader.Confirm(board); err != nil {
		b.Fatal(err)
	}
	ops := board.Chip.Ops()
	b.ReportAllocs()
	for b.Loop() {
		if r, err := board.Loader.Boot(board); err != nil || r.Trial || r.Slot != "ota_1" {
			b.Fatalf("boot %+v: %v", r, err)
		}
	}
	if board.Chip.Ops() != ops {
		b.Fatalf("a stable boot wrote to flash")
	}
}
