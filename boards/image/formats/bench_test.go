package formats_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/espapp"
	"brickyard/boards/image/fit"
	"brickyard/boards/image/formats"
	"brickyard/boards/image/imagetest"
	"brickyard/boards/image/mcuboot"
)

// BenchmarkVerify measures a board's verification of a 256 KiB image of
// each format, signed (ESP with secure boot v2 RSA-3072): bytes per second
// and allocations per verification.
func BenchmarkVerify(b *testing.B) {
	payload := imagetest.Payload(256<<10, 1)
	ed := imagetest.Key("ed25519", 0)
	byfw, _ := image.Pack(ed.(ed25519.PrivateKey), image.Header{BoardID: "b", Version: image.Version{Major: 1}}, payload)
	mcu, _ := mcuboot.Pack(ed, nil, mcuboot.PackOptions{Version: image.Version{Major: 1}, PadHeader: true, SlotSize: 1 << 20}, payload)
	esp, _ := espapp.Pack(espapp.PackOptions{Version: "1.0.0"}, payload, nil, imagetest.Key("rsa-3072", 0))
	f, _ := fit.Pack(fit.PackOptions{Description: "b", Version: "1.0.0",
		Images:  []fit.Image{{Name: "k", Description: "k", Type: "kernel", Data: payload}},
		Configs: []fit.Config{{Name: "c", Description: "c", Kernel: "k", Sign: &fit.Signature{Algo: "sha256,rsa2048", KeyNameHint: "dev"}}}},
		imagetest.Key("rsa-2048", 0), nil)
	keys := imagetest.Keyring()
	for _, c := range []struct {
		name  string
		img   []byte
		rules formats.Rules
	}{
		{"byfw", byfw, all},
		{"mcuboot-ed25519", mcu, all},
		{"esp-app-sbv2-rsa3072", esp, formats.Rules{Formats: image.Formats, ESP: espapp.Rules{SecureBoot: espapp.SchemeRSA}}},
		{"fit-rsa2048", f, all},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := bytes.NewReader(c.img)
			b.SetBytes(int64(len(c.img)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := formats.Verify(r, int64(len(c.img)), keys, c.rules, image.Policy{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
