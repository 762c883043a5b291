package espapp

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/big"
	"slices"

	"brickyard/boards/image"
)

// Secure boot v2 signature blocks (secure-boot-v2.rst; espsecure).
const (
	SchemeRSA   = "rsa-3072"   // version 0x02: RSA-3072 PSS, SHA-256, 32-byte salt
	SchemeECDSA = "ecdsa-p256" // version 0x03: ECDSA P-256 with SHA-256

	BlockMagic        = 0xE7
	BlockVersionRSA   = 0x02
	BlockVersionECDSA = 0x03
	BlockSize         = 1216 // one block
	BlockCount        = 3    // blocks a signature sector holds
	crcOffset         = 1196 // CRC32 of the bytes before it

	curveP256 = 2 // the ECDSA block's curve id for NIST P-256
	rsaBytes  = 384
)

// Block is one decoded secure boot v2 signature block.
type Block struct {
	Index   int
	Version uint8    // BlockVersionRSA or BlockVersionECDSA
	Digest  [32]byte // the SHA-256 of the image it signs
	// KeyDigest is the SHA-256 of the block's public key material, what
	// the chip's eFuses hold for a trusted key.
	KeyDigest [32]byte
	Public    crypto.PublicKey // the key the block carries
	sig       []byte           // big-endian RSA signature, or ASN.1 ECDSA
	Problem   string           // why the block is not valid; "" when it is
}

// Scheme is the block's scheme name.
func (b Block) Scheme() string {
	if b.Version == BlockVersionECDSA {
		return SchemeECDSA
	}
	return SchemeRSA
}

// parseBlock decodes a block: valid when its magic, version and CRC32 are
// (validate_signature_block), with a public key that parses.
func parseBlock(i int, b []byte) Block {
	blk := Block{Index: i, Version: b[1]}
	switch {
	case b[0] != BlockMagic:
		blk.Problem = fmt.Sprintf("magic %#02x, not %#02x (no block)", b[0], BlockMagic)
		return blk
	case b[1] != BlockVersionRSA && b[1] != BlockVersionECDSA:
		blk.Problem = fmt.Sprintf("version %#02x: neither RSA (0x02) nor ECDSA (0x03)", b[1])
		return blk
	case crc32.ChecksumIEEE(b[:crcOffset]) != binary.LittleEndian.Uint32(b[crcOffset:]):
		blk.Problem = "CRC32 mismatch"
		return blk
	}
	copy(blk.Digest[:], b[4:36])
	if blk.Version == BlockVersionRSA {
		blk.KeyDigest = sha256.Sum256(b[36:812])
		n := new(big.Int).SetBytes(reversed(b[36:420]))
		e := binary.LittleEndian.Uint32(b[420:])
		if e < 3 || e > 1<<31-1 || n.BitLen() != 3072 {
			blk.Problem = fmt.Sprintf("RSA key of %d bits, exponent %d: want 3072 bits", n.BitLen(), e)
			return blk
		}
		blk.Public = &rsa.PublicKey{N: n, E: int(e)}
		blk.sig = reversed(b[812:1196])
		return blk
	}
	if b[2] != 0 || b[36] != curveP256 {
		blk.Problem = fmt.Sprintf("ECDSA block with hash type %d, curve %d: want SHA-256 (0) and P-256 (2)", b[2], b[36])
		return blk
	}
	blk.KeyDigest = sha256.Sum256(b[36:101])
	x, y := new(big.Int).SetBytes(reversed(b[37:69])), new(big.Int).SetBytes(reversed(b[69:101]))
	pub, err := ecdsaPublic(x, y)
	if err != nil {
		blk.Problem = err.Error()
		return blk
	}
	blk.Public = pub
	r, s := new(big.Int).SetBytes(reversed(b[101:133])), new(big.Int).SetBytes(reversed(b[133:165]))
	blk.sig = asn1Sig(r, s)
	return blk
}

// ecdsaPublic makes a P-256 key of the point, refusing one off the curve.
func ecdsaPublic(x, y *big.Int) (*ecdsa.PublicKey, error) {
	raw := make([]byte, 65)
	raw[0] = 4
	x.FillBytes(raw[1:33])
	y.FillBytes(raw[33:])
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return nil, fmt.Errorf("ECDSA public key: %w", err)
	}
	return pub, nil
}

// asn1Sig is r, s as the DER SEQUENCE ecdsa.VerifyASN1 takes.
func asn1Sig(r, s *big.Int) []byte {
	integer := func(v *big.Int) []byte {
		b := v.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{0x02, byte(len(b))}, b...)
	}
	body := append(integer(r), integer(s)...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

// verify is the block's signature check of digest.
func (b Block) verify(digest []byte) bool {
	switch k := b.Public.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPSS(k, crypto.SHA256, digest, b.sig, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}) == nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, b.sig)
	}
	return false
}

// KeyDigest is the digest the chip's eFuse holds for pub (espsecure
// digest-sbv2-public-key): SHA-256 over the RSA modulus, exponent,
// Montgomery R² mod n and −n⁻¹ mod 2³², as a block stores them; or over
// the curve id and the point for ECDSA P-256.
func KeyDigest(pub crypto.PublicKey) ([32]byte, error) {
	m, err := keyMaterial(pub)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(m), nil
}

