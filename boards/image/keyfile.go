package image

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
)

// PEM block types of the key files.
const (
	privateKeyPEMType = "PRIVATE KEY" // PKCS#8, RFC 5208 / RFC 8410
	publicKeyPEMType  = "PUBLIC KEY"  // PKIX SubjectPublicKeyInfo, RFC 5280 / RFC 8410
)

// GenerateKey makes a new signing key pair from 32 bytes of rand (a nil
// rand means crypto/rand). The same 32 bytes always give the same keys.
func GenerateKey(rand io.Reader) (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("image: generate key: %w", err)
	}
	return pub, priv, nil
}

// MarshalPrivateKeyPEM encodes priv as an unencrypted PKCS#8 "PRIVATE
// KEY" PEM block, the form `openssl genpkey -algorithm ed25519` writes.
func MarshalPrivateKeyPEM(priv ed25519.PrivateKey) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("image: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("image: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: privateKeyPEMType, Bytes: der}), nil
}

// MarshalPublicKeyPEM encodes pub as a PKIX "PUBLIC KEY" PEM block, the
// form `openssl pkey -pubout` writes.
func MarshalPublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("image: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("image: marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: publicKeyPEMType, Bytes: der}), nil
}

// ParsePrivateKeyPEM decodes the first PEM block of data, which must be an
// unencrypted PKCS#8 "PRIVATE KEY" holding an Ed25519 key.
func ParsePrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	der, err := pemBlock(data, privateKeyPEMType, "private")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("image: private key: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("image: private key is a %T, want an Ed25519 key", key)
	}
	return priv, nil
}

// ParsePublicKeyPEM decodes the first PEM block of data, which must be a
// PKIX "PUBLIC KEY" holding an Ed25519 key.
func ParsePublicKeyPEM(data []byte) (ed25519.PublicKey, error) {
	der, err := pemBlock(data, publicKeyPEMType, "public")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("image: public key: %w", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("image: public key is a %T, want an Ed25519 key", key)
	}
	return pub, nil
}

// pemBlock returns the bytes of data's first PEM block, which must have
// type want and no headers (legacy PEM encryption uses headers).
func pemBlock(data []byte, want, which string) ([]byte, error) {
	block, _ := pem.Decode(data)
	switch {
	case block == nil:
		return nil, fmt.Errorf("image: %s key file holds no PEM block", which)
	case block.Type == "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("image: %s key file is encrypted; want an unencrypted %q PEM block", which, want)
	case block.Type != want:
		return nil, fmt.Errorf("image: %s key file holds a %q PEM block, want %q", which, block.Type, want)
	case len(block.Headers) != 0:
		return nil, fmt.Errorf("image: %s key PEM block has headers (encrypted?); want a plain %q block", which, want)
	}
	return block.Bytes, nil
}
