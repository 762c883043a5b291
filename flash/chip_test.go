package flash

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

var nor = Geometry{Size: 64 << 10, SectorSize: 4096, WriteUnit: 4, Erased: 0xFF}

func TestChip_BadInput(t *testing.T) {
	mcu := nor
	mcu.Rewrite = RewriteForbid
	worn := nor
	worn.Endurance = 1
	tests := []struct {
		name string
		g    Geometry
		do   func(c *Chip) error
		want error
	}{
		{"program past the end", nor, func(c *Chip) error { return c.Program(nor.Size-4, make([]byte, 8)) }, ErrOutOfRange},
		{"negative address", nor, func(c *Chip) error { return c.Program(-4, make([]byte, 4)) }, ErrOutOfRange},
		{"huge length does not overflow", nor, func(c *Chip) error { return c.Read(8, make([]byte, nor.Size)) }, ErrOutOfRange},
		{"unaligned address", nor, func(c *Chip) error { return c.Program(2, make([]byte, 4)) }, ErrUnaligned},
		{"unaligned length", nor, func(c *Chip) error { return c.Program(0, make([]byte, 3)) }, ErrUnaligned},
		{"erase mid-sector", nor, func(c *Chip) error { return c.Erase(512) }, ErrUnaligned},
		{"erase past the end", nor, func(c *Chip) error { return c.Erase(nor.Size) }, ErrOutOfRange},
		{"blob past its end", nor, func(c *Chip) error { return c.ProgramBlob(0, NewBlob([]byte{1, 2, 3, 4}, 0xFF), chunkSize-2, 4) }, ErrOutOfRange},
		{"nil blob", nor, func(c *Chip) error { return c.ProgramBlob(0, nil, 0, 4) }, ErrOutOfRange},
		{"ECC flash refuses a second program", mcu, func(c *Chip) error {
			if err := c.Program(0, []byte{1, 2, 3, 4}); err != nil {
				return err
			}
			return c.Program(0, []byte{0, 0, 0, 0})
		}, ErrNotErased},
		{"worn sector refuses erase", worn, func(c *Chip) error {
			if err := c.Erase(0); err != nil {
				return err
			}
			return c.Erase(0)
		}, ErrWornOut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.g, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = tt.do(c)
			var oe *OpError
			if !errors.Is(err, tt.want) || !errors.As(err, &oe) {
				t.Fatalf("got %v, want %v in an *OpError", err, tt.want)
			}
		})
	}
}

func TestGeometry_Validate(t *testing.T) {
	bad := []Geometry{
		{Size: 4096, SectorSize: 100, WriteUnit: 1},
		{Size: 4097, SectorSize: 4096, WriteUnit: 1},
		{Size: 0, SectorSize: 4096, WriteUnit: 1},
		{Size: 4096, SectorSize: 4096, WriteUnit: 3},
		{Size: 4096, SectorSize: 4096, WriteUnit: 64},
		{Size: 4096, SectorSize: 4096, WriteUnit: 1, Erased: 0x55},
		{Size: 2 << 30, SectorSize: 4096, WriteUnit: 1, Erased: 0xFF},
	}
	for _, g := range bad {
		if _, err := New(g, nil); err == nil {
			t.Errorf("%+v accepted", g)
		}
	}
	if _, err := New(nor, NewBlob(make([]byte, nor.Size+1), 0xFF)); err == nil {
		t.Error("oversized base accepted")
	}
}

// NOR: a second program ANDs (flag bytes 0xFF→0x01→0x00); 0x00 flash ORs.
func TestProgram_RewriteCombines(t *testing.T) {
	c, _ := New(nor, nil)
	for _, v := range []byte{0xF1, 0x01, 0x00} {
		if err := c.Program(0, []byte{v, v, v, v}); err != nil {
			t.Fatal(err)
		}
	}
	got := content(t, c)[:4]
	if !bytes.Equal(got, []byte{0, 0, 0, 0}) {
		t.Fatalf("got % x", got)
	}
	z := nor
	z.Erased = 0x00
	c, _ = New(z, nil)
	_ = c.Program(0, []byte{0x10, 0, 0, 0})
	_ = c.Program(0, []byte{0x01, 0, 0, 0})
	if got := content(t, c)[0]; got != 0x11 {
		t.Fatalf("0x00 flash: got %02x", got)
	}
}

