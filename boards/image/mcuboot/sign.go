package mcuboot

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"

	"brickyard/boards/image"
)

// Signature types a bootloader can be built for (MCUBOOT_SIGN_*), as
// profiles name them.
const (
	SigEd25519 = "ed25519"    // MCUBOOT_SIGN_ED25519: TLV ED25519 over the SHA-256
	SigEC256   = "ecdsa-p256" // MCUBOOT_SIGN_EC256: TLV ECDSA_SIG, DER
	SigRSA2048 = "rsa-2048"   // MCUBOOT_SIGN_RSA, MCUBOOT_SIGN_RSA_LEN 2048: TLV RSA2048_PSS
	SigRSA3072 = "rsa-3072"   // MCUBOOT_SIGN_RSA_LEN 3072: TLV RSA3072_PSS
	SigNone    = "none"       // no signature type: the hash TLV alone
)

// SignatureTypes lists the values Rules.Signature takes.
var SignatureTypes = []string{SigEd25519, SigEC256, SigRSA2048, SigRSA3072, SigNone}

// sigTLV is the TLV type of a signature type, and the fixed length its
// value must have (0: any up to 128 bytes, as for DER-encoded ECDSA).
func sigTLV(sig string) (typ uint16, length int, ok bool) {
	switch sig {
	case SigEd25519:
		return TLVEd25519, ed25519.SignatureSize, true
	case SigEC256:
		return TLVECDSA, 0, true
	case SigRSA2048:
		return TLVRSA2048, 256, true
	case SigRSA3072:
		return TLVRSA3072, 384, true
	}
	return 0, 0, false
}

// sigBufSize is SIG_BUF_SIZE for ECDSA: the longest signature TLV read.
const sigBufSize = 128

// keyBytes is how MCUboot embeds a public key, and so what imgtool's
// KEYHASH hashes: PKIX SubjectPublicKeyInfo DER for Ed25519 and ECDSA,
// PKCS#1 RSAPublicKey DER for RSA.
func keyBytes(k image.TrustedKey) []byte {
	if r, ok := k.Public.(*rsa.PublicKey); ok {
		return x509.MarshalPKCS1PublicKey(r)
	}
	return k.SPKI
}

// KeyHash is the KEYHASH TLV value of a key: SHA-256 of keyBytes.
func KeyHash(pub crypto.PublicKey) ([32]byte, error) {
	if _, err := image.KeyAlgorithm(pub); err != nil {
		return [32]byte{}, err
	}
	if r, ok := pub.(*rsa.PublicKey); ok {
		return sha256.Sum256(x509.MarshalPKCS1PublicKey(r)), nil
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return [32]byte{}, fmt.Errorf("mcuboot: %w", err)
	}
	return sha256.Sum256(der), nil
}

// keyMatches reports whether key's type is the bootloader's signature type.
func keyMatches(sig string, pub crypto.PublicKey) bool {
	alg, err := image.KeyAlgorithm(pub)
	return err == nil && alg == sig
}

// findKey is bootutil_find_key: the first trusted key of the signature
// type whose hash begins with keyhash (MCUboot compares len(keyhash)
// bytes, at most 32). -1 when none does.
func findKey(keys *image.Keyring, sig string, keyhash []byte) int {
	for i, k := range keys.Keys() {
		if !keyMatches(sig, k.Public) {
			continue
		}
		sum := sha256.Sum256(keyBytes(k))
		if bytes.Equal(sum[:len(keyhash)], keyhash) {
			return i
		}
	}
	return -1
}

// verifySig checks value, a signature TLV of type sig, over the 32-byte
// image hash with pub (bootutil_verify_sig).
func verifySig(sig string, pub crypto.PublicKey, hash, value []byte) bool {
	switch sig {
	case SigEd25519:
		k, ok := pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(k, hash, value)
	case SigEC256:
		k, ok := pub.(*ecdsa.PublicKey)
		return ok && ecdsa.VerifyASN1(k, hash, stripSigPad(value))
	case SigRSA2048, SigRSA3072:
		k, ok := pub.(*rsa.PublicKey)
		return ok && rsa.VerifyPSS(k, crypto.SHA256, hash, value, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}) == nil
	}
	return false
}

// stripSigPad drops the 0-2 zero bytes imgtool --pad-sig appends to a
// DER signature (for MCUboot < 1.5), keeping the DER SEQUENCE.
func stripSigPad(v []byte) []byte {
	if len(v) >= 2 && v[0] == 0x30 && v[1] < 0x80 && int(v[1])+2 < len(v) {
		rest := v[int(v[1])+2:]
		if len(rest) <= 2 && bytes.Count(rest, []byte{0}) == len(rest) {
			return v[:int(v[1])+2]
		}
	}
	return v
}

// sign signs the 32-byte image hash with s as imgtool does for s's key
// type, and returns the signature TLV's type and value: Ed25519 over the
// hash; ECDSA P-256 with SHA-256 (deterministic, RFC 6979; imgtool's are
// random, and either verifies); RSA-PSS with SHA-256, MGF1 and a 32-byte
// salt from rand (nil: a salt derived from the key and the hash, so that
// packing is reproducible).
func sign(s crypto.Signer, rand io.Reader, hash []byte) (uint16, []byte, error) {
	alg, err := image.KeyAlgorithm(s.Public())
	if err != nil {
		return 0, nil, err
	}
	switch k := s.(type) {
	case ed25519.PrivateKey:
		return TLVEd25519, ed25519.Sign(k, hash), nil
	case *ecdsa.PrivateKey:
		v, err := k.Sign(nil, hash, crypto.SHA256)
		return TLVECDSA, v, err
	case *rsa.PrivateKey:
		t, _, _ := sigTLV(alg)
		if alg == "rsa-4096" {
			return 0, nil, fmt.Errorf("mcuboot: RSA-4096 keys: MCUboot signs with RSA-2048 or RSA-3072")
		}
		if rand == nil {
			rand = derivedSalt(k, hash)
		}
		v, err := rsa.SignPSS(rand, k, crypto.SHA256, hash, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256})
		return t, v, err
	}
	return 0, nil, fmt.Errorf("mcuboot: cannot sign with a %T", s)
}

// derivedSalt is a reader of the 32 bytes HMAC-SHA256(key's PKCS#1 DER, hash).
func derivedSalt(k *rsa.PrivateKey, hash []byte) io.Reader {
	m := hmac.New(sha256.New, x509.MarshalPKCS1PrivateKey(k))
	m.Write(hash)
	return bytes.NewReader(m.Sum(nil))
}

// SignatureOf is the signature type whose TLV is t, "" for any other TLV.
func SignatureOf(t uint16) string {
	for _, s := range SignatureTypes {
		if typ, _, ok := sigTLV(s); ok && typ == t {
			return s
		}
	}
	return ""
}
