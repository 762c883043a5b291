package flash

import (
	"bytes"
	"hash/maphash"
	"weak"
)

// Pool lets chips share the pages they wrote with the same bytes. Every
// device of a fleet that installs one image, or whose bootloader swaps it
// into place, ends up holding the same pages; without a pool each holds
// its own copies (most of a fleet's memory in a power-cut study).
//
// Chip.Share hands the pool the chip's own pages (those not shared
// already): a page whose bytes the pool holds is replaced by the pool's
// copy, any other becomes the pool's; then likewise each chunk (a table of
// 64 pages) it wrote into. Pages and chunks the pool hands out are frozen,
// like a clone's, so sharing changes no byte any chip reads: a chip that
// writes into one copies it first.
//
// The pool holds its pages weakly: a page no chip holds any more is
// collected, and its entry goes at the pool's next sweep. A Pool is not
// safe for concurrent use; give it one owner (a virtual fleet's loop) or
// a lock. The zero value is ready to use.
type Pool struct {
	seed   maphash.Seed
	pages  map[uint64]weak.Pointer[page]
	chunks map[uint64]weak.Pointer[chunk] // by their pages
	swept  int                            // entries after the last sweep
}

// minSweep is the least entry count at which a pool sweeps its dead
// entries; it sweeps again each time its entries double.
const minSweep = 1024

// intern returns the pool's page with p's bytes, making p that page if the
// pool has none. p must be the caller's own (not frozen); what intern
// returns is frozen.
func (pl *Pool) intern(p *page) *page {
	if e := dedupErased(p); e != p {
		return e
	}
	pl.init()
	h := maphash.Bytes(pl.seed, p.b[:])
	if q := pl.pages[h].Value(); q != nil {
		if bytes.Equal(q.b[:], p.b[:]) {
			return q
		}
		p.frozen = true // another page has the hash: p stays unshared
		return p
	}
	p.frozen = true
	pl.pages[h] = weak.Make(p)
	pl.grown()
	return p
}

// internChunk is intern for a chunk whose pages are all frozen: chips
// that share every page of a chunk share the chunk too.
func (pl *Pool) internChunk(ch *chunk) *chunk {
	if e := dedupChunk(ch); e != ch {
		return e
	}
	pl.init()
	h := maphash.Comparable(pl.seed, ch.pages)
	if q := pl.chunks[h].Value(); q != nil {
		if q.pages == ch.pages {
			return q
		}
		ch.frozen = true
		return ch
	}
	ch.frozen = true
	pl.chunks[h] = weak.Make(ch)
	pl.grown()
	return ch
}

func (pl *Pool) init() {
	if pl.pages == nil {
		pl.seed = maphash.MakeSeed()
		pl.pages = make(map[uint64]weak.Pointer[page])
		pl.chunks = make(map[uint64]weak.Pointer[chunk])
	}
}

// grown sweeps when the entries have doubled since the last sweep.
func (pl *Pool) grown() {
	if n := pl.Len(); n >= minSweep && n >= 2*pl.swept {
		pl.sweep()
	}
}

// sweep deletes the entries whose page was collected.
func (pl *Pool) sweep() {
	for h, w := range pl.pages {
		if w.Value() == nil {
			delete(pl.pages, h)
		}
	}
	for h, w := range pl.chunks {
		if w.Value() == nil {
			delete(pl.chunks, h)
		}
	}
	pl.swept = pl.Len()
}

// Len is the number of entries: pages and chunks shared through the pool,
// plus those collected since its last sweep.
func (pl *Pool) Len() int { return len(pl.pages) + len(pl.chunks) }

// Share hands the chip's own pages to pool (see Pool): those written since
// the last Share, or since the chip was made or cloned. It costs a hash of
// each such page, and a look at each page of the chunks the chip wrote
// into. Content, wear and operation counts do not change, nor does any
// armed cut: Share is not a flash operation.
func (c *Chip) Share(pool *Pool) {
	for ci, ch := range c.top {
		if ch.frozen {
			continue // a shared chunk holds only frozen pages
		}
		for i, p := range ch.pages {
			if !p.frozen {
				ch.pages[i] = pool.intern(p)
			}
		}
		// An unfrozen chunk is in a table of the chip's own (store.go):
		// no copy of the table first.
		c.top[ci] = pool.internChunk(ch)
	}
}
