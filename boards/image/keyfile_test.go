package image_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"testing/iotest"

	"brickyard/boards/image"
)

func TestGenerateKey_DeterministicFromReader(t *testing.T) {
	pub, priv, err := image.GenerateKey(bytes.NewReader(goldenSeed()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(priv, goldenKey()) || !bytes.Equal(pub, pubOf(goldenKey())) {
		t.Fatal("GenerateKey(seed) differs from NewKeyFromSeed(seed)")
	}
	if _, _, err := image.GenerateKey(bytes.NewReader(goldenSeed()[:31])); err == nil {
		t.Fatal("a short random source did not fail")
	}
	if _, _, err := image.GenerateKey(iotest.ErrReader(iotest.ErrTimeout)); err == nil {
		t.Fatal("a failing random source did not fail")
	}
	a, _, err := image.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := image.GenerateKey(nil)
	if bytes.Equal(a, b) {
		t.Fatal("two keys from crypto/rand are equal")
	}
}

func TestKeyPEM_RoundTrip(t *testing.T) {
	pub, priv, err := image.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	privPEM, err := image.MarshalPrivateKeyPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := image.MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(privPEM, []byte("-----BEGIN PRIVATE KEY-----\n")) ||
		!bytes.HasPrefix(pubPEM, []byte("-----BEGIN PUBLIC KEY-----\n")) {
		t.Fatalf("PEM types:\n%s\n%s", privPEM, pubPEM)
	}
	priv2, err := image.ParsePrivateKeyPEM(privPEM)
	if err != nil || !bytes.Equal(priv2, priv) {
		t.Fatalf("private key round trip: %v", err)
	}
	pub2, err := image.ParsePublicKeyPEM(pubPEM)
	if err != nil || !bytes.Equal(pub2, pub) {
		t.Fatalf("public key round trip: %v", err)
	}
	// Leading text and a following block are allowed: the first block counts.
	withText := append([]byte("comment line\n"), append(privPEM, pubPEM...)...)
	if priv3, err := image.ParsePrivateKeyPEM(withText); err != nil || !bytes.Equal(priv3, priv) {
		t.Fatalf("private key after text: %v", err)
	}
	// Keys read back sign and verify images.
	img := mustPack(t, priv2, goldenHeader(), []byte("x"))
	if _, err := image.VerifyBytes(img, image.NewKeyring(pub2), goldenPolicy); err != nil {
		t.Fatal(err)
	}
}

func TestKeyPEM_MarshalRejectsBadKeys(t *testing.T) {
	if _, err := image.MarshalPrivateKeyPEM(goldenKey()[:32]); err == nil {
		t.Error("MarshalPrivateKeyPEM took a 32-byte key")
	}
	if _, err := image.MarshalPublicKeyPEM(ed25519.PublicKey(make([]byte, 31))); err == nil {
		t.Error("MarshalPublicKeyPEM took a 31-byte key")
	}
}

func TestKeyPEM_ParseErrors(t *testing.T) {
	privPEM, _ := image.MarshalPrivateKeyPEM(goldenKey())
	pubPEM, _ := image.MarshalPublicKeyPEM(pubOf(goldenKey()))
	ec, err := ecdsa.GenerateKey(elliptic.P256(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ecPrivDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPubDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	block := func(typ string, der []byte, hdr map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: hdr, Bytes: der})
	}
	privDER, _ := pem.Decode(privPEM)
	pubDER, _ := pem.Decode(pubPEM)

	for _, tc := range []struct {
		name   string
		public bool
		in     []byte
		says   string // the error names the problem
	}{
		{"private: empty", false, nil, "no PEM block"},
		{"private: not PEM", false, []byte("not a key"), "no PEM block"},
		{"private: raw seed", false, goldenSeed(), "no PEM block"},
		{"private: given a public key", false, pubPEM, `"PUBLIC KEY" PEM block, want "PRIVATE KEY"`},
		{"private: OpenSSH type", false, block("OPENSSH PRIVATE KEY", privDER.Bytes, nil), `"OPENSSH PRIVATE KEY"`},
		{"private: EC type", false, block("EC PRIVATE KEY", privDER.Bytes, nil), `"EC PRIVATE KEY"`},
		{"private: encrypted PKCS#8", false, block("ENCRYPTED PRIVATE KEY", privDER.Bytes, nil), "encrypted"},
		{"private: legacy encrypted", false, block("PRIVATE KEY", privDER.Bytes, map[string]string{"Proc-Type": "4,ENCRYPTED"}), "headers"},
		{"private: ECDSA key", false, block("PRIVATE KEY", ecPrivDER, nil), "*ecdsa.PrivateKey, want an Ed25519 key"},
		{"private: bad DER", false, block("PRIVATE KEY", privDER.Bytes[:10], nil), "image: private key:"},
		{"public: empty", true, nil, "no PEM block"},
		{"public: given a private key", true, privPEM, `"PRIVATE KEY" PEM block, want "PUBLIC KEY"`},
		{"public: certificate type", true, block("CERTIFICATE", pubDER.Bytes, nil), `"CERTIFICATE"`},
		{"public: ECDSA key", true, block("PUBLIC KEY", ecPubDER, nil), "*ecdsa.PublicKey, want an Ed25519 key"},
		{"public: bad DER", true, block("PUBLIC KEY", pubDER.Bytes[:20], nil), "image: public key:"},
		{"public: headers", true, block("PUBLIC KEY", pubDER.Bytes, map[string]string{"X": "y"}), "headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.public {
				_, err = image.ParsePublicKeyPEM(tc.in)
			} else {
				_, err = image.ParsePrivateKeyPEM(tc.in)
			}
			if err == nil {
				t.Fatal("parsed")
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %q does not say %q", err, tc.says)
			}
		})
	}
}
