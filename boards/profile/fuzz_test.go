package profile_test

import (
	"os"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/profile"
	"brickyard/flash"
)

// Board profile files are user input (--boards FILE): any bytes give
// profiles or an error naming the file, never a panic; and a profile that
// parses can be provisioned or says why not (a layout that fits the chip,
// a loader whose slots exist).
func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("../../configs/boards.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("boards:\n  b:\n    bootloader: single-bank\n    flash: {size: 64KiB, sector: 4KiB, write_unit: 4}\n    partitions:\n      - {name: app, offset: 0, size: 32KiB}\n"))
	f.Add([]byte("boards:\n  b:\n    flash: {size: .nan}\n"))
	f.Add([]byte("boards: {x: {flash: {size: 1TiB, sector: 1, write_unit: 0}}}\n"))
	pub, priv, err := image.GenerateKey(zeros{})
	if err != nil {
		f.Fatal(err)
	}
	keys := image.NewKeyring(pub)
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := profile.Parse("fuzz.yaml", data, profile.Loaders())
		if err != nil {
			return
		}
		for _, name := range set.Names() {
			p, _ := set.Get(name)
			if p.Flash.Size > 64<<20 || p.SlotSize() < image.HeaderSize+image.TrailerSize+16 {
				continue // valid, but too large for fuzzing speed, or no room for an image
			}
			raw, err := image.Pack(priv, image.Header{Version: image.Version{Major: 1}, BoardID: name}, make([]byte, 16))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			_, _ = p.Provision(keys, flash.NewBlob(raw, p.Flash.Erased)) // an error is fine; a panic is not
		}
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