func TestCut_BeforeAfterAndRefusal(t *testing.T) {
	for _, mode := range []CutMode{CutBefore, CutAfter} {
		c, _ := New(nor, nil)
		_ = c.Program(0, []byte{1, 1, 1, 1})
		if err := c.ArmCut(1, mode, nil); err != nil {
			t.Fatal(err)
		}
		err := c.Program(4, []byte{2, 2, 2, 2})
		if !errors.Is(err, ErrPowerLost) || c.Powered() {
			t.Fatalf("%v: err %v powered %v", mode, err, c.Powered())
		}
		if err := c.Read(0, make([]byte, 4)); !errors.Is(err, ErrPowerLost) {
			t.Fatalf("%v: read while off: %v", mode, err)
		}
		if err := c.Erase(0); !errors.Is(err, ErrPowerLost) {
			t.Fatalf("%v: erase while off: %v", mode, err)
		}
		if c.Ops() != 2 {
			t.Fatalf("%v: ops %d: refused calls are not operations", mode, c.Ops())
		}
		c.PowerOn()
		got := content(t, c)[4]
		if want := map[CutMode]byte{CutBefore: 0xFF, CutAfter: 2}[mode]; got != want {
			t.Fatalf("%v: byte %02x, want %02x", mode, got, want)
		}
		if err := c.Program(8, []byte{3, 3, 3, 3}); err != nil {
			t.Fatalf("%v: after PowerOn: %v", mode, err)
		}
	}
	if err := (&Chip{}).ArmCut(0, CutTorn, nil); err == nil {
		t.Fatal("torn cut without a generator accepted")
	}
}

// A torn program: units before u written, unit u a mix of old and new bits,
// units after untouched; the same seed gives the same bytes.
func TestCut_TornProgram(t *testing.T) {
	old := bytes.Repeat([]byte{0xF0}, 64)
	data := bytes.Repeat([]byte{0x0F}, 64) // new = 0x00 everywhere
	run := func(seed uint64) []byte {
		c, _ := New(nor, NewBlob(old, 0xFF))
		_ = c.ArmCut(0, CutTorn, rand.New(rand.NewPCG(seed, 0)))
		if err := c.Program(0, data); !errors.Is(err, ErrPowerLost) {
			t.Fatal(err)
		}
		c.PowerOn()
		return content(t, c)[:64]
	}
	for seed := uint64(0); seed < 50; seed++ {
		got := run(seed)
		if !bytes.Equal(got, run(seed)) {
			t.Fatalf("seed %d: not reproducible", seed)
		}
		u := 0
		for u < 16 && bytes.Equal(got[u*4:u*4+4], []byte{0, 0, 0, 0}) {
			u++
		}
		for i := u * 4; i < len(got); i++ {
			if got[i]&^0xF0 != 0 { // only old bits may remain set
				t.Fatalf("seed %d: byte %d = %02x is neither old nor new bits", seed, i, got[i])
			}
			if i >= (u+1)*4 && got[i] != 0xF0 {
				t.Fatalf("seed %d: byte %d past the torn unit %d changed", seed, i, u)
			}
		}
	}
}

