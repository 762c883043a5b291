package espapp_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/espapp"
	"brickyard/boards/image/imagetest"
)

func TestPackVerify(t *testing.T) {
	payload := imagetest.Payload(70000, 3)
	rsa, ec := imagetest.Key("rsa-3072", 0), imagetest.Key("ecdsa-p256", 0)
	for _, c := range []struct {
		name    string
		o       espapp.PackOptions
		signers []any
		rules   espapp.Rules
		signer  string
	}{
		{"hash appended, no secure boot", desc("2.5.0"), nil, espapp.Rules{}, ""},
		{"no hash", func() espapp.PackOptions { o := desc("2.5.0"); o.NoHash = true; return o }(), nil, espapp.Rules{}, ""},
		{"RSA-3072 secure boot, esp32", desc("v2.5.0"), []any{rsa}, espapp.Rules{SecureBoot: espapp.SchemeRSA}, "rsa-3072"},
		{"ECDSA secure boot, esp32c6", func() espapp.PackOptions { o := desc("2.5.0"); o.Chip = "esp32c6"; return o }(), []any{ec},
			espapp.Rules{Chip: "esp32c6", SecureBoot: espapp.SchemeECDSA}, "ecdsa-p256"},
		{"signed, booted without secure boot", desc("2.5.0"), []any{rsa}, espapp.Rules{}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			img, err := espapp.Pack(c.o, payload, nil, signers(c.signers)...)
			if err != nil {
				t.Fatal(err)
			}
			info, err := verify(img, imagetest.Keyring(), c.rules, image.Policy{})
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != image.FormatESPApp || info.Version.String() != "2.5.0" || info.VersionText != c.o.Version {
				t.Errorf("info %+v: want version 2.5.0 (%q)", info, c.o.Version)
			}
			if (info.Signer != "") != (c.signer != "") {
				t.Errorf("signer %q, want one of %q", info.Signer, c.signer)
			}
			if c.signer != "" && (len(img)%espapp.SectorSize != 0 || info.Size != len(img) || (len(img)-espapp.SectorSize)%espapp.MMUPageSize != 0) {
				t.Errorf("signed image of %d bytes (info size %d): want a 64 KiB-padded image and a 4 KiB signature sector", len(img), info.Size)
			}
		})
	}
}

func signers(s []any) []crypto.Signer {
	var out []crypto.Signer
	for _, x := range s {
		out = append(out, x.(crypto.Signer))
	}
	return out
}

// rehash recomputes the checksum and appended hash of an unsigned
// one-segment image after an edit of its data.
func rehash(b []byte) []byte {
	n := binary.LittleEndian.Uint32(b[28:])
	sum := byte(espapp.ChecksumSeed)
	for _, c := range b[32 : 32+n] {
		sum ^= c
	}
	b[len(b)-33] = sum
	d := sha256.Sum256(b[:len(b)-32])
	copy(b[len(b)-32:], d[:])
	return b
}

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// A signature sector with three blocks: any trusted one verifies (on a
// chip that reads three); the ESP32 reads only the first.
func TestVerify_SeveralBlocks(t *testing.T) {
	k0, k1 := imagetest.Key("rsa-3072", 0), imagetest.Key("rsa-3072", 1)
	o := desc("1.0.0")
	o.Chip = "esp32s3"
	img := pack(t, o, []byte("two keys"), k1, k0)
	if _, err := verify(img, imagetest.Keyring("rsa-3072"), espapp.Rules{Chip: "esp32s3", SecureBoot: espapp.SchemeRSA}, image.Policy{}); err != nil {
		t.Errorf("esp32s3, key 0 in the second block: %v", err)
	}
	o.Chip = "esp32"
	img = pack(t, o, []byte("two keys"), k1, k0)
	if _, err := verify(img, imagetest.Keyring("rsa-3072"), espapp.Rules{SecureBoot: espapp.SchemeRSA}, image.Policy{}); !errors.Is(err, espapp.ErrUnknownKey) {
		t.Errorf("esp32 reads one block (key 1): err = %v, want ErrUnknownKey", err)
	}
}

