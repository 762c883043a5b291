// Package boardtest builds boards, keys and signed images for tests of
// bootloader models, the sweep and the device simulator. Everything is
// deterministic: keys come from fixed seeds.
package boardtest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"

	"brickyard/boards"
	"brickyard/boards/image"
	"brickyard/flash"
)

// Key returns the deterministic signing key number n.
func Key(n int) ed25519.PrivateKey {
	seed := sha256.Sum256(fmt.Appendf(nil, "brickyard test key %d", n))
	return ed25519.NewKeyFromSeed(seed[:])
}

// Keyring trusts Key(0).
func Keyring() *image.Keyring {
	return image.NewKeyring(Key(0).Public().(ed25519.PublicKey))
}

// Spec describes a test image.
type Spec struct {
	Board       string
	Version     string // "2.5.0"
	PayloadSize int    // bytes; the payload is a pattern derived from Version
	Flags       uint32
	Counter     uint32 // security counter
	Key         int    // signing key number; 0 is the trusted one
}

// Image packs a signed image.
func Image(s Spec) []byte {
	v, err := image.ParseVersion(s.Version)
	if err != nil {
		panic(err)
	}
	payload := make([]byte, s.PayloadSize)
	for i := range payload {
		payload[i] = byte(i) ^ byte(v.Major*31+v.Minor*7) ^ byte(v.Patch)
	}
	img, err := image.Pack(Key(s.Key), image.Header{Version: v, Flags: s.Flags, SecurityCounter: s.Counter, BoardID: s.Board}, payload)
	if err != nil {
		panic(err)
	}
	return img
}

// Blob packs a signed image as a flash blob padded with erased.
func Blob(s Spec, erased byte) *flash.Blob { return flash.NewBlob(Image(s), erased) }

// Board makes a provisioned board trusting Keyring (see boards.Provision).
func Board(id string, g flash.Geometry, layout boards.Layout, l boards.Bootloader, factory *flash.Blob) (*boards.Board, error) {
	return boards.Provision(id, g, layout, l, Keyring(), factory)
}
