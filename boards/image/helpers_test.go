package image_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"testing"

	"brickyard/boards/image"
)

// goldenSeed is the fixed seed of the test signing key: bytes 0x00..0x1f.
func goldenSeed() []byte {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return seed
}

// goldenKey is the deterministic key the golden vectors are signed with.
func goldenKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(goldenSeed()) }

// otherKey is a second deterministic key, not in the golden keyring.
func otherKey() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = 0xA0 + byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func pubOf(priv ed25519.PrivateKey) ed25519.PublicKey { return priv.Public().(ed25519.PublicKey) }

// goldenHeader is the header of testdata/golden.img, as the caller gives it to Pack.
func goldenHeader() image.Header {
	return image.Header{
		BoardID:         "ab-nor",
		Version:         image.Version{Major: 2, Minor: 5, Patch: 0, Build: 7},
		SecurityCounter: 3,
	}
}

// goldenPayload is the payload of testdata/golden.img.
func goldenPayload() []byte {
	return []byte("brickyard golden image: payload bytes, signed with the key from seed 00..1f\n")
}

// goldenPolicy accepts testdata/golden.img.
var goldenPolicy = image.Policy{Board: "ab-nor", MinSecurityCounter: 3}

func mustPack(t testing.TB, priv ed25519.PrivateKey, h image.Header, payload []byte) []byte {
	t.Helper()
	img, err := image.Pack(priv, h, payload)
	if err != nil {
		t.Fatalf("Pack: %v", err)
	}
	return img
}

// resign recomputes the digest and signature of img (its header and payload
// as they now are) with priv, so that a header edit survives the trailer
// checks. hs is the image's header size, n its payload size.
func resign(img []byte, hs, n int, priv ed25519.PrivateKey) []byte {
	out := append([]byte(nil), img...)
	sum := sha256.Sum256(out[:hs+n])
	copy(out[hs+n:], sum[:])
	copy(out[hs+n+32:], ed25519.Sign(priv, sum[:]))
	return out
}
