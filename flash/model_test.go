package flash

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// refChip is the deliberately naive model the chip is checked against: one
// byte slice, no sharing.
type refChip struct {
	g    Geometry
	mem  []byte
	wear []uint32
}

func newRef(g Geometry, base []byte) *refChip {
	r := &refChip{g: g, mem: bytes.Repeat([]byte{g.Erased}, g.Size), wear: make([]uint32, g.Sectors())}
	copy(r.mem, base)
	return r
}

func (r *refChip) program(addr int, data []byte) bool {
	if r.g.Rewrite == RewriteForbid {
		for _, v := range r.mem[addr : addr+len(data)] {
			if v != r.g.Erased {
				return false
			}
		}
	}
	for i, v := range data {
		r.mem[addr+i] = r.g.program(r.mem[addr+i], v)
	}
	return true
}

func (r *refChip) erase(addr int) bool {
	s := addr / r.g.SectorSize
	if r.g.Endurance > 0 && r.wear[s] >= r.g.Endurance {
		return false
	}
	r.wear[s]++
	for i := addr; i < addr+r.g.SectorSize; i++ {
		r.mem[i] = r.g.Erased
	}
	return true
}

func content(t testing.TB, c *Chip) []byte {
	t.Helper()
	buf := make([]byte, c.g.Size)
	if err := c.Read(0, buf); err != nil {
		t.Fatal(err)
	}
	return buf
}

var modelGeometries = []Geometry{
	{Size: 512 << 10, SectorSize: 4096, WriteUnit: 1, Erased: 0xFF},                                          // SPI NOR
	{Size: 256 << 10, SectorSize: 1 << 17, WriteUnit: 8, Erased: 0xFF, Rewrite: RewriteForbid},               // MCU, big sectors
	{Size: 64 << 10, SectorSize: 1024, WriteUnit: 4, Erased: 0x00, Endurance: 3},                             // erases to zero, wears out
	{Size: 3 << 20, SectorSize: 64 << 10, WriteUnit: 16, Erased: 0xFF, Rewrite: RewriteForbid, Endurance: 0}, // several chunks
}

// TestChip_AgreesWithNaiveModel runs seeded random programs, blob
// programs, erases and clones against refChip and compares every byte.
func TestChip_AgreesWithNaiveModel(t *testing.T) {
	for gi, g := range modelGeometries {
		for seed := uint64(1); seed <= 8; seed++ {
			rng := rand.New(rand.NewPCG(seed, uint64(gi)))
			baseBytes := make([]byte, g.Size/2)
			for i := range baseBytes {
				baseBytes[i] = byte(rng.Uint32())
			}
			if seed%2 == 0 { // mostly erased pages, so sharing paths run
				clear(baseBytes[len(baseBytes)/4:])
			}
			imgBytes := make([]byte, g.Size/2+123)
			for i := range imgBytes {
				imgBytes[i] = byte(rng.Uint32()) | 0x0F
			}
			img := NewBlob(imgBytes, g.Erased)
			c, err := New(g, NewBlob(baseBytes, g.Erased))
			if err != nil {
				t.Fatal(err)
			}
			ref := newRef(g, baseBytes)
			type snap struct {
				c    *Chip
				want []byte
			}
			var clones []snap
			for step := range 300 {
				wu := g.WriteUnit
				switch op := rng.IntN(10); {
				case op < 4:
					n := (1 + rng.IntN(3*PageSize/wu)) * wu
					addr := rng.IntN((g.Size-n)/wu+1) * wu
					data := make([]byte, n)
					for i := range data {
						data[i] = byte(rng.Uint32())
					}
					err := c.Program(addr, data)
					if ok := ref.program(addr, data); ok != (err == nil) {
						t.Fatalf("geom %d seed %d step %d: program(0x%x,%d) err=%v, model ok=%v", gi, seed, step, addr, n, err, ok)
					}
				case op < 7:
					s := rng.IntN(g.Sectors())
					err := c.Erase(s * g.SectorSize)
					if ok := ref.erase(s * g.SectorSize); ok != (err == nil) {
						t.Fatalf("geom %d seed %d step %d: erase sector %d err=%v, model ok=%v", gi, seed, step, s, err, ok)
					}
				case op < 9:
					// A whole-sector install from the image, page aligned or not.
					off := rng.IntN(img.Len()/wu) * wu
					if rng.IntN(2) == 0 {
						off = rng.IntN(img.Len()/PageSize) * PageSize
					}
					n := min(g.SectorSize, (img.Len()-off)/wu*wu)
					s := rng.IntN(g.Sectors())
					data := make([]byte, n)
					img.ReadAt(data, off)
					err := c.ProgramBlob(s*g.SectorSize, img, off, n)
					if ok := ref.program(s*g.SectorSize, data); ok != (err == nil) {
						t.Fatalf("geom %d seed %d step %d: programBlob err=%v, model ok=%v", gi, seed, step, err, ok)
					}
				default:
					if len(clones) < 3 {
						clones = append(clones, snap{c.Clone(), bytes.Clone(ref.mem)})
					}
				}
			}
			if got := content(t, c); !bytes.Equal(got, ref.mem) {
				i := 0
				for got[i] == ref.mem[i] {
					i++
				}
				t.Fatalf("geom %d seed %d: content differs first at 0x%x: chip %02x model %02x", gi, seed, i, got[i], ref.mem[i])
			}
			for s := range g.Sectors() {
				if c.Wear(s) != ref.wear[s] {
					t.Fatalf("geom %d seed %d: sector %d wear %d, model %d", gi, seed, s, c.Wear(s), ref.wear[s])
				}
			}
			for i, cl := range clones {
				if !bytes.Equal(content(t, cl.c), cl.want) {
					t.Fatalf("geom %d seed %d: clone %d changed after the original was written", gi, seed, i)
				}
			}
		}
	}
}

// Clones share pages but never each other's writes.
func TestClone_IsIndependent(t *testing.T) {
	g := modelGeometries[0]
	a, _ := New(g, nil)
	if err := a.Program(0, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	b := a.Clone()
	if err := a.Program(8, []byte("A")); err != nil {
		t.Fatal(err)
	}
	if err := b.Erase(0); err != nil {
		t.Fatal(err)
	}
	if err := b.Program(8, []byte("B")); err != nil {
		t.Fatal(err)
	}
	ab, bb := content(t, a), content(t, b)
	if string(ab[:5]) != "hello" || ab[8] != 'A' || bb[0] != 0xFF || bb[8] != 'B' {
		t.Fatalf("a=%q b=%q", ab[:9], bb[:9])
	}
	if a.Wear(0) != 0 || b.Wear(0) != 1 || a.Ops() != 2 || b.Ops() != 3 {
		t.Fatalf("wear %d/%d ops %d/%d", a.Wear(0), b.Wear(0), a.Ops(), b.Ops())
	}
}
