package fit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"math/big"
	"strings"

	"brickyard/boards/image"
)

// ControlKeys reads the public keys U-Boot verifies FIT signatures with
// from its control device tree (u-boot.dtb, as mkimage -K writes it):
// the /signature/key-* nodes, RSA ("rsa,modulus", "rsa,exponent") and
// ECDSA P-256 ("ecdsa,curve" prime256v1, "ecdsa,x-point", "ecdsa,y-point").
// Keys of other kinds are an error.
func ControlKeys(dtb []byte) ([]crypto.PublicKey, error) {
	t, err := ReadTree(bytesReader(dtb), int64(len(dtb)))
	if err != nil {
		return nil, err
	}
	sig, ok := t.Root.Child("signature")
	if !ok {
		return nil, fmt.Errorf("fit: the control device tree has no /signature node")
	}
	var out []crypto.PublicKey
	for _, k := range sig.Children {
		if !strings.HasPrefix(k.Name, "key-") {
			continue
		}
		pub, err := controlKey(k)
		if err != nil {
			return nil, fmt.Errorf("fit: /signature/%s: %w", k.Name, err)
		}
		if _, err := image.KeyAlgorithm(pub); err != nil {
			return nil, fmt.Errorf("fit: /signature/%s: %w", k.Name, err)
		}
		out = append(out, pub)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("fit: /signature holds no key-* node")
	}
	return out, nil
}

func controlKey(k *Node) (crypto.PublicKey, error) {
	if m, ok := k.Get("rsa,modulus"); ok && m.Value != nil {
		e, ok := k.Uint("rsa,exponent")
		if !ok || e < 3 || e > 1<<31-1 {
			return nil, fmt.Errorf("no usable rsa,exponent")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(m.Value), E: int(e)}, nil
	}
	if c, ok := k.String("ecdsa,curve"); ok {
		if c != "prime256v1" {
			return nil, fmt.Errorf("ECDSA curve %q: want prime256v1", c)
		}
		x, xok := k.Get("ecdsa,x-point")
		y, yok := k.Get("ecdsa,y-point")
		if !xok || !yok || len(x.Value) > 32 || len(y.Value) > 32 {
			return nil, fmt.Errorf("no usable ecdsa,x-point and ecdsa,y-point")
		}
		raw := make([]byte, 65)
		raw[0] = 4
		copy(raw[33-len(x.Value):33], x.Value)
		copy(raw[65-len(y.Value):], y.Value)
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	}
	return nil, fmt.Errorf("neither an RSA nor an ECDSA key")
}
