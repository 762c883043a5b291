package mcuboot_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/imagetest"
	"brickyard/boards/image/mcuboot"
)

var update = flag.Bool("update", false, "rewrite testdata/*.img from the code (review the diff)")

// The golden vectors: images Pack makes with imagetest's Ed25519 key 0
// (deterministic), with the imgtool command that writes the same bytes.
// They were compared with imgtool 2.4.0's output when written; the test
// keeps them from drifting.
var golden = []struct {
	file, imgtool string
	opts          func() mcuboot.PackOptions
	signed        bool
}{
	{"unsigned.img", "imgtool sign -H 0x20 --pad-header -S 0x4000 -v 0.1.0 payload unsigned.img",
		func() mcuboot.PackOptions {
			return mcuboot.PackOptions{Version: image.Version{Minor: 1}, HeaderSize: 0x20, PadHeader: true, SlotSize: 0x4000}
		}, false},
	{"ed25519.img", "imgtool sign -k key.pem -H 0x200 --pad-header -S 0x4000 -v 1.2.3+4 -s 5 -d \"(1,1.0.0+0)\" payload ed25519.img",
		func() mcuboot.PackOptions {
			return mcuboot.PackOptions{Version: image.Version{Major: 1, Minor: 2, Patch: 3, Build: 4}, HeaderSize: 0x200, PadHeader: true,
				SlotSize: 0x4000, SecurityCounter: counter(5), Dependencies: []mcuboot.Dependency{{ImageID: 1, MinVersion: image.Version{Major: 1}}}}
		}, true},
	{"ed25519-confirm.img", "imgtool sign -k key.pem -H 0x200 --pad-header -S 0x4000 -v 2.0.0 --align 4 --confirm payload ed25519-confirm.img",
		func() mcuboot.PackOptions {
			return mcuboot.PackOptions{Version: image.Version{Major: 2}, HeaderSize: 0x200, PadHeader: true, SlotSize: 0x4000, Align: 4, Confirm: true}
		}, true},
}

// goldenPayload is the payload of every golden image.
var goldenPayload = []byte("brickyard MCUboot golden image payload, 64 bytes long..........\n")

func TestGolden(t *testing.T) {
	for _, g := range golden {
		t.Run(g.file, func(t *testing.T) {
			var s = imagetest.Key("ed25519", 0)
			if !g.signed {
				s = nil
			}
			got, err := mcuboot.Pack(s, nil, g.opts(), goldenPayload)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", g.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Pack's bytes differ from %s (%s)", path, g.imgtool)
			}
			sig := mcuboot.SigEd25519
			if !g.signed {
				sig = mcuboot.SigNone
			}
			info, err := verify(want, imagetest.Keyring("ed25519"), mcuboot.Rules{Signature: sig}, image.Policy{})
			if err != nil {
				t.Fatal(err)
			}
			if info.Version != g.opts().Version {
				t.Errorf("version %s, want %s", info.Version, g.opts().Version)
			}
		})
	}
}