func TestVerify_Refusals(t *testing.T) {
	rsa := imagetest.Key("rsa-3072", 0)
	plain := pack(t, desc("1.0.0"), imagetest.Payload(3000, 4))
	signed := pack(t, desc("1.0.0"), imagetest.Payload(3000, 4), rsa)
	sb := espapp.Rules{SecureBoot: espapp.SchemeRSA}
	keys := imagetest.Keyring()
	le := binary.LittleEndian
	mut := func(img []byte, f func(b []byte)) []byte { b := bytes.Clone(img); f(b); return b }
	withSecure := func(n uint32) []byte { o := desc("1.0.0"); o.SecureVersion = n; return pack(t, o, []byte("x")) }
	ar := espapp.Rules{AntiRollback: true}
	for _, c := range []struct {
		name  string
		img   []byte
		keys  *image.Keyring
		rules espapp.Rules
		p     image.Policy
		want  error
		cat   error
	}{
		{"erased", bytes.Repeat([]byte{0xff}, 4096), keys, espapp.Rules{}, image.Policy{}, espapp.ErrMagic, image.ErrBadMagic},
		{"another chip", plain, keys, espapp.Rules{Chip: "esp32c3"}, image.Policy{}, espapp.ErrChip, image.ErrWrongBoard},
		{"chip revision too old", mut(plain, func(b []byte) { le.PutUint16(b[15:], 301) }), keys, espapp.Rules{}, image.Policy{}, espapp.ErrChip, image.ErrWrongBoard},
		{"chip revision too new", mut(plain, func(b []byte) { le.PutUint16(b[17:], 199) }), keys, espapp.Rules{}, image.Policy{}, espapp.ErrChip, image.ErrWrongBoard},
		{"17 segments", mut(plain, func(b []byte) { b[1] = 17 }), keys, espapp.Rules{}, image.Policy{}, espapp.ErrHeader, image.ErrBadHeader},
		{"segment length not a multiple of 4", mut(plain, func(b []byte) { le.PutUint32(b[28:], le.Uint32(b[28:])+1) }), keys, espapp.Rules{}, image.Policy{}, espapp.ErrHeader, image.ErrBadHeader},
		{"segment past the partition", mut(plain, func(b []byte) { le.PutUint32(b[28:], 1<<20) }), keys, espapp.Rules{}, image.Policy{}, espapp.ErrTruncated, image.ErrTruncated},
		{"mapped segment out of page step", mut(plain, func(b []byte) { le.PutUint32(b[24:], 0x3F400040) }), keys, espapp.Rules{}, image.Policy{}, espapp.ErrHeader, image.ErrBadHeader},
		{"hash_appended 2", mut(plain, func(b []byte) { b[23] = 2 }), keys, espapp.Rules{}, image.Policy{}, espapp.ErrHeader, image.ErrBadHeader},
		{"tampered data: checksum", mut(plain, func(b []byte) { b[500] ^= 1 }), keys, espapp.Rules{}, image.Policy{}, espapp.ErrChecksum, image.ErrDigestMismatch},
		{"two bytes swapped: hash", mut(plain, func(b []byte) { b[500], b[501] = b[501], b[500] }), keys, espapp.Rules{}, image.Policy{}, espapp.ErrHash, image.ErrDigestMismatch},
		{"truncated hash", plain[:len(plain)-1], keys, espapp.Rules{}, image.Policy{}, espapp.ErrTruncated, image.ErrTruncated},
		{"unsigned, secure boot on", plain, keys, sb, image.Policy{}, espapp.ErrNotSigned, image.ErrNotSigned},
		{"signed by another key", pack(t, desc("1.0.0"), []byte("x"), imagetest.Key("rsa-3072", 1)), keys, sb, image.Policy{}, espapp.ErrUnknownKey, image.ErrUnknownKey},
		{"no trusted keys", signed, nil, sb, image.Policy{}, espapp.ErrUnknownKey, image.ErrUnknownKey},
		{"tampered signed image", mut(signed, func(b []byte) { b[500], b[501] = b[501], b[500] }), keys, sb, image.Policy{}, espapp.ErrSignature, image.ErrBadSignature},
		{"bad signature bytes, CRC fixed", resign(signed), keys, sb, image.Policy{}, espapp.ErrSignature, image.ErrBadSignature},
		{"signature sector cut off", signed[:len(signed)-espapp.SectorSize], keys, sb, image.Policy{}, espapp.ErrNotSigned, image.ErrNotSigned},
		{"ECDSA block, RSA bootloader", func() []byte {
			o := desc("1.0.0")
			o.Chip = "esp32c6"
			return pack(t, o, []byte("x"), imagetest.Key("ecdsa-p256", 0))
		}(),
			keys, espapp.Rules{Chip: "esp32c6", SecureBoot: espapp.SchemeRSA}, image.Policy{}, espapp.ErrNotSigned, image.ErrNotSigned},
		{"anti-rollback, secure_version below the eFuse", withSecure(2), keys, ar, image.Policy{MinSecurityCounter: 3}, espapp.ErrSecureVersion, image.ErrDowngrade},
		{"anti-rollback, no description", rehash(mut(plain, func(b []byte) { b[32] ^= 1 })), keys, ar, image.Policy{}, espapp.ErrAppDesc, image.ErrBadHeader},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := verify(c.img, c.keys, c.rules, c.p)
			if !errors.Is(err, c.want) || !errors.Is(err, c.cat) {
				t.Fatalf("err = %v; want %v (%v)", err, c.want, c.cat)
			}
		})
	}
	if _, err := verify(signed, keys, sb, image.Policy{}); err != nil {
		t.Fatal(err)
	}
	// Without anti-rollback an app without a description boots, with no version.
	info, err := verify(rehash(mut(plain, func(b []byte) { b[32] ^= 1 })), keys, espapp.Rules{}, image.Policy{})
	if err != nil || info.VersionText != "" {
		t.Fatalf("no description: %+v, %v", info, err)
	}
	info, err = verify(withSecure(3), keys, ar, image.Policy{MinSecurityCounter: 3})
	if err != nil || info.SecurityCounter != 3 {
		t.Fatalf("secure_version at the eFuse counter: %+v, %v", info, err)
	}
	info, err = verify(withSecure(1), keys, espapp.Rules{}, image.Policy{MinSecurityCounter: 3})
	if err != nil || info.SecurityCounter != 0 {
		t.Fatalf("anti-rollback off: %+v, %v", info, err)
	}
}

// resign flips a signature byte of the first block and fixes its CRC, so
// that the block is valid and the signature is not.
func resign(img []byte) []byte {
	b := bytes.Clone(img)
	blk := b[len(b)-espapp.SectorSize:]
	blk[900] ^= 1
	binary.LittleEndian.PutUint32(blk[1196:], crc32IEEE(blk[:1196]))
	return b
}