// keyMaterial is the block's public key bytes for pub.
func keyMaterial(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() != 3072 {
			return nil, fmt.Errorf("esp-app: RSA key of %d bits: secure boot v2 takes RSA-3072", k.N.BitLen())
		}
		b := make([]byte, 0, 776)
		b = append(b, reversed(k.N.FillBytes(make([]byte, rsaBytes)))...)
		b = binary.LittleEndian.AppendUint32(b, uint32(k.E))
		rr := new(big.Int).Lsh(big.NewInt(1), 2*3072)
		rr.Mod(rr, k.N)
		b = append(b, reversed(rr.FillBytes(make([]byte, rsaBytes)))...)
		two32 := new(big.Int).Lsh(big.NewInt(1), 32)
		inv := new(big.Int).ModInverse(new(big.Int).Mod(k.N, two32), two32)
		if inv == nil {
			return nil, fmt.Errorf("esp-app: RSA modulus is even")
		}
		m := new(big.Int).Sub(two32, inv)
		return binary.LittleEndian.AppendUint32(b, uint32(m.Uint64())), nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("esp-app: ECDSA key not on P-256")
		}
		raw, err := k.Bytes()
		if err != nil {
			return nil, err
		}
		b := []byte{curveP256}
		b = append(b, reversed(raw[1:33])...)
		return append(b, reversed(raw[33:65])...), nil
	}
	return nil, fmt.Errorf("esp-app: a %T is not a secure boot v2 key (want RSA-3072 or ECDSA P-256)", pub)
}

// signBlock signs digest with s and returns the 1216-byte block.
func signBlock(s crypto.Signer, rand io.Reader, digest []byte) ([]byte, error) {
	m, err := keyMaterial(s.Public())
	if err != nil {
		return nil, err
	}
	b := make([]byte, BlockSize)
	b[0] = BlockMagic
	copy(b[4:36], digest)
	switch k := s.(type) {
	case *rsa.PrivateKey:
		b[1] = BlockVersionRSA
		if rand == nil {
			mac := hmac.New(sha256.New, x509.MarshalPKCS1PrivateKey(k))
			mac.Write(digest)
			rand = bytes.NewReader(mac.Sum(nil))
		}
		sig, err := rsa.SignPSS(rand, k, crypto.SHA256, digest, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256})
		if err != nil {
			return nil, fmt.Errorf("esp-app: sign: %w", err)
		}
		copy(b[36:812], m)
		copy(b[812:1196], reversed(sig))
	case *ecdsa.PrivateKey:
		b[1] = BlockVersionECDSA
		copy(b[36:101], m)
		der, err := k.Sign(nil, digest, crypto.SHA256) // RFC 6979
		if err != nil {
			return nil, fmt.Errorf("esp-app: sign: %w", err)
		}
		r, sv, err := parseASN1Sig(der)
		if err != nil {
			return nil, err
		}
		copy(b[101:133], reversed(r.FillBytes(make([]byte, 32))))
		copy(b[133:165], reversed(sv.FillBytes(make([]byte, 32))))
	default:
		return nil, fmt.Errorf("esp-app: cannot sign with a %T", s)
	}
	binary.LittleEndian.PutUint32(b[crcOffset:], crc32.ChecksumIEEE(b[:crcOffset]))
	return b, nil
}

// parseASN1Sig splits a DER ECDSA signature.
func parseASN1Sig(der []byte) (r, s *big.Int, err error) {
	bad := errors.New("esp-app: malformed ECDSA signature")
	if len(der) < 8 || der[0] != 0x30 || int(der[1]) != len(der)-2 {
		return nil, nil, bad
	}
	rest := der[2:]
	var out [2]*big.Int
	for i := range out {
		if len(rest) < 2 || rest[0] != 0x02 || int(rest[1])+2 > len(rest) {
			return nil, nil, bad
		}
		out[i] = new(big.Int).SetBytes(rest[2 : 2+rest[1]])
		rest = rest[2+rest[1]:]
	}
	return out[0], out[1], nil
}

func reversed(b []byte) []byte {
	r := slices.Clone(b)
	slices.Reverse(r)
	return r
}

// trustedDigests are the key digests of the keyring's keys of scheme:
// the chip's eFuse key digests.
func trustedDigests(keys *image.Keyring, scheme string) map[[32]byte]string {
	out := map[[32]byte]string{}
	for _, k := range keys.Keys() {
		if alg, _ := image.KeyAlgorithm(k.Public); alg != scheme {
			continue
		}
		if d, err := KeyDigest(k.Public); err == nil {
			out[d] = k.Name
		}
	}
	return out
}

// SignatureScheme is the scheme of the first valid signature block in a
// signature sector after an image ending at end (padded to 4 KiB); ok is
// false when there is none.
func SignatureScheme(r io.ReaderAt, size, end int64) (string, bool) {
	padded := (end + SectorSize - 1) / SectorSize * SectorSize
	sector := make([]byte, SectorSize)
	if image.ReadFull(r, sector, padded, size) != nil {
		return "", false
	}
	for i := range BlockCount {
		if b := parseBlock(i, sector[i*BlockSize:(i+1)*BlockSize]); b.Problem == "" {
			return b.Scheme(), true
		}
	}
	return "", false
}
