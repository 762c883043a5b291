package flash

import "slices"

// Wear: a chip's erase counts, one per sector.
//
// Chips erase whole images at a time, every sector of an image as often as
// the others, so the counts are kept as runs: runs[i].n is the count of
// every sector from runs[i].start up to the next run's start (or the end
// of the chip). A chip that installed two images into two banks has one or
// two runs; one that never erased has no table at all. A chip whose erases
// are so scattered that its runs would take more room than one uint32 per
// sector, or more than maxWearRuns runs, switches for good to a dense table
// of one count per sector. (The cap bounds the cost of an erase, which may
// move every run after the one it splits.)
//
// A frozen table is shared by clones and never written again; a chip that
// erases first copies it, as it does a frozen page.
//
// Invariants of the runs form: runs[0].start == 0; starts strictly
// increase and are below the sector count; neighbouring runs have
// different counts.

const maxWearRuns = 512

type wearTable struct {
	frozen  bool
	sectors uint32    // the chip's sector count
	runs    []wearRun // the runs form; nil once dense
	dense   []uint32  // the dense form: the count of sector s is dense[s]
}

type wearRun struct {
	start uint32 // first sector (a chip has at most 1 GiB / 256 sectors)
	n     uint32 // erase count of each sector in the run
}

// newWearTable returns the table of a chip of sectors sectors, every count
// zero.
func newWearTable(sectors int) *wearTable {
	return &wearTable{sectors: uint32(sectors), runs: append(make([]wearRun, 0, 4), wearRun{})}
}

// copy returns an unfrozen copy of t.
func (t *wearTable) copy() *wearTable {
	return &wearTable{sectors: t.sectors, runs: slices.Clone(t.runs), dense: slices.Clone(t.dense)}
}

// get is the erase count of sector s, which must exist.
func (t *wearTable) get(s int) uint32 {
	if t.dense != nil {
		return t.dense[s]
	}
	return t.runs[t.find(s)].n
}

// find returns the index of the run holding sector s.
func (t *wearTable) find(s int) int {
	runs := t.runs
	lo, hi := 0, len(runs) // runs[lo].start <= s < runs[hi].start
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if int(runs[m].start) <= s {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}

// inc adds one to the count of sector s, which must exist.
func (t *wearTable) inc(s int) {
	if t.dense != nil {
		t.dense[s]++
		return
	}
	i := t.find(s)
	r := t.runs[i]
	end := int(t.sectors)
	if i+1 < len(t.runs) {
		end = int(t.runs[i+1].start)
	}
	v := r.n + 1
	// Run i becomes up to three runs: its sectors before s, s itself, its
	// sectors after s. Sector s joins the run before or after it instead
	// when that run already has count v.
	head, tail := int(r.start) < s, s+1 < end
	joinPrev := !head && i > 0 && t.runs[i-1].n == v
	joinNext := !tail && i+1 < len(t.runs) && t.runs[i+1].n == v
	switch {
	case !head && tail && joinPrev:
		// s was the first sector of run i and joins the run before: what
		// an install erasing its sectors in order does.
		t.runs[i].start++
		return
	case head && !tail && joinNext:
		// s was the last sector of run i and joins the run after.
		t.runs[i+1].start--
		return
	case !head && !tail && !joinPrev && !joinNext:
		t.runs[i].n = v // s is run i
		return
	}
	var rep [3]wearRun
	k := 0
	if head {
		rep[k] = r
		k++
	}
	if !joinPrev {
		rep[k] = wearRun{uint32(s), v}
		k++
	}
	if tail {
		rep[k] = wearRun{uint32(s + 1), r.n}
		k++
	}
	j := i + 1
	if joinNext {
		j++ // the next run merges into the one now holding s
	}
	t.runs = slices.Replace(t.runs, i, j, rep[:k]...)
	if sectors := int(t.sectors); 2*len(t.runs) > sectors || len(t.runs) > maxWearRuns {
		t.dense = make([]uint32, sectors)
		for x, run := range t.runs {
			last := sectors
			if x+1 < len(t.runs) {
				last = int(t.runs[x+1].start)
			}
			for y := int(run.start); y < last; y++ {
				t.dense[y] = run.n
			}
		}
		t.runs = nil
	}
}
