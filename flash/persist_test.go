package flash

import (
	"bytes"
	"errors"
	"testing"
)

func TestStateRoundTrip(t *testing.T) {
	g := Geometry{Size: 1 << 20, SectorSize: 4096, WriteUnit: 1, Erased: 0xFF}
	base, err := New(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := base.Program(0, []byte("factory")); err != nil {
		t.Fatal(err)
	}
	c := base.Clone()
	if st := c.AppendState(nil, base); len(st) > 32 {
		t.Errorf("an untouched clone saves %d bytes", len(st))
	}
	if err := c.Erase(8192); err != nil {
		t.Fatal(err)
	}
	if err := c.Program(8192, []byte("written by the device")); err != nil {
		t.Fatal(err)
	}
	if err := c.Erase(0); err != nil {
		t.Fatal(err)
	}
	st := c.AppendState(nil, base)
	got, err := LoadState(base, st)
	if err != nil {
		t.Fatal(err)
	}
	a, b := make([]byte, g.Size), make([]byte, g.Size)
	c.Read(0, a)
	got.Read(0, b)
	if !bytes.Equal(a, b) || got.Ops() != c.Ops() || got.Wear(2) != 1 || got.Wear(0) != 1 || got.Wear(1) != 0 {
		t.Fatalf("loaded chip differs: ops %d/%d wear %d %d %d", got.Ops(), c.Ops(), got.Wear(0), got.Wear(1), got.Wear(2))
	}
	// The base is untouched.
	base.Read(0, a[:7])
	if string(a[:7]) != "factory" {
		t.Fatal("LoadState changed its base")
	}
	// Bad states: named errors.
	for _, bad := range [][]byte{nil, []byte("BYFL"), st[:len(st)-1], append(bytes.Clone(st), 0), []byte("BYFL\x01\x80")} {
		if _, err := LoadState(base, bad); !errors.Is(err, ErrState) {
			t.Errorf("LoadState(%d bytes): %v", len(bad), err)
		}
	}
	other, _ := New(Geometry{Size: 1 << 19, SectorSize: 4096, WriteUnit: 1, Erased: 0xFF}, nil)
	if _, err := LoadState(other, st); !errors.Is(err, ErrState) {
		t.Errorf("another geometry: %v", err)
	}
}

func FuzzLoadState(f *testing.F) {
	g := Geometry{Size: 64 << 10, SectorSize: 4096, WriteUnit: 1, Erased: 0xFF}
	base, _ := New(g, nil)
	c := base.Clone()
	c.Erase(4096)
	c.Program(4096, []byte("x"))
	f.Add(c.AppendState(nil, base))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := LoadState(base, data)
		if err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatal(err)
			}
			return
		}
		for s := 0; s < g.Sectors(); s++ {
			_ = got.Wear(s)
		}
		_ = got.AppendState(nil, base)
	})
}
