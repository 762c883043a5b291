package flash

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// checkWear compares every sector's count with want and checks the table's
// invariants: runs start at 0, strictly increase, stay inside the chip and
// neighbours differ; a dense table has one count per sector.
func checkWear(t *testing.T, c *Chip, want []uint32) {
	t.Helper()
	for s, w := range want {
		if got := c.Wear(s); got != w {
			t.Fatalf("sector %d: wear %d, want %d", s, got, w)
		}
	}
	w := c.wear
	if w == nil {
		return
	}
	if int(w.sectors) != c.g.Sectors() {
		t.Fatalf("table of %d sectors on a chip of %d", w.sectors, c.g.Sectors())
	}
	if w.dense != nil {
		if w.runs != nil || len(w.dense) != c.g.Sectors() {
			t.Fatalf("dense table: %d runs, %d counts", len(w.runs), len(w.dense))
		}
		return
	}
	if len(w.runs) == 0 || w.runs[0].start != 0 {
		t.Fatalf("runs %v do not start at sector 0", w.runs)
	}
	for i := 1; i < len(w.runs); i++ {
		a, b := w.runs[i-1], w.runs[i]
		if b.start <= a.start || int(b.start) >= c.g.Sectors() || a.n == b.n {
			t.Fatalf("runs %d and %d: %v %v", i-1, i, a, b)
		}
	}
	if 2*len(w.runs) > c.g.Sectors() || len(w.runs) > maxWearRuns {
		t.Fatalf("%d runs for %d sectors: should be dense", len(w.runs), c.g.Sectors())
	}
}

// Erase patterns against a plain count per sector: installs in order and
// in reverse, repeated, overlapping, single sectors at the chip's ends,
// and scattered erases that push the table to its dense form.
func TestWear_AgreesWithCounts(t *testing.T) {
	g := Geometry{Size: 256 << 10, SectorSize: 1024, WriteUnit: 4, Erased: 0xFF} // 256 sectors
	n := g.Sectors()
	type step struct{ from, to int } // erase sectors from..to-1, in that order (to < from: downwards)
	patterns := map[string][]step{
		"one image":              {{16, 80}},
		"two banks twice":        {{0, 128}, {128, 256}, {0, 128}, {128, 256}},
		"downwards":              {{200, 100}, {255, -1}},
		"overlapping":            {{10, 60}, {40, 90}, {0, 256}, {50, 20}},
		"ends":                   {{0, 1}, {255, 256}, {0, 1}, {254, 256}, {255, 256}},
		"env sectors alternated": {{2, 3}, {3, 4}, {2, 3}, {3, 4}, {2, 3}},
	}
	for name, steps := range patterns {
		t.Run(name, func(t *testing.T) {
			c, _ := New(g, nil)
			want := make([]uint32, n)
			for _, st := range steps {
				d := 1
				if st.to < st.from {
					d = -1
				}
				for s := st.from; s != st.to; s += d {
					if err := c.Erase(s * g.SectorSize); err != nil {
						t.Fatal(err)
					}
					want[s]++
					checkWear(t, c, want)
				}
			}
			if c.wear.dense != nil || len(c.wear.runs) > 8 {
				t.Fatalf("%d runs, dense %v: an install pattern should stay compact", len(c.wear.runs), c.wear.dense != nil)
			}
		})
	}
	t.Run("scattered", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		c, _ := New(g, nil)
		want := make([]uint32, n)
		for range 4000 {
			s := rng.IntN(n)
			if err := c.Erase(s * g.SectorSize); err != nil {
				t.Fatal(err)
			}
			want[s]++
			checkWear(t, c, want)
		}
		if c.wear.dense == nil {
			t.Fatal("4000 scattered erases still in runs form")
		}
	})
}

// On a chip of many sectors, scattered erases switch to the dense form
// at maxWearRuns runs, long before the runs would outgrow it, so that an
// erase never moves more than maxWearRuns runs.
func TestWear_RunsAreCapped(t *testing.T) {
	g := Geometry{Size: 64 << 20, SectorSize: 256, WriteUnit: 1, Erased: 0xFF} // 256 Ki sectors
	c, _ := New(g, nil)
	want := make([]uint32, g.Sectors())
	for k := 0; c.wear == nil || c.wear.dense == nil; k++ {
		if k > maxWearRuns {
			t.Fatalf("still %d runs after %d scattered erases", len(c.wear.runs), k)
		}
		s := (k * 7919) % g.Sectors()
		if err := c.Erase(s * g.SectorSize); err != nil {
			t.Fatal(err)
		}
		want[s]++
	}
	checkWear(t, c, want)
}

