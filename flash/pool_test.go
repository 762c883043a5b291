package flash

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"testing"
)

// Chips that write the same bytes share one copy of each page through a
// Pool, and still read, write and clone as if they had their own: a
// write after Share changes only the chip that made it.
func TestPool_SharesWrittenPages(t *testing.T) {
	g := Geometry{Size: 1 << 20, SectorSize: 4096, WriteUnit: 4, Erased: 0xFF}
	img := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img {
		img[i] = byte(r.Uint32())
	}
	var pool Pool
	chips := make([]*Chip, 8)
	for i := range chips {
		c, err := New(g, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Written in program-size pieces (never whole pages at once), at
		// an offset that is not page-aligned: every page goes through
		// the partial-page path.
		if err := eraseN(c, 0, 128<<10); err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(img); off += 256 {
			if err := c.Program(256+off, img[off:off+256]); err != nil {
				t.Fatal(err)
			}
		}
		before := c.Ops()
		c.Share(&pool)
		if c.Ops() != before {
			t.Fatal("Share counted as a flash operation")
		}
		chips[i] = c
	}
	// 17 pages hold the image (it straddles one more than 16); all eight
	// chips share them.
	for pi := 0; pi < 17; pi++ {
		first := chips[0].pageAt(pi)
		for i, c := range chips[1:] {
			if c.pageAt(pi) != first {
				t.Fatalf("chip %d does not share page %d", i+1, pi)
			}
		}
		if !first.frozen {
			t.Fatalf("page %d is shared but not frozen", pi)
		}
	}
	// and the chunk holding them.
	for i, c := range chips[1:] {
		if c.top[0] != chips[0].top[0] {
			t.Fatalf("chip %d does not share the chunk", i+1)
		}
	}
	if n := pool.Len(); n != 17+1 {
		t.Errorf("pool holds %d entries, want 17 pages and a chunk", n)
	}
	read := func(c *Chip) []byte {
		b := make([]byte, len(img))
		if err := c.Read(256, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	for i, c := range chips {
		if !bytes.Equal(read(c), img) {
			t.Fatalf("chip %d reads other bytes after Share", i)
		}
	}
	// A write after Share is the writer's alone.
	if err := eraseN(chips[3], 8192, 4096); err != nil {
		t.Fatal(err)
	}
	if err := chips[3].Program(8192, []byte{0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	for i, c := range chips {
		got := read(c)
		if i == 3 {
			if bytes.Equal(got, img) || got[8192-256] != 0 || got[8192-256+4] != 0xFF {
				t.Fatal("the writer's own write did not land")
			}
			continue
		}
		if !bytes.Equal(got, img) {
			t.Fatalf("chip %d changed when chip 3 wrote", i)
		}
	}
	// Cloned and written after sharing: the clone and the original apart.
	cl := chips[0].Clone()
	if err := eraseN(cl, 0, 4096); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(chips[0]), img) {
		t.Fatal("the original changed when its clone wrote")
	}
	// All-erased pages go to the package's erased page, not the pool.
	c, _ := New(g, nil)
	if err := c.Program(0, bytes.Repeat([]byte{0xFF}, 256)); err != nil {
		t.Fatal(err)
	}
	n := pool.Len()
	c.Share(&pool)
	if c.pageAt(0) != erasedPageFF || pool.Len() != n {
		t.Error("an all-erased page was not folded into the erased page")
	}
}

// A pool holds its pages weakly: pages no chip holds are collected and
// their entries swept, so a pool of a long run does not grow with every
// page ever written.
func TestPool_Weak(t *testing.T) {
	g := Geometry{Size: 1 << 20, SectorSize: 4096, WriteUnit: 4, Erased: 0xFF}
	var pool Pool
	c, err := New(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, PageSize)
	for round := range 40 {
		// 64 unique pages a round, the round before's overwritten.
		if err := eraseN(c, 0, 64*PageSize); err != nil {
			t.Fatal(err)
		}
		for pi := range 64 {
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
			if err := c.Program(pi*PageSize, buf); err != nil {
				t.Fatal(err)
			}
		}
		c.Share(&pool)
		if round%8 == 7 {
			runtime.GC()
		}
	}
	// 2,560 pages went into the pool; at most the live 64 and what was
	// written since the last sweep remain.
	if n := pool.Len(); n > 4*minSweep {
		t.Errorf("pool holds %d entries after 2,560 pages of which 64 live", n)
	}
	runtime.GC()
	pool.sweep()
	if n := pool.Len(); n != 64+1 {
		t.Errorf("after a collection and a sweep: %d entries, want the 64 live pages and their chunk", n)
	}
	runtime.KeepAlive(c)
}

func eraseN(c *Chip, addr, n int) error {
	for a := addr; a < addr+n; a += c.Geometry().SectorSize {
		if err := c.Erase(a); err != nil {
			return err
		}
	}
	return nil
}
