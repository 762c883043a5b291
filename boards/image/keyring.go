package image

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
)

// KeyID returns the key id of a public key: the first 8 bytes of the
// SHA-256 of its raw 32 bytes.
func KeyID(pub ed25519.PublicKey) [8]byte {
	sum := sha256.Sum256(pub)
	return [8]byte(sum[:8])
}

// Keyring holds the trusted public keys, found by key id. The zero value
// and a nil *Keyring are empty keyrings. A Keyring is not safe for
// concurrent Add; lookups alone may run concurrently.
type Keyring struct {
	keys map[[8]byte]ed25519.PublicKey
}

// NewKeyring returns a keyring trusting pubs. It panics if one of them is
// not a 32-byte Ed25519 public key or two share a key id: keys come from
// GenerateKey or ParsePublicKeyPEM, which only return valid ones. Use Add
// to handle keys of unknown origin.
func NewKeyring(pubs ...ed25519.PublicKey) *Keyring {
	k := new(Keyring)
	for _, p := range pubs {
		if err := k.Add(p); err != nil {
			panic(err)
		}
	}
	return k
}

// Add trusts pub. Adding a key that is already trusted does nothing; a
// different key with the same key id is refused.
func (k *Keyring) Add(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("image: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	id := KeyID(pub)
	if old, ok := k.keys[id]; ok {
		if bytes.Equal(old, pub) {
			return nil
		}
		return fmt.Errorf("image: key id %x is already taken by another key", id)
	}
	if k.keys == nil {
		k.keys = make(map[[8]byte]ed25519.PublicKey)
	}
	k.keys[id] = bytes.Clone(pub)
	return nil
}

// Lookup returns the trusted key with key id id.
func (k *Keyring) Lookup(id [8]byte) (ed25519.PublicKey, bool) {
	if k == nil {
		return nil, false
	}
	pub, ok := k.keys[id]
	return pub, ok
}