// Clones share the wear table until one of them erases; neither sees the
// other's erases afterwards, in the runs form and the dense form.
func TestWear_CloneIsIndependent(t *testing.T) {
	g := Geometry{Size: 64 << 10, SectorSize: 1024, WriteUnit: 4, Erased: 0xFF} // 64 sectors
	for _, dense := range []bool{false, true} {
		a, _ := New(g, nil)
		want := make([]uint32, g.Sectors())
		erase := func(c *Chip, want []uint32, s int) {
			t.Helper()
			if err := c.Erase(s * g.SectorSize); err != nil {
				t.Fatal(err)
			}
			want[s]++
		}
		for s := range 8 {
			erase(a, want, s)
		}
		if dense {
			for s := 0; s < g.Sectors(); s += 2 {
				erase(a, want, s)
			}
			if a.wear.dense == nil {
				t.Fatal("table not dense")
			}
		}
		b := a.Clone()
		if b.wear != a.wear {
			t.Fatal("a clone copied the wear table")
		}
		wantB := append([]uint32(nil), want...)
		erase(b, wantB, 3)
		erase(b, wantB, 40)
		if b.wear == a.wear {
			t.Fatal("an erase wrote the shared wear table")
		}
		erase(a, want, 5)
		cc := b.Clone()
		wantC := append([]uint32(nil), wantB...)
		erase(cc, wantC, 63)
		checkWear(t, a, want)
		checkWear(t, b, wantB)
		checkWear(t, cc, wantC)
	}
}

// Counts are exact far past 8 and 16 bits, and the last sector of the
// largest chip counts like any other.
func TestWear_ManyErasesAndLastSector(t *testing.T) {
	g := Geometry{Size: 16 << 10, SectorSize: 1024, WriteUnit: 4, Erased: 0xFF}
	c, _ := New(g, nil)
	const many = 70_000
	for range many {
		if err := c.Erase(7 * g.SectorSize); err != nil {
			t.Fatal(err)
		}
	}
	want := make([]uint32, g.Sectors())
	want[7] = many
	checkWear(t, c, want)
	if c.Wear(-1) != 0 || c.Wear(g.Sectors()) != 0 {
		t.Fatal("a sector the chip does not have has wear")
	}

	big := Geometry{Size: 1 << 30, SectorSize: 256, WriteUnit: 1, Erased: 0xFF} // 4 Mi sectors
	c, err := New(big, nil)
	if err != nil {
		t.Fatal(err)
	}
	last := big.Sectors() - 1
	for range 3 {
		if err := c.Erase(last * big.SectorSize); err != nil {
			t.Fatal(err)
		}
	}
	if c.Wear(last) != 3 || c.Wear(last-1) != 0 || c.Wear(0) != 0 {
		t.Fatalf("wear %d %d %d", c.Wear(last), c.Wear(last-1), c.Wear(0))
	}
	if op := c.LastOp(); op != (Op{Index: 2, Kind: OpErase, Addr: last * big.SectorSize, Len: 256}) {
		t.Fatalf("last op %+v", op)
	}
}

// A sector reaches its endurance exactly: the erase past it fails with
// ErrWornOut, keeps the content and the count, and other sectors still
// erase; the same in both forms and in a clone.
func TestWear_EnduranceReached(t *testing.T) {
	g := Geometry{Size: 32 << 10, SectorSize: 1024, WriteUnit: 4, Erased: 0xFF, Endurance: 300}
	for _, dense := range []bool{false, true} {
		c, _ := New(g, nil)
		if dense {
			for s := 0; s < g.Sectors(); s += 2 {
				_ = c.Erase(s * g.SectorSize)
			}
			if c.wear.dense == nil {
				t.Fatal("table not dense")
			}
		}
		for c.Wear(9) < g.Endurance {
			if err := c.Erase(9 * g.SectorSize); err != nil {
				t.Fatalf("erase %d: %v", c.Wear(9), err)
			}
		}
		if err := c.Program(9*g.SectorSize, []byte{1, 2, 3, 4}); err != nil {
			t.Fatal(err)
		}
		cl := c.Clone()
		for _, x := range []*Chip{c, cl} {
			if err := x.Erase(9 * g.SectorSize); !errors.Is(err, ErrWornOut) {
				t.Fatalf("dense %v: erase past endurance: %v", dense, err)
			}
			if x.Wear(9) != g.Endurance {
				t.Fatalf("dense %v: wear %d after a refused erase", dense, x.Wear(9))
			}
			if got := content(t, x)[9*g.SectorSize:][:4]; !bytes.Equal(got, []byte{1, 2, 3, 4}) {
				t.Fatalf("dense %v: a refused erase changed % x", dense, got)
			}
			if err := x.Erase(10 * g.SectorSize); err != nil {
				t.Fatalf("dense %v: neighbour: %v", dense, err)
			}
		}
	}
}

