// Package sweep cuts power at every flash operation of a firmware update
// and reports what each cut leaves: the board updated, rolled back, or
// bricked.
//
// The procedure, the one MCUboot's simulator and littlefs's power-loss
// runner use:
//
//  1. Run one complete update on a copy of the factory board and count its
//     flash operations: Write the new image to the first slot that is not
//     running, Activate it, Boot (the trial boot), Confirm, Boot again.
//  2. For every operation k of that run, start again from the factory board,
//     cut power at operation k (before it, or torn part-way), power on, and
//     boot until the board is stable, with the loader's own retries: a
//     healthy image on trial confirms itself, as its application would.
//  3. Classify: running the new version is updated, the old one rolled back;
//     no bootable image, or no stable boot within MaxBoots, is bricked.
//
// A run is deterministic: torn bits for cut k come from a generator seeded
// with (Seed, k).
package sweep

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"brickyard/boards"
	"brickyard/boards/image/formats"
	"brickyard/flash"
)

// Config is one sweep.
type Config struct {
	Factory  *boards.Board // provisioned and running the old image; not modified
	Update   *flash.Blob   // the new signed image
	Torn     bool          // tear the cut operation instead of cutting before it
	Seed     uint64
	MaxBoots int // boots allowed to settle after a cut; 0 means 16

	// Restore, for a board that cannot be cloned (a real one on a link,
	// boards/bench), brings Factory back to its factory state, booted and
	// running its old image, before the uninterrupted run and before every
	// cut; the sweep then runs on Factory itself. A flash that is a
	// boards.SeededCutter is armed with the seeds (Seed, k) instead of a
	// generator, so that its torn bits are a simulated chip's.
	Restore func() error
}

// Outcomes.
const (
	Updated    = "updated"
	RolledBack = "rolled_back"
	Bricked    = "bricked"
)

// Point is one cut that bricked the board.
type Point struct {
	Op        int    `json:"op"`        // operation index within the update, from 0
	Phase     string `json:"phase"`     // write, activate, trial-boot, confirm, boot
	Kind      string `json:"kind"`      // program or erase
	Addr      int    `json:"addr"`      // chip address of the operation
	Len       int    `json:"len"`       // bytes
	Partition string `json:"partition"` // partition holding Addr
	Reason    string `json:"reason"`    // why the board did not boot
}

// Result counts the outcomes of every cut.
type Result struct {
	Board       string  `json:"board"`
	Bootloader  string  `json:"bootloader"`
	Torn        bool    `json:"torn"`
	Seed        uint64  `json:"seed"`
	Ops         int     `json:"ops"`
	Cuts        int     `json:"cuts"`
	Updated     int     `json:"updated"`
	RolledBack  int     `json:"rolled_back"`
	Bricked     int     `json:"bricked"`
	Phases      []Phase `json:"phases"`
	BrickPoints []Point `json:"brick_points"`
}

// Phase is a step of the update, the operations it performs, and what the
// cuts at those operations led to.
type Phase struct {
	Name       string `json:"name"`
	First      int    `json:"first_op"`
	Ops        int    `json:"ops"`
	Updated    int    `json:"updated"`
	RolledBack int    `json:"rolled_back"`
	Bricked    int    `json:"bricked"`
}