func TestCut_TornEraseIsIndeterminateButReproducible(t *testing.T) {
	old := bytes.Repeat([]byte{0x5A}, nor.SectorSize)
	seen := map[string]bool{}
	for seed := uint64(0); seed < 40; seed++ {
		var got [2][]byte
		for i := range got {
			c, _ := New(nor, NewBlob(old, 0xFF))
			_ = c.ArmCut(0, CutTorn, rand.New(rand.NewPCG(seed, 7)))
			if err := c.Erase(0); !errors.Is(err, ErrPowerLost) {
				t.Fatal(err)
			}
			c.PowerOn()
			got[i] = content(t, c)[:nor.SectorSize]
			if c.Wear(0) != 1 {
				t.Fatal("an interrupted erase still wears the sector")
			}
		}
		if !bytes.Equal(got[0], got[1]) {
			t.Fatalf("seed %d: not reproducible", seed)
		}
		for _, v := range got[0] {
			if v != 0x5A && v != 0xFF && v != 0x00 {
				t.Fatalf("seed %d: byte %02x is neither old, erased nor programmed", seed, v)
			}
		}
		seen[string(got[0])] = true
	}
	if len(seen) < 20 {
		t.Fatal("torn erases all look alike")
	}
}

// Chips installed from the same image blob share its chunks.
func TestProgramBlob_SharesPagesAndChunks(t *testing.T) {
	g := Geometry{Size: 2 << 20, SectorSize: 4096, WriteUnit: 1, Erased: 0xFF}
	img := make([]byte, 1<<20)
	for i := range img {
		img[i] = byte(i*7 + 1)
	}
	blob := NewBlob(img, 0xFF)
	c, _ := New(g, nil)
	for off := 0; off < len(img); off += 4096 {
		if err := c.ProgramBlob(off, blob, off, 4096); err != nil {
			t.Fatal(err)
		}
	}
	for ci := range len(img) / chunkSize {
		if c.top[ci] != blob.chunks[ci] {
			t.Fatalf("chunk %d not shared with the image", ci)
		}
	}
	if got := content(t, c)[:len(img)]; !bytes.Equal(got, img) {
		t.Fatal("content differs from the image")
	}
	// Writing one byte copies one chunk table and one page, not the image.
	if err := c.Program(5, []byte{0}); err != nil {
		t.Fatal(err)
	}
	if c.top[0] == blob.chunks[0] || c.top[0].pages[1] != blob.chunks[0].pages[1] {
		t.Fatal("copy-on-write copied too much or too little")
	}
	if blob.chunks[0].pages[0].b[5] != img[5] {
		t.Fatal("the shared image was written")
	}
}

// A refused operation (ECC flash programming a written unit, a worn
// sector) still takes the power when a cut is armed on it, and changes
// nothing, torn or not.
func TestCut_OnRefusedOperation(t *testing.T) {
	mcu := nor
	mcu.Rewrite = RewriteForbid
	mcu.Endurance = 1
	for _, mode := range []CutMode{CutBefore, CutAfter, CutTorn} {
		c, _ := New(mcu, NewBlob(bytes.Repeat([]byte{0xF0}, 16), 0xFF))
		_ = c.ArmCut(0, mode, rand.New(rand.NewPCG(1, 2)))
		if err := c.Program(0, make([]byte, 8)); !errors.Is(err, ErrPowerLost) {
			t.Fatalf("%v program: %v", mode, err)
		}
		c.PowerOn()
		if got := content(t, c)[:8]; !bytes.Equal(got, bytes.Repeat([]byte{0xF0}, 8)) {
			t.Fatalf("%v: refused program changed % x", mode, got)
		}
		_ = c.Erase(4096)
		_ = c.ArmCut(c.Ops(), mode, rand.New(rand.NewPCG(1, 2)))
		if err := c.Erase(4096); !errors.Is(err, ErrPowerLost) {
			t.Fatalf("%v worn erase: %v", mode, err)
		}
	}
}

func TestBlob_ReadPastEndIsPadding(t *testing.T) {
	b := NewBlob([]byte{1, 2, 3}, 0x00)
	buf := bytes.Repeat([]byte{9}, 8)
	b.ReadAt(buf, chunkSize-4)
	if !bytes.Equal(buf, make([]byte, 8)) {
		t.Fatalf("got % x", buf)
	}
}
