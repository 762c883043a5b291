package bench

import (
	"bytes"
	"errors"
	"fmt"

	"brickyard/boards/bench/wire"
	"brickyard/boards/sweep"
	"brickyard/flash"
)

// Snapshot is a bench board's flash at one moment: the digest of every
// sector and the content of every sector that is not erased.
type Snapshot struct {
	digests [][wire.DigestLen]byte
	content [][]byte // nil: erased
}

// digests asks the board for the digest of every sector.
func (b *Board) digests() ([][wire.DigestLen]byte, error) {
	f := b.flash
	ss, n := f.g.SectorSize, f.g.Sectors()
	out := make([][wire.DigestLen]byte, 0, n)
	for s := 0; s < n; s += wire.MaxDigest {
		m := min(wire.MaxDigest, n-s)
		resp, err := b.do(wire.TypeHash, 0, wire.HashReq{Addr: uint32(s * ss), Len: uint32(m * ss), Unit: uint32(ss)}.Marshal())
		if err != nil {
			return nil, err
		}
		if len(resp.Payload) != m*wire.DigestLen {
			return nil, fmt.Errorf("bench: hash answer of %d bytes for %d sectors", len(resp.Payload), m)
		}
		for i := range m {
			var d [wire.DigestLen]byte
			copy(d[:], resp.Payload[i*wire.DigestLen:])
			out = append(out, d)
		}
	}
	return out, nil
}

// Snapshot records the board's flash as it is now. Sectors that are not
// erased and not in the mirror are read over the link.
func (b *Board) Snapshot() (*Snapshot, error) {
	f := b.flash
	if f.off {
		return nil, errors.New("bench: snapshot of a board without power")
	}
	ds, err := b.digests()
	if err != nil {
		return nil, fmt.Errorf("bench: snapshot: %w", err)
	}
	erased := digest(f.m.erased)
	s := &Snapshot{digests: ds, content: make([][]byte, len(ds))}
	for i, d := range ds {
		if d == erased {
			continue
		}
		a := i * f.g.SectorSize
		if f.m.sec[i] == nil || digest(f.m.sec[i]) != d {
			f.m.forget(a, f.g.SectorSize)
		}
		f.m.suspect[i] = false // checked against d just now
		if err := f.load(a, f.g.SectorSize); err != nil {
			return nil, fmt.Errorf("bench: snapshot: %w", err)
		}
		if digest(f.m.sec[i]) != d {
			return nil, fmt.Errorf("bench: snapshot: sector %d changed while it was read", i)
		}
		s.content[i] = bytes.Clone(f.m.sec[i])
	}
	return s, nil
}

// Restore brings the board back to s: it powers the board if a cut left
// it off, rewrites every sector whose digest differs (erase, then program
// the content), and resets it; the board then runs the boot that follows
// (taken by Restore). The board's security counter is one-time
// programmable and is not restored.
func (b *Board) Restore(s *Snapshot) error {
	f, bb := b.flash, b.board
	if f.off {
		f.PowerOn()
		if f.off {
			return fmt.Errorf("bench: restore: %s", f.why)
		}
	}
	if f.pending {
		if _, err := bb.Loader.Boot(bb); err != nil {
			return fmt.Errorf("bench: restore: boot after power-on: %w", err)
		}
	}
	ds, err := b.digests()
	if err != nil {
		return fmt.Errorf("bench: restore: %w", err)
	}
	if len(ds) != len(s.digests) {
		return errors.New("bench: restore: a snapshot of another board")
	}
	ss := f.g.SectorSize
	for i := range ds {
		if ds[i] == s.digests[i] {
			continue
		}
		if err := f.Erase(i * ss); err != nil {
			return fmt.Errorf("bench: restore sector %d: %w", i, err)
		}
		if s.content[i] != nil {
			if err := f.Program(i*ss, s.content[i]); err != nil {
				return fmt.Errorf("bench: restore sector %d: %w", i, err)
			}
		}
	}
	if err := b.Reset(false); err != nil {
		return fmt.Errorf("bench: restore: reset: %w", err)
	}
	r, err := bb.Loader.Boot(bb)
	if err != nil {
		return fmt.Errorf("bench: restore: boot: %w", err)
	}
	if r.Bricked {
		return fmt.Errorf("bench: restore: the restored board does not boot: %s", r.Reason)
	}
	return nil
}

// Sweep runs boards/sweep's exhaustive power-cut sweep on the board:
// provision it with old (brickyard's model writes the image and the
// loader's factory metadata over the link, then the board boots), snapshot
// that factory state, and sweep update, restoring the snapshot before
// every cut. Cuts are the board's rig's when it has one (exact, at every
// operation, the bootloader's included); without one only the link's
// operations can be cut, and the sweep stops with an error at the first
// cut it cannot place.
func (b *Board) Sweep(old, update *flash.Blob, torn bool, seed uint64) (sweep.Result, error) {
	bb := b.board
	if b.caps&wire.CapCut == 0 || b.cfg.HostCuts {
		return sweep.Result{}, errors.New("bench: an exhaustive sweep needs the board's fault rig (wire.CapCut): the bootloader's own writes cannot be cut from the link")
	}
	if b.power == nil {
		return sweep.Result{}, errors.New("bench: a sweep needs power control: every cut is followed by a power cycle")
	}
	if f := b.flash; f.off {
		f.PowerOn()
	}
	if b.flash.pending {
		if _, err := bb.Loader.Boot(bb); err != nil {
			return sweep.Result{}, err
		}
	}
	if err := bb.Loader.Provision(bb, old); err != nil {
		return sweep.Result{}, fmt.Errorf("bench: provision: %w", err)
	}
	if err := b.Reset(false); err != nil {
		return sweep.Result{}, err
	}
	r, err := bb.Loader.Boot(bb)
	if err != nil {
		return sweep.Result{}, fmt.Errorf("bench: first boot: %w", err)
	}
	if r.Bricked || r.Trial {
		return sweep.Result{}, fmt.Errorf("bench: first boot after provisioning: %s", bootWord(r.Bricked, r.Trial, r.Reason))
	}
	snap, err := b.Snapshot()
	if err != nil {
		return sweep.Result{}, err
	}
	return sweep.Run(sweep.Config{Factory: bb, Update: update, Torn: torn, Seed: seed, Restore: func() error { return b.Restore(snap) }})
}

func bootWord(bricked, trial bool, reason string) string {
	switch {
	case bricked:
		return "bricked: " + reason
	case trial:
		return "a trial boot"
	}
	return "booted"
}
