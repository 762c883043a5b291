package boards

import (
	"math/rand/v2"

	"brickyard/flash"
)

// Flash is a board's flash as the bootloader models and the device use
// it: a simulated chip (*flash.Chip), or a real board's flash behind a
// serial link (boards/bench). Its methods mean what *flash.Chip's mean:
//
//   - Read is not an operation: it neither counts nor cuts, and fails
//     while power is lost.
//   - Program, ProgramBlob and Erase are one operation each, counted by
//     Ops, the most recent one given by LastOp. While power is lost they
//     fail with an error wrapping flash.ErrPowerLost.
//   - Program keeps nothing of data once it returns, and Read nothing of
//     buf: callers reuse their buffers.
//   - ArmCut arranges for power to be lost at operation at (before it,
//     after it, or torn part-way); CutNow loses power at once, between
//     operations; PowerOn restores power and disarms a pending cut.
//
// A Flash that is not a *flash.Chip cannot be cloned (Board.CanClone):
// whatever needs a copy of the board (a dry run counting the operations
// ahead, the sweep's fresh start for every cut) does it another way.
type Flash interface {
	Geometry() flash.Geometry
	Read(addr int, buf []byte) error
	Program(addr int, data []byte) error
	ProgramBlob(addr int, b *flash.Blob, off, n int) error
	Erase(addr int) error
	Ops() uint64
	LastOp() flash.Op
	Powered() bool
	PowerOn()
	CutNow()
	ArmCut(at uint64, mode flash.CutMode, rng *rand.Rand) error
}

var _ Flash = (*flash.Chip)(nil)

// BootCutter is a Flash that cannot be cloned and places a power cut
// within the board's next boot itself: a real board's boot cannot be
// rehearsed on a copy to count its operations. ArmBootCut arms a cut at
// fraction (0 ≤ fraction < 1) of the next boot, lost at the next PowerOn
// that follows a completed boot or a cut; how the fraction is measured is
// the implementation's (boards/bench: of the boot's duration).
type BootCutter interface {
	ArmBootCut(fraction float64, mode flash.CutMode, rng *rand.Rand) error
}

// SeededCutter is a Flash that can be given the seeds of a torn cut's
// generator instead of the generator: a flash at the far end of a link,
// where the cut is made. ArmCutSeed(at, mode, s1, s2) tears exactly as
// ArmCut(at, mode, rand.New(rand.NewPCG(s1, s2))) does on a *flash.Chip;
// boards/sweep uses it when the flash has it, so that a sweep over a link
// and one on a simulated board cut alike.
type SeededCutter interface {
	ArmCutSeed(at uint64, mode flash.CutMode, seed1, seed2 uint64) error
}

// Offliner is a Flash that can become unreachable: a real board whose
// link gave up (boards/bench). Offline says why; nil while it is not.
type Offliner interface {
	Offline() error
}
