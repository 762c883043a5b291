package flash

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// A chip's state, as bytes, relative to the chip it was cloned from (its
// base: a fleet's factory chip), for a farm that stops and starts again
// with the same devices: the pages that differ from the base's, the
// erase counts and the operation count. A clone that wrote nothing saves
// a few bytes.
//
//	state := "BYFL" 0x01 uvarint(size) uvarint(ops)
//	         uvarint(nruns) (uvarint(start) uvarint(count))*nruns    erase counts as runs
//	         uvarint(npages) (uvarint(index) page bytes)*npages        4096 bytes each
//
// LoadState checks every length before it allocates.

const stateMagic = "BYFL\x01"

// ErrState is wrapped by every error of LoadState.
var ErrState = errors.New("flash: bad chip state")

// AppendState appends c's state relative to base (the chip c was cloned
// from, or any chip of the same geometry) to b.
func (c *Chip) AppendState(b []byte, base *Chip) []byte {
	b = append(b, stateMagic...)
	b = binary.AppendUvarint(b, uint64(c.g.Size))
	b = binary.AppendUvarint(b, c.ops)
	// Erase counts, as runs of equal counts.
	type run struct{ start, n uint32 }
	var runs []run
	for s := 0; s < c.g.Sectors(); s++ {
		n := c.Wear(s)
		if len(runs) == 0 || runs[len(runs)-1].n != n {
			runs = append(runs, run{uint32(s), n})
		}
	}
	if len(runs) == 1 && runs[0].n == 0 {
		runs = nil
	}
	b = binary.AppendUvarint(b, uint64(len(runs)))
	for _, r := range runs {
		b = binary.AppendUvarint(b, uint64(r.start))
		b = binary.AppendUvarint(b, uint64(r.n))
	}
	var diff []int
	pages := c.g.Size / PageSize
	for i := 0; i < pages; i++ {
		p := c.pageAt(i)
		if base != nil && base.g == c.g {
			if q := base.pageAt(i); p == q || p.b == q.b {
				continue
			}
		}
		diff = append(diff, i)
	}
	b = binary.AppendUvarint(b, uint64(len(diff)))
	for _, i := range diff {
		b = binary.AppendUvarint(b, uint64(i))
		b = append(b, c.pageAt(i).b[:]...)
	}
	return b
}

// LoadState returns a chip with base's geometry holding the state data
// says: base's pages but those data carries, its erase counts and
// operation count. base is not changed.
func LoadState(base *Chip, data []byte) (*Chip, error) {
	bad := func(format string, args ...any) (*Chip, error) {
		return nil, fmt.Errorf("%w: %s", ErrState, fmt.Sprintf(format, args...))
	}
	rest, ok := bytes.CutPrefix(data, []byte(stateMagic))
	if !ok {
		return bad("not a chip state (magic)")
	}
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return 0, false
		}
		rest = rest[n:]
		return v, true
	}
	size, ok1 := next()
	ops, ok2 := next()
	nruns, ok3 := next()
	switch {
	case !ok1 || !ok2 || !ok3:
		return bad("truncated header")
	case size != uint64(base.g.Size):
		return bad("a %d-byte chip, not the base's %d", size, base.g.Size)
	case nruns > uint64(base.g.Sectors()):
		return bad("%d erase-count runs for %d sectors", nruns, base.g.Sectors())
	}
	c := base.Clone()
	c.ops, c.off = ops, false
	c.wear = nil
	if nruns > 0 {
		t := newWearTable(base.g.Sectors())
		t.runs = t.runs[:0]
		prev := -1
		for range nruns {
			start, ok1 := next()
			n, ok2 := next()
			if !ok1 || !ok2 || int(start) <= prev || start >= uint64(base.g.Sectors()) || n > 1<<32-1 || (prev < 0 && start != 0) {
				return bad("erase-count runs out of order or range")
			}
			prev = int(start)
			t.runs = append(t.runs, wearRun{uint32(start), uint32(n)})
		}
		if len(t.runs) > maxWearRuns {
			dense := make([]uint32, t.sectors)
			for s := range dense {
				dense[s] = t.get(s)
			}
			t.runs, t.dense = nil, dense
		}
		c.wear = t
	}
	npages, ok := next()
	pages := base.g.Size / PageSize
	if !ok || npages > uint64(pages) || npages > uint64(len(rest))/PageSize {
		return bad("%d pages for a chip of %d", npages, pages)
	}
	prev := -1
	for range npages {
		i, ok := next()
		if !ok || int(i) <= prev || i >= uint64(pages) {
			return bad("page numbers out of order or range")
		}
		if len(rest) < PageSize {
			return bad("truncated page %d", i)
		}
		prev = int(i)
		p := c.writablePage(int(i))
		copy(p.b[:], rest[:PageSize])
		rest = rest[PageSize:]
	}
	if len(rest) != 0 {
		return bad("%d bytes after the pages", len(rest))
	}
	return c, nil
}