// A clone and a chip made from a Blob covering it share the chunk table
// and the wear table: Clone allocates the Chip alone. Writes copy what
// they change and leave the other chip, and the Blob, as they were.
func TestClone_SharesTablesUntilWritten(t *testing.T) {
	g := Geometry{Size: 1 << 20, SectorSize: 4096, WriteUnit: 4, Erased: 0xFF}
	img := make([]byte, g.Size)
	for i := range img {
		img[i] = byte(i * 13)
	}
	blob := NewBlob(img, 0xFF)
	a, _ := New(g, blob)
	if &a.top[0] != &blob.chunks[0] {
		t.Fatal("a chip made from a whole-chip Blob copied its chunk table")
	}
	if err := a.Erase(0); err != nil {
		t.Fatal(err)
	}
	if &a.top[0] == &blob.chunks[0] || !bytes.Equal(blobBytes(blob), img) {
		t.Fatal("an erase wrote the Blob's chunk table")
	}
	if allocs := testing.AllocsPerRun(100, func() { cloneSink = a.Clone() }); allocs != 1 {
		t.Fatalf("Clone: %v allocations, want 1", allocs)
	}
	b := a.Clone()
	if &b.top[0] != &a.top[0] || b.wear != a.wear {
		t.Fatal("a clone copied its tables")
	}
	snap := a.Snapshot()
	if err := b.Erase(2 * chunkSize); err != nil { // a whole-chunk entry
		t.Fatal(err)
	}
	if err := a.Program(chunkSize, []byte{0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(img)
	for i := range 4096 {
		want[i] = 0xFF
	}
	if !bytes.Equal(blobBytes(snap), want) {
		t.Fatal("the snapshot changed")
	}
	wantB := bytes.Clone(want)
	for i := 2 * chunkSize; i < 2*chunkSize+4096; i++ {
		wantB[i] = 0xFF
	}
	copy(want[chunkSize:], []byte{0, 0, 0, 0})
	if !bytes.Equal(content(t, a), want) || !bytes.Equal(content(t, b), wantB) {
		t.Fatal("a and its clone see each other's writes")
	}
	if a.Wear(2*chunkSize/4096) != 0 || b.Wear(2*chunkSize/4096) != 1 || a.Wear(0) != 1 || b.Wear(0) != 1 {
		t.Fatal("wear leaked between clones")
	}
}

// LastOp is kept in 32 bits per field but reads back as the Op, in the
// chip and its clone, and is the zero Op before the first operation.
func TestLastOp_ClonedAndZero(t *testing.T) {
	c, _ := New(nor, nil)
	if c.LastOp() != (Op{}) {
		t.Fatalf("before any op: %+v", c.LastOp())
	}
	_ = c.Erase(4096)
	_ = c.Program(8192, make([]byte, 16))
	want := Op{Index: 1, Kind: OpProgram, Addr: 8192, Len: 16}
	if c.LastOp() != want || c.Clone().LastOp() != want {
		t.Fatalf("last op %+v, clone %+v", c.LastOp(), c.Clone().LastOp())
	}
	_ = c.ArmCut(2, CutBefore, nil)
	var oe *OpError
	if err := c.Erase(0); !errors.As(err, &oe) || oe.Op != OpErase || oe.Addr != 0 || oe.Len != 4096 {
		t.Fatalf("cut error %v", err)
	}
}

func blobBytes(b *Blob) []byte {
	buf := make([]byte, b.Len())
	b.ReadAt(buf, 0)
	return buf
}

// Chips that share a factory's frozen tables may be cloned and written by
// different goroutines at once (one goroutine per device in the real-time
// fleet): cloning must never write to what it shares. Run with -race.
func TestClone_SharedTablesAreNeverWritten(t *testing.T) {
	factory, _ := New(nor, nil)
	if err := factory.Erase(0); err != nil {
		t.Fatal(err)
	}
	base := factory.Clone()
	done := make(chan struct{})
	for range 4 {
		c := base.Clone()
		go func() {
			defer func() { done <- struct{}{} }()
			for range 50 {
				c.Clone() // a dry run on a copy, as the device's install does
				if err := c.Erase(nor.SectorSize); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
