package image

import (
	"bytes"
	"testing"
)

// Key files (--trust, --pubkey, --key, scenario trust:) are user input:
// any bytes give a key or a named error, never a panic; a key that parses
// writes back to a file that parses to the same key.
func FuzzParseKeyPEM(f *testing.F) {
	pub, priv, err := GenerateKey(bytes.NewReader(bytes.Repeat([]byte{3}, 64)))
	if err != nil {
		f.Fatal(err)
	}
	pubPEM, _ := MarshalPublicKeyPEM(pub)
	privPEM, _ := MarshalPrivateKeyPEM(priv)
	f.Add(pubPEM)
	f.Add(privPEM)
	f.Add(append(append([]byte{}, pubPEM...), privPEM...))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\n\n-----END RSA PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if k, err := ParsePublicKeyPEM(data); err == nil {
			out, err := MarshalPublicKeyPEM(k)
			if err != nil {
				t.Fatal(err)
			}
			if k2, err := ParsePublicKeyPEM(out); err != nil || !k2.Equal(k) {
				t.Fatalf("public key does not round-trip: %v", err)
			}
		}
		if k, err := ParsePrivateKeyPEM(data); err == nil {
			out, err := MarshalPrivateKeyPEM(k)
			if err != nil {
				t.Fatal(err)
			}
			if k2, err := ParsePrivateKeyPEM(out); err != nil || !k2.Equal(k) {
				t.Fatalf("private key does not round-trip: %v", err)
			}
		}
	})
}
