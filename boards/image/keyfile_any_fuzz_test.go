package image

import (
	"crypto"
	"testing"
)

// FuzzParseAnyKeyPEM feeds arbitrary bytes to the key parsers of every
// algorithm: no panic; a key that parses is one KeyAlgorithm names and
// survives a PEM round trip.
func FuzzParseAnyKeyPEM(f *testing.F) {
	_, priv, err := GenerateKey(nil)
	if err != nil {
		f.Fatal(err)
	}
	s, _ := MarshalSignerPEM(priv)
	p, _ := MarshalAnyPublicKeyPEM(priv.Public())
	f.Add(s)
	f.Add(p)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN RSA PUBLIC KEY-----\nMIIB\n-----END RSA PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if k, err := ParseAnyPublicKeyPEM(data); err == nil {
			roundTrip(t, k)
		}
		if s, err := ParseSignerPEM(data); err == nil {
			roundTrip(t, s.Public())
			out, err := MarshalSignerPEM(s)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseSignerPEM(out); err != nil {
				t.Fatalf("private key does not round-trip: %v", err)
			}
		}
	})
}

func roundTrip(t *testing.T, k crypto.PublicKey) {
	t.Helper()
	if _, err := KeyAlgorithm(k); err != nil {
		t.Fatalf("parsed a key KeyAlgorithm refuses: %v", err)
	}
	out, err := MarshalAnyPublicKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParseAnyPublicKeyPEM(out)
	if err != nil || !k2.(interface{ Equal(crypto.PublicKey) bool }).Equal(k) {
		t.Fatalf("public key does not round-trip: %v", err)
	}
}
