package image

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
)

// KeyID returns the key id of a public key: the first 8 bytes of the
// SHA-256 of its raw 32 bytes.
func KeyID(pub ed25519.PublicKey) [8]byte {
	sum := sha256.Sum256(pub)
	return [8]byte(sum[:8])
}

// Keyring holds the trusted public keys: Ed25519 keys, found by BYFW key
// id, and the keys of the other formats' signatures (ECDSA P-256, RSA of
// 2048, 3072 or 4096 bits), which each format finds by its own rule (a
// key hash, a key digest, or trying each). The zero value and a nil
// *Keyring are empty keyrings. A Keyring is not safe for concurrent Add;
// lookups and CheckSignature alone may run concurrently (with a memo
// safe for it).
type Keyring struct {
	byID map[[8]byte]ed25519.PublicKey
	all  []TrustedKey
	memo SignatureMemo // UseMemo's; nil remembers nothing
}

// TrustedKey is one key of a Keyring with the encodings the formats hash
// to name it. Its fields are shared: callers must not modify them.
type TrustedKey struct {
	Public crypto.PublicKey // ed25519.PublicKey, *ecdsa.PublicKey or *rsa.PublicKey
	SPKI   []byte           // PKIX SubjectPublicKeyInfo DER
	Name   string           // KeyName(Public): algorithm and fingerprint
}

// SignatureMemo remembers the signatures that verified, by an ID
// CheckSignature derives from the key, the message and the signature.
// A memo shared by goroutines must be safe for concurrent use (the shell
// that shares it provides one: sim/fleet.NewSignatureMemo).
type SignatureMemo interface {
	Verified(id [sha256.Size]byte) bool
	Remember(id [sha256.Size]byte)
}

// UseMemo has CheckSignature remember the signatures that verified in m
// (nil: none). Set it before the Keyring is used, as keys are added.
func (k *Keyring) UseMemo(m SignatureMemo) { k.memo = m }

// CheckSignature returns verify(), the check of sig over msg with the
// trusted key whose encoding is key, and with a memo (UseMemo) remembers
// a true answer: asked again for the same key, msg and sig it answers
// true without verifying. A signature check is a pure function of the
// three, and the devices of a fleet sharing a Keyring check the same
// image's signature at each of their boots, so each is verified once (an
// Ed25519 check costs about twice the SHA-256 of a 48 KiB image). A false
// answer is never remembered.
func (k *Keyring) CheckSignature(key, msg, sig []byte, verify func() bool) bool {
	if k == nil || k.memo == nil {
		return verify()
	}
	d := sha256.New()
	for _, b := range [][]byte{key, msg, sig} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		d.Write(n[:])
		d.Write(b)
	}
	var id [sha256.Size]byte
	d.Sum(id[:0])
	if k.memo.Verified(id) {
		return true
	}
	if !verify() {
		return false
	}
	k.memo.Remember(id)
	return true
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
	return k.AddKey(pub)
}

// AddKey trusts pub, a key of any algorithm KeyAlgorithm names: Ed25519,
// ECDSA P-256, or RSA of 2048, 3072 or 4096 bits with a public exponent
// the standard library verifies with. Adding a key that is already
// trusted does nothing; an Ed25519 key whose key id another key has is
// refused.
func (k *Keyring) AddKey(pub crypto.PublicKey) error {
	alg, err := KeyAlgorithm(pub)
	if err != nil {
		return err
	}

	if ed, ok := pub.(ed25519.PublicKey); ok {
		ed = bytes.Clone(ed)
		pub = ed
		id := KeyID(ed)
		if old, ok := k.byID[id]; ok {
			if bytes.Equal(old, ed) {
				return nil
			}
			return fmt.Errorf("image: key id %x is already taken by another key", id)
		}
		if k.byID == nil {
			k.byID = make(map[[8]byte]ed25519.PublicKey)
		}
		k.byID[id] = ed
	} else {
		for _, t := range k.all {
			if e, ok := t.Public.(interface{ Equal(crypto.PublicKey) bool }); ok && e.Equal(pub) {
				return nil
			}
		}
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("image: %s key: %w", alg, err)
	}
	k.all = append(k.all, TrustedKey{Public: pub, SPKI: der, Name: keyName(alg, der)})
	return nil
}

// Lookup returns the trusted Ed25519 key with key id id.
func (k *Keyring) Lookup(id [8]byte) (ed25519.PublicKey, bool) {
	if k == nil {
		return nil, false
	}
	pub, ok := k.byID[id]
	return pub, ok
}

// Keys returns every trusted key in the order they were added. The slice
// is the keyring's own: callers must not modify it.
func (k *Keyring) Keys() []TrustedKey {
	if k == nil {
		return nil
	}
	return k.all
}

// Name returns the KeyName of the trusted Ed25519 key with key id id,
// "" when there is none.
func (k *Keyring) Name(id [8]byte) string {
	pub, ok := k.Lookup(id)
	if !ok {
		return ""
	}
	for _, t := range k.all {
		if ed, ok := t.Public.(ed25519.PublicKey); ok && bytes.Equal(ed, pub) {
			return t.Name
		}
	}
	return ""
}

// Len is the number of trusted keys.
func (k *Keyring) Len() int { return len(k.Keys()) }

// KeyAlgorithm names a public key's algorithm as brickyard's flags and
// reports do: "ed25519", "ecdsa-p256", "rsa-2048", "rsa-3072" or
// "rsa-4096". Any other key is an error.
func KeyAlgorithm(pub crypto.PublicKey) (string, error) {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return "", fmt.Errorf("image: Ed25519 public key is %d bytes, want %d", len(p), ed25519.PublicKeySize)
		}
		return "ed25519", nil
	case *ecdsa.PublicKey:
		if p == nil || p.Curve != elliptic.P256() {
			return "", fmt.Errorf("image: ECDSA key is not on P-256, the one curve the formats share")
		}
		return "ecdsa-p256", nil
	case *rsa.PublicKey:
		if p == nil || p.N == nil {
			return "", fmt.Errorf("image: empty RSA key")
		}
		switch bits := p.N.BitLen(); bits {
		case 2048, 3072, 4096:
			if p.E < 3 || p.E%2 == 0 {
				return "", fmt.Errorf("image: RSA public exponent %d is not an odd number of at least 3", p.E)
			}
			return fmt.Sprintf("rsa-%d", bits), nil
		default:
			return "", fmt.Errorf("image: RSA key of %d bits; want 2048, 3072 or 4096", bits)
		}
	case nil:
		return "", fmt.Errorf("image: no key")
	}
	return "", fmt.Errorf("image: a %T is not a key type of any image format (want Ed25519, ECDSA P-256 or RSA)", pub)
}

// KeyName is how reports name a key: its algorithm and the first 8 bytes
// of the SHA-256 of its PKIX DER encoding, in hex ("rsa-3072 9f1c…").
func KeyName(pub crypto.PublicKey) (string, error) {
	alg, err := KeyAlgorithm(pub)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("image: %s key: %w", alg, err)
	}
	return keyName(alg, der), nil
}

func keyName(alg string, spki []byte) string {
	sum := sha256.Sum256(spki)
	return fmt.Sprintf("%s %x", alg, sum[:8])
}
