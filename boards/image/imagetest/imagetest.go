// Package imagetest holds fixed signing keys of every algorithm the image
// formats use, for tests: Ed25519 keys derived from fixed seeds, and
// ECDSA P-256 and RSA keys made once with OpenSSL and kept in keys/ (Go
// cannot generate those deterministically). They are test keys: never
// trust them on anything real.
package imagetest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"embed"
	"fmt"

	"brickyard/boards/image"
)

//go:embed keys/*.pem
var keyFiles embed.FS

// Algorithms lists the key algorithms Key takes.
var Algorithms = []string{"ed25519", "ecdsa-p256", "rsa-2048", "rsa-3072"}

// Key returns test key n (0 or 1) of algorithm alg (one of Algorithms).
// Key 0 is the one tests trust; key 1 is "another key" of the same kind.
func Key(alg string, n int) crypto.Signer {
	if n < 0 || n > 1 {
		panic(fmt.Sprintf("imagetest: key %d: there are keys 0 and 1", n))
	}
	if alg == "ed25519" {
		seed := sha256.Sum256(fmt.Appendf(nil, "brickyard imagetest ed25519 key %d", n))
		return ed25519.NewKeyFromSeed(seed[:])
	}
	data, err := keyFiles.ReadFile(fmt.Sprintf("keys/%s-%d.pem", alg, n))
	if err != nil {
		panic(fmt.Sprintf("imagetest: no %s key %d", alg, n))
	}
	s, err := image.ParseSignerPEM(data)
	if err != nil {
		panic(err)
	}
	return s
}

// PEM returns key n of alg as a PKCS#8 PEM file.
func PEM(alg string, n int) []byte {
	b, err := image.MarshalSignerPEM(Key(alg, n))
	if err != nil {
		panic(err)
	}
	return b
}

// Keyring trusts key 0 of each algorithm given (all of them when none is).
func Keyring(algs ...string) *image.Keyring {
	if len(algs) == 0 {
		algs = Algorithms
	}
	var k image.Keyring
	for _, a := range algs {
		if err := k.AddKey(Key(a, 0).Public()); err != nil {
			panic(err)
		}
	}
	return &k
}

// Payload is n bytes of a pattern that depends on seed and holds no 0xff.
func Payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((i*7 + int(seed)) % 251)
	}
	return b
}
