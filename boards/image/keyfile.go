package image

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
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

// More PEM block types the general parsers read.
const (
	rsaPublicKeyPEMType  = "RSA PUBLIC KEY"  // PKCS#1 RSAPublicKey
	certificatePEMType   = "CERTIFICATE"     // X.509 (mkimage's keydir holds NAME.crt)
	rsaPrivateKeyPEMType = "RSA PRIVATE KEY" // PKCS#1 (openssl genrsa -traditional)
	ecPrivateKeyPEMType  = "EC PRIVATE KEY"  // SEC 1 (openssl ecparam -genkey)
)

// ParseAnyPublicKeyPEM decodes the first PEM block of data as a public key
// of any algorithm the formats sign with (see KeyAlgorithm): a PKIX
// "PUBLIC KEY", a PKCS#1 "RSA PUBLIC KEY", or the key of an X.509
// "CERTIFICATE". A private key is refused: give the public half.
func ParseAnyPublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("image: public key file holds no PEM block")
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("image: public key PEM block has headers; want a plain block")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case publicKeyPEMType:
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case rsaPublicKeyPEMType:
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case certificatePEMType:
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = c.PublicKey
		}
	case privateKeyPEMType, rsaPrivateKeyPEMType, ecPrivateKeyPEMType, "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return nil, fmt.Errorf("image: the file holds a private key (%q); give its public half (openssl pkey -pubout)", block.Type)
	default:
		return nil, fmt.Errorf("image: public key file holds a %q PEM block, want %q, %q or %q",
			block.Type, publicKeyPEMType, rsaPublicKeyPEMType, certificatePEMType)
	}
	if err != nil {
		return nil, fmt.Errorf("image: public key: %w", err)
	}
	if _, err := KeyAlgorithm(key); err != nil {
		return nil, err
	}
	return key, nil
}

// ParseSignerPEM decodes the first PEM block of data as an unencrypted
// private key of any algorithm the formats sign with: PKCS#8 "PRIVATE
// KEY" (what keygen, imgtool and openssl genpkey write), PKCS#1 "RSA
// PRIVATE KEY" or SEC 1 "EC PRIVATE KEY".
func ParseSignerPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	switch {
	case block == nil:
		return nil, fmt.Errorf("image: private key file holds no PEM block")
	case block.Type == "ENCRYPTED PRIVATE KEY" || len(block.Headers) != 0:
		return nil, fmt.Errorf("image: private key file is encrypted; want an unencrypted key")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case privateKeyPEMType:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case rsaPrivateKeyPEMType:
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case ecPrivateKeyPEMType:
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("image: private key file holds a %q PEM block, want %q, %q or %q",
			block.Type, privateKeyPEMType, rsaPrivateKeyPEMType, ecPrivateKeyPEMType)
	}
	if err != nil {
		return nil, fmt.Errorf("image: private key: %w", err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("image: private key is a %T, not a signing key", key)
	}
	if _, err := KeyAlgorithm(s.Public()); err != nil {
		return nil, err
	}
	return s, nil
}

// MarshalSignerPEM encodes s as an unencrypted PKCS#8 "PRIVATE KEY" PEM
// block, which imgtool, espsecure, mkimage and OpenSSL all read.
func MarshalSignerPEM(s crypto.Signer) ([]byte, error) {
	if _, err := KeyAlgorithm(s.Public()); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(s)
	if err != nil {
		return nil, fmt.Errorf("image: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: privateKeyPEMType, Bytes: der}), nil
}

// MarshalAnyPublicKeyPEM encodes pub as a PKIX "PUBLIC KEY" PEM block.
func MarshalAnyPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	if _, err := KeyAlgorithm(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("image: marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: publicKeyPEMType, Bytes: der}), nil
}

// KeyTypes are the algorithms GenerateSigner makes, as keygen's --type
// takes them.
var KeyTypes = []string{"ed25519", "ecdsa-p256", "rsa-2048", "rsa-3072", "rsa-4096"}

// GenerateSigner makes a new private key of algorithm alg (one of
// KeyTypes). An Ed25519 key takes its 32 seed bytes from rand (nil:
// crypto/rand); ECDSA and RSA keys always use the system's secure random
// source, as the standard library does since Go 1.26.
func GenerateSigner(alg string, rand io.Reader) (crypto.Signer, error) {
	switch alg {
	case "ed25519":
		_, priv, err := GenerateKey(rand)
		return priv, err
	case "ecdsa-p256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand)
		if err != nil {
			return nil, fmt.Errorf("image: generate key: %w", err)
		}
		return k, nil
	case "rsa-2048", "rsa-3072", "rsa-4096":
		bits := map[string]int{"rsa-2048": 2048, "rsa-3072": 3072, "rsa-4096": 4096}[alg]
		k, err := rsa.GenerateKey(rand, bits)
		if err != nil {
			return nil, fmt.Errorf("image: generate key: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("image: key type %q: want one of %v", alg, KeyTypes)
}
