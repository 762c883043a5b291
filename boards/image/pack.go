package image

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
)

// Pack builds a signed image of h and payload and returns all of its
// bytes. It fills in what the key and payload determine: PayloadSize and
// KeyID always, FormatVersion and HeaderSize when they are zero (to 1 and
// 64). The caller sets BoardID, Version, SecurityCounter, Flags and, for
// a header larger than 64 bytes, HeaderSize. The result is what
// ParseHeader and Verify accept; a header they would refuse is an error
// here (ErrBadHeader).
func Pack(priv ed25519.PrivateKey, h Header, payload []byte) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("image: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	if !bytes.Equal(ed25519.NewKeyFromSeed(priv.Seed()), priv) {
		return nil, fmt.Errorf("image: private key's public half does not match its seed")
	}
	if len(payload) > MaxPayloadSize {
		return nil, fmt.Errorf("%w: payload is %d bytes, at most %d", ErrBadHeader, len(payload), MaxPayloadSize)
	}
	if h.FormatVersion == 0 {
		h.FormatVersion = FormatVersion
	}
	if h.HeaderSize == 0 {
		h.HeaderSize = HeaderSize
	}
	h.PayloadSize = uint32(len(payload))
	h.KeyID = KeyID(priv.Public().(ed25519.PublicKey))
	if err := h.check(); err != nil {
		return nil, err
	}

	img := make([]byte, 0, h.TotalSize())
	img = append(img, h.Encode()...)
	img = append(img, payload...)
	digest := sha256.Sum256(img)
	img = append(img, digest[:]...)
	img = append(img, ed25519.Sign(priv, digest[:])...)
	return img, nil
}
