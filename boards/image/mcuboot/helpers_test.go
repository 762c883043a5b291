package mcuboot_test

import (
	"bytes"
	"crypto"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/imagetest"
	"brickyard/boards/image/mcuboot"
)

const slot = 0x60000 // the slot size the tests' images are packed for

func counter(n uint32) *uint32 { return &n }

// opts are imgtool's usual options: -H 0x200 --pad-header -S 0x60000 -v 1.2.3.
func opts() mcuboot.PackOptions {
	return mcuboot.PackOptions{Version: image.Version{Major: 1, Minor: 2, Patch: 3}, HeaderSize: 0x200, PadHeader: true, SlotSize: slot}
}

func pack(t testing.TB, s crypto.Signer, o mcuboot.PackOptions, payload []byte) []byte {
	t.Helper()
	img, err := mcuboot.Pack(s, nil, o, payload)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return img
}

func verify(img []byte, keys *image.Keyring, r mcuboot.Rules, p image.Policy) (image.Info, error) {
	return mcuboot.Verify(bytes.NewReader(img), int64(len(img)), keys, r, p)
}

// sigOf is the signature type of an algorithm of imagetest.
func sigOf(alg string) string { return alg }

var algs = imagetest.Algorithms