// Run performs the sweep.
func Run(cfg Config) (Result, error) {
	if cfg.MaxBoots <= 0 {
		cfg.MaxBoots = 16
	}
	f := cfg.Factory
	if f == nil || f.Running == nil {
		return Result{}, errors.New("sweep: the factory board must be booted and running")
	}
	newHdr, err := formats.Verify(blobReader{cfg.Update}, int64(cfg.Update.Len()), f.Keys, f.ImageRules(), f.Policy())
	if err != nil {
		return Result{}, fmt.Errorf("sweep: the update image does not verify on this board: %w", err)
	}
	oldV, newV := f.Running.Image.VersionString(), newHdr.VersionString()
	if oldV == newV && newV == "" {
		return Result{}, fmt.Errorf("sweep: neither image states a version, so their outcomes cannot be told apart (a FIT needs a root \"version\" property)")
	}
	if oldV == newV {
		return Result{}, fmt.Errorf("sweep: the update has the running version %s", newV)
	}
	res := Result{Board: f.ID, Bootloader: f.Loader.Name(), Torn: cfg.Torn, Seed: cfg.Seed}

	fresh := func() (*boards.Board, error) {
		if cfg.Restore == nil {
			return f.Clone(), nil
		}
		if err := cfg.Restore(); err != nil {
			return nil, fmt.Errorf("sweep: restore the factory state: %w", err)
		}
		return f, nil
	}
	dry, err := fresh()
	if err != nil {
		return res, err
	}
	base := dry.Chip.Ops()
	phases, err := update(dry, cfg.Update)
	if err != nil {
		return res, fmt.Errorf("sweep: the uninterrupted update failed: %w", err)
	}
	res.Phases = phases
	res.Ops = int(dry.Chip.Ops() - base) // the update's operations, not the settling boots'
	if out, why := settle(dry, oldV, newV, cfg.MaxBoots); out != Updated {
		return res, fmt.Errorf("sweep: the uninterrupted update ended %s: %s", out, why)
	}

	mode := flash.CutBefore
	if cfg.Torn {
		mode = flash.CutTorn
	}
	for k := range res.Ops {
		b, err := fresh()
		if err != nil {
			return res, err
		}
		at := b.Chip.Ops() + uint64(k)
		if sc, ok := b.Chip.(boards.SeededCutter); ok {
			err = sc.ArmCutSeed(at, mode, cfg.Seed, uint64(k))
		} else {
			err = b.Chip.ArmCut(at, mode, rand.New(rand.NewPCG(cfg.Seed, uint64(k))))
		}
		if err != nil {
			return res, err
		}
		_, err = update(b, cfg.Update)
		if !errors.Is(err, flash.ErrPowerLost) {
			return res, fmt.Errorf("sweep: cut at op %d did not land (err %v): the update is not deterministic", k, err)
		}
		op := b.Chip.LastOp()
		b.PowerOn()
		out, why := settle(b, oldV, newV, cfg.MaxBoots)
		res.Cuts++
		ph := &res.Phases[phaseOf(phases, k)]
		switch out {
		case Updated:
			res.Updated++
			ph.Updated++
		case RolledBack:
			res.RolledBack++
			ph.RolledBack++
		default:
			res.Bricked++
			ph.Bricked++
			part, _ := b.Layout.At(op.Addr)
			res.BrickPoints = append(res.BrickPoints, Point{Op: k, Phase: ph.Name, Kind: op.Kind.String(),
				Addr: op.Addr, Len: op.Len, Partition: part.Name, Reason: why})
		}
	}
	return res, nil
}

// update runs the complete update and returns the operations of each phase.
// It stops at the first error (a power cut).
func update(b *boards.Board, img *flash.Blob) ([]Phase, error) {
	slot := target(b)
	boot := func() error {
		b.Running = nil // a reset: RAM is gone
		_, err := b.Loader.Boot(b)
		return err
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"write", func() error { return b.Loader.Write(b, slot, img) }},
		{"activate", func() error { return b.Loader.Activate(b, slot) }},
		{"trial-boot", boot},
		{"confirm", func() error { return b.Loader.Confirm(b) }},
		{"boot", boot},
	}
	base := int(b.Chip.Ops())
	var phases []Phase
	for _, s := range steps {
		first := int(b.Chip.Ops()) - base
		err := s.do()
		phases = append(phases, Phase{Name: s.name, First: first, Ops: int(b.Chip.Ops()) - base - first})
		if err != nil {
			return phases, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return phases, nil
}

// target is the first slot that is not running: where an updater writes.
func target(b *boards.Board) string {
	slots := b.Loader.Slots()
	for _, s := range slots {
		if b.Running == nil || s != b.Running.Slot {
			return s
		}
	}
	return slots[0]
}

// settle boots until the board runs a confirmed image, confirming a healthy
// image on trial as its application would.
func settle(b *boards.Board, oldV, newV string, maxBoots int) (outcome, reason string) {
	for range maxBoots {
		b.Running = nil
		r, err := b.Loader.Boot(b)
		switch {
		case err != nil:
			return Bricked, fmt.Sprintf("boot failed: %v", err)
		case r.Bricked:
			return Bricked, r.Reason
		case r.Trial && !r.Image.HealthFail():
			if err := b.Loader.Confirm(b); err != nil {
				return Bricked, fmt.Sprintf("confirm failed: %v", err)
			}
			continue
		case r.Trial:
			continue // the application fails its health check: reset
		}
		switch {
		case r.Image.VersionString() == newV:
			return Updated, ""
		case r.Image.VersionString() == oldV:
			return RolledBack, ""
		}
		return Bricked, fmt.Sprintf("booted unexpected version %s", r.Image.VersionString())
	}
	return Bricked, fmt.Sprintf("no stable boot within %d boots", maxBoots)
}

// phaseOf is the index of the phase holding operation op.
func phaseOf(phases []Phase, op int) int {
	for i, p := range phases {
		if op >= p.First && op < p.First+p.Ops {
			return i
		}
	}
	return len(phases) - 1
}

// blobReader reads a Blob as an io.ReaderAt.
type blobReader struct{ b *flash.Blob }

func (r blobReader) ReadAt(buf []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(buf)) > int64(r.b.Len()) {
		return 0, fmt.Errorf("read at %d+%d outside a %d-byte image: %w", off, len(buf), r.b.Len(), flash.ErrOutOfRange)
	}
	r.b.ReadAt(buf, int(off))
	return len(buf), nil
}
