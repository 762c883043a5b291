package flash

import (
	"fmt"
	"runtime"
	"testing"
)

// Two 4 MiB banks holding the same two images on every chip.
var benchGeom = Geometry{Size: 8 << 20, SectorSize: 4096, WriteUnit: 4, Erased: 0xFF}

func benchImages() (a, b *Blob) {
	img := func(seed byte) *Blob {
		data := make([]byte, 4<<20)
		for i := range data {
			data[i] = byte(i*31) ^ seed
		}
		return NewBlob(data, 0xFF)
	}
	return img(0x11), img(0x22)
}

func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkMemoryPerChip reports the marginal heap per chip for 10,000
// chips. "factory": every chip is created from one factory blob holding
// both images. "installed": every chip starts erased and each bank is
// erased and programmed from the image blobs sector by sector, as a device
// install does (2,048 erases and 2,048 programs per chip).
func BenchmarkMemoryPerChip(b *testing.B) {
	const chips = 10_000
	imgA, imgB := benchImages()
	both := make([]byte, benchGeom.Size)
	imgA.ReadAt(both[:4<<20], 0)
	imgB.ReadAt(both[4<<20:], 0)
	factory := NewBlob(both, 0xFF)
	build := map[string]func() *Chip{
		"factory": func() *Chip {
			c, _ := New(benchGeom, factory)
			return c
		},
		"installed": func() *Chip {
			c, _ := New(benchGeom, nil)
			for bank, img := range []*Blob{imgA, imgB} {
				for off := 0; off < 4<<20; off += 4096 {
					addr := bank<<22 + off
					if err := c.Erase(addr); err != nil {
						panic(err)
					}
					if err := c.ProgramBlob(addr, img, off, 4096); err != nil {
						panic(err)
					}
				}
			}
			return c
		},
	}
	for _, name := range []string{"factory", "installed"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				all := make([]*Chip, chips)
				before := heapAfterGC()
				for i := range all {
					all[i] = build[name]()
				}
				after := heapAfterGC()
				b.ReportMetric(float64(after-before)/chips, "B/chip")
				runtime.KeepAlive(all)
			}
		})
	}
}

// BenchmarkProgramSector: one 4 KiB program into an erased sector.
func BenchmarkProgramSector(b *testing.B) {
	c, _ := New(benchGeom, nil)
	data := make([]byte, 4096)
	b.SetBytes(4096)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		addr := (i % benchGeom.Sectors()) * 4096
		if err := c.Erase(addr); err != nil {
			b.Fatal(err)
		}
		if err := c.Program(addr, data); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func ExampleChip_ProgramBlob() {
	g := Geometry{Size: 1 << 20, SectorSize: 4096, WriteUnit: 4, Erased: 0xFF}
	image := NewBlob([]byte("firmware v2"), 0xFF)
	c, _ := New(g, nil)
	_ = c.Erase(0)
	_ = c.ProgramBlob(0, image, 0, 4096) // one operation; the page is shared
	buf := make([]byte, 11)
	_ = c.Read(0, buf)
	fmt.Println(string(buf), c.Ops())
	// Output: firmware v2 2
}

var cloneSink *Chip

// BenchmarkClone: a clone of a chip that installed two images (as a fleet
// clones a provisioned factory board), then one erase and program in the
// clone, which is when it copies what it shares.
func BenchmarkClone(b *testing.B) {
	imgA, imgB := benchImages()
	c, _ := New(benchGeom, nil)
	for bank, img := range []*Blob{imgA, imgB} {
		for off := 0; off < 4<<20; off += 4096 {
			_ = c.Erase(bank<<22 + off)
			_ = c.ProgramBlob(bank<<22+off, img, off, 4096)
		}
	}
	data := make([]byte, 4096)
	b.Run("clone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			cloneSink = c.Clone()
		}
	})
	b.Run("clone+write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := c.Clone()
			if err := n.Erase(8192); err != nil {
				b.Fatal(err)
			}
			if err := n.Program(8192, data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
