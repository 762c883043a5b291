package image_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"brickyard/boards/image"
)

func TestKeyring(t *testing.T) {
	pub := pubOf(goldenKey())
	var k image.Keyring // the zero value is usable
	if _, ok := k.Lookup(image.KeyID(pub)); ok {
		t.Fatal("empty keyring found a key")
	}
	mine := append(ed25519.PublicKey(nil), pub...)
	if err := k.Add(mine); err != nil {
		t.Fatal(err)
	}
	if err := k.Add(pub); err != nil {
		t.Fatalf("adding the same key twice: %v", err)
	}
	mine[0] ^= 1 // the keyring holds its own copy
	if got, ok := k.Lookup(image.KeyID(pub)); !ok || !bytes.Equal(got, pub) {
		t.Fatalf("Lookup = %x, %v", got, ok)
	}
	for _, bad := range []ed25519.PublicKey{nil, pub[:31], append(append(ed25519.PublicKey(nil), pub...), 0)} {
		if err := k.Add(bad); err == nil {
			t.Errorf("Add(%d bytes) succeeded", len(bad))
		}
	}
	var nilRing *image.Keyring
	if _, ok := nilRing.Lookup(image.KeyID(pub)); ok {
		t.Fatal("nil keyring found a key")
	}
	defer func() {
		if recover() == nil {
			t.Error("NewKeyring with a 31-byte key did not panic")
		}
	}()
	image.NewKeyring(pub[:31])
}
