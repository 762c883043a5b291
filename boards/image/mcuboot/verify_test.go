package mcuboot_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"brickyard/boards/image"
	"brickyard/boards/image/imagetest"
	"brickyard/boards/image/mcuboot"
)

// Every signature type: what Pack writes, Verify accepts with the key,
// and names the signer; the Info carries the header's version.
func TestPackVerify_EverySignatureType(t *testing.T) {
	payload := imagetest.Payload(5000, 1)
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			img := pack(t, imagetest.Key(alg, 0), opts(), payload)
			info, err := verify(img, imagetest.Keyring(alg), mcuboot.Rules{Signature: sigOf(alg)}, image.Policy{})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := image.KeyName(imagetest.Key(alg, 0).Public())
			if info.Format != image.FormatMCUboot || info.Version.String() != "1.2.3" || info.Signer != want || info.Size != len(img) {
				t.Errorf("info = %+v; want mcuboot 1.2.3 signed by %s, %d bytes", info, want, len(img))
			}
		})
	}
}

// The refusals of bootutil_img_validate, one per way an image goes wrong.
func TestVerify_Refusals(t *testing.T) {
	ed := imagetest.Key("ed25519", 0)
	good := pack(t, ed, opts(), imagetest.Payload(3000, 2))
	rules := mcuboot.Rules{}
	keys := imagetest.Keyring("ed25519")
	flip := func(img []byte, at int) []byte {
		b := bytes.Clone(img)
		b[at] ^= 0x40
		return b
	}
	tlvEnd := len(good)
	sigAt := tlvEnd - 64 // the ED25519 value is last
	hdr := func(mut func(b []byte)) []byte {
		b := bytes.Clone(good)
		mut(b)
		return b
	}
	le := binary.LittleEndian
	withCounter := func(n uint32) mcuboot.PackOptions { o := opts(); o.SecurityCounter = counter(n); return o }
	for _, c := range []struct {
		name  string
		img   []byte
		keys  *image.Keyring
		rules mcuboot.Rules
		p     image.Policy
		want  error
		cat   error
	}{
		{"erased", bytes.Repeat([]byte{0xff}, 4096), keys, rules, image.Policy{}, mcuboot.ErrMagic, image.ErrBadMagic},
		{"V1 magic", hdr(func(b []byte) { le.PutUint32(b, mcuboot.MagicV1) }), keys, rules, image.Policy{}, mcuboot.ErrMagic, image.ErrBadMagic},
		{"header size below 32", hdr(func(b []byte) { le.PutUint16(b[8:], 16) }), keys, rules, image.Policy{}, mcuboot.ErrHeader, image.ErrBadHeader},
		{"non-bootable", pack(t, ed, func() mcuboot.PackOptions { o := opts(); o.NonBootable = true; return o }(), []byte("x")), keys, rules, image.Policy{}, mcuboot.ErrNotBootable, image.ErrBadHeader},
		{"encrypted flag", hdr(func(b []byte) { le.PutUint32(b[16:], mcuboot.FlagEncryptedAES128) }), keys, rules, image.Policy{}, mcuboot.ErrUnsupported, image.ErrUnsupported},
		{"image size past the slot", hdr(func(b []byte) { le.PutUint32(b[12:], 1<<30) }), keys, rules, image.Policy{}, mcuboot.ErrHeader, image.ErrBadHeader},
		{"tampered body", flip(good, 0x300), keys, rules, image.Policy{}, mcuboot.ErrHash, image.ErrDigestMismatch},
		{"tampered header version", hdr(func(b []byte) { b[20] = 9 }), keys, rules, image.Policy{}, mcuboot.ErrHash, image.ErrDigestMismatch},
		{"bad TLV info magic", flip(good, 0x200+3000), keys, rules, image.Policy{}, mcuboot.ErrTLV, image.ErrBadHeader},
		{"truncated TLVs", good[:tlvEnd-10], keys, rules, image.Policy{}, mcuboot.ErrTruncated, image.ErrTruncated},
		{"bad signature", flip(good, sigAt+5), keys, rules, image.Policy{}, mcuboot.ErrSignature, image.ErrBadSignature},
		{"another key", pack(t, imagetest.Key("ed25519", 1), opts(), []byte("x")), keys, rules, image.Policy{}, mcuboot.ErrUnknownKey, image.ErrUnknownKey},
		{"no keys", good, nil, rules, image.Policy{}, mcuboot.ErrUnknownKey, image.ErrUnknownKey},
		{"unsigned image", pack(t, nil, opts(), []byte("x")), keys, rules, image.Policy{}, mcuboot.ErrNotSigned, image.ErrNotSigned},
		{"ECDSA image, Ed25519 bootloader", pack(t, imagetest.Key("ecdsa-p256", 0), opts(), []byte("x")), imagetest.Keyring(), rules, image.Policy{}, mcuboot.ErrNotSigned, image.ErrNotSigned},
		{"Ed25519 image, RSA-2048 bootloader", good, imagetest.Keyring(), mcuboot.Rules{Signature: mcuboot.SigRSA2048}, image.Policy{}, mcuboot.ErrNotSigned, image.ErrNotSigned},
		{"full public key, no HW key support", pack(t, ed, func() mcuboot.PackOptions { o := opts(); o.PublicKeyFull = true; return o }(), []byte("x")), keys, rules, image.Policy{}, mcuboot.ErrUnknownKey, image.ErrUnknownKey},
		{"no SEC_CNT, rollback protection on", good, keys, mcuboot.Rules{HWRollback: true}, image.Policy{}, mcuboot.ErrSecurityCounter, image.ErrDowngrade},
		{"SEC_CNT below the board's", pack(t, ed, withCounter(4), []byte("x")), keys, mcuboot.Rules{HWRollback: true}, image.Policy{MinSecurityCounter: 5}, mcuboot.ErrSecurityCounter, image.ErrDowngrade},
		{"TLVs past the slot's trailer", good, keys, mcuboot.Rules{MaxImageSize: int64(len(good) - 1)}, image.Policy{}, mcuboot.ErrHeader, image.ErrBadHeader},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := verify(c.img, c.keys, c.rules, c.p)
			if !errors.Is(err, c.want) || !errors.Is(err, c.cat) {
				t.Fatalf("err = %v; want %v (%v)", err, c.want, c.cat)
			}
		})
	}
	// The control: the same checks pass on the untouched image, and with
	// rollback protection on a counter at the minimum.
	if _, err := verify(good, keys, rules, image.Policy{}); err != nil {
		t.Fatal(err)
	}
	info, err := verify(pack(t, ed, withCounter(5), []byte("x")), keys, mcuboot.Rules{HWRollback: true}, image.Policy{MinSecurityCounter: 5})
	if err != nil || info.SecurityCounter != 5 {
		t.Fatalf("counter at the minimum: %+v, %v", info, err)
	}
	// Without rollback protection the SEC_CNT is neither checked nor held.
	info, err = verify(pack(t, ed, withCounter(1), []byte("x")), keys, rules, image.Policy{MinSecurityCounter: 5})
	if err != nil || info.SecurityCounter != 0 {
		t.Fatalf("rollback protection off: %+v, %v", info, err)
	}
}

// signature: none checks the hash alone: any intact image boots, signed or not.
func TestVerify_HashOnlyBootloader(t *testing.T) {
	for _, s := range []string{"", "ed25519", "rsa-3072"} {
		var img []byte
		if s == "" {
			img = pack(t, nil, opts(), []byte("unsigned"))
		} else {
			img = pack(t, imagetest.Key(s, 1), opts(), []byte("signed by an untrusted key"))
		}
		info, err := verify(img, nil, mcuboot.Rules{Signature: mcuboot.SigNone}, image.Policy{})
		if err != nil || info.Signer != "" {
			t.Errorf("%q: %+v, %v", s, info, err)
		}
	}
}

// Of several signatures the last one checked decides, and a signature
// after an unknown key is skipped (bootutil_img_validate's loop).
func TestVerify_SeveralSignatures(t *testing.T) {
	k0, k1 := imagetest.Key("ed25519", 0), imagetest.Key("ed25519", 1)
	img := pack(t, k0, opts(), []byte("twice signed"))
	// The same image signed by key 1 has the same hash: append its
	// KEYHASH and ED25519 TLVs to the first image's unprotected area.
	other := pack(t, k1, opts(), []byte("twice signed"))
	pair := other[len(other)-(4+32+4+64):]
	two := append(bytes.Clone(img), pair...)
	infoAt := len(img) - (4 + 32 + 4 + 32 + 4 + 64) - 4 // the unprotected info: SHA256, KEYHASH, ED25519 follow
	if binary.LittleEndian.Uint16(two[infoAt:]) != mcuboot.InfoMagic {
		t.Fatalf("no TLV info at %d", infoAt)
	}
	binary.LittleEndian.PutUint16(two[infoAt+2:], binary.LittleEndian.Uint16(two[infoAt+2:])+uint16(len(pair)))
	badLast := bytes.Clone(two)
	badLast[len(badLast)-1] ^= 1

	ring := func(keys ...any) *image.Keyring {
		var r image.Keyring
		for _, k := range keys {
			if err := r.AddKey(k); err != nil {
				t.Fatal(err)
			}
		}
		return &r
	}
	for _, c := range []struct {
		name string
		img  []byte
		keys *image.Keyring
		want error
	}{
		{"key 0 trusted: key 1's pair is skipped", two, ring(k0.Public()), nil},
		{"key 1 trusted: key 0's pair is skipped", two, ring(k1.Public()), nil},
		{"both trusted, both good", two, ring(k0.Public(), k1.Public()), nil},
		{"both trusted, the last is bad: it decides", badLast, ring(k0.Public(), k1.Public()), mcuboot.ErrSignature},
		{"the bad last one's key is unknown: skipped", badLast, ring(k0.Public()), nil},
	} {
		if _, err := verify(c.img, c.keys, mcuboot.Rules{}, image.Policy{}); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

// A padded image (--pad, --test, --confirm) verifies like the unpadded
// one; the trailer imgtool wrote is at the slot's end.
func TestPack_PaddedTrailer(t *testing.T) {
	ed := imagetest.Key("ed25519", 0)
	plain := pack(t, ed, opts(), []byte("padded"))
	for _, c := range []struct {
		name    string
		mut     func(*mcuboot.PackOptions)
		imageOK byte
	}{
		{"pad", func(o *mcuboot.PackOptions) { o.Pad = true }, 0xff},
		{"test", func(o *mcuboot.PackOptions) { o.Test = true }, 0xff},
		{"confirm", func(o *mcuboot.PackOptions) { o.Confirm = true }, 0x01},
		{"confirm, overwrite-only", func(o *mcuboot.PackOptions) { o.Confirm, o.OverwriteOnly = true, true }, 0xff},
	} {
		o := opts()
		c.mut(&o)
		img := pack(t, ed, o, []byte("padded"))
		if len(img) != slot || !bytes.Equal(img[:len(plain)], plain) {
			t.Fatalf("%s: %d bytes; want %d starting with the unpadded image", c.name, len(img), slot)
		}
		magic := []byte{0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80}
		if !bytes.Equal(img[slot-16:], magic) || img[slot-24] != c.imageOK {
			t.Errorf("%s: trailer % x, image_ok %#x; want the magic and %#x", c.name, img[slot-16:], img[slot-24], c.imageOK)
		}
		for i := len(plain); i < slot-24; i++ {
			if img[i] != 0xff {
				t.Fatalf("%s: byte %d is %#x, want erased", c.name, i, img[i])
			}
		}
		if _, err := verify(img, imagetest.Keyring("ed25519"), mcuboot.Rules{}, image.Policy{}); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// A max alignment of 16 writes the other magic; the image and trailer
	// must fit the slot.
	o := opts()
	o.Pad, o.MaxAlign = true, 16
	img := pack(t, ed, o, []byte("x"))
	if binary.LittleEndian.Uint16(img[slot-16:]) != 16 || img[slot-14] != 0x2d {
		t.Errorf("max align 16: magic % x", img[slot-16:])
	}
	o = opts()
	o.SlotSize = len(plain) + o.TrailerSize() - 1
	if _, err := mcuboot.Pack(ed, nil, o, []byte("padded")); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("an image that overlaps the trailer: err = %v", err)
	}
}

// imgtool's header rules: without --pad-header the payload must start
// with the header's room in zeros, and the header is written over it.
func TestPack_HeaderRoom(t *testing.T) {
	o := opts()
	o.PadHeader = false
	if _, err := mcuboot.Pack(nil, nil, o, []byte("no room")); err == nil {
		t.Error("a payload shorter than the header was packed")
	}
	room := append(make([]byte, 0x200), "body"...)
	img := pack(t, nil, o, room)
	if _, err := verify(img, nil, mcuboot.Rules{Signature: mcuboot.SigNone}, image.Policy{}); err != nil {
		t.Fatal(err)
	}
	room[100] = 1
	if _, err := mcuboot.Pack(nil, nil, o, room); err == nil {
		t.Error("a payload with data in the header's room was packed")
	}
	h, err := mcuboot.ParseHeader(img)
	if err != nil || h.HeaderSize != 0x200 || h.ImageSize != 4 {
		t.Fatalf("header %+v, %v", h, err)
	}
}

// Extent is boot_read_image_size: header to the end of the TLVs, whatever follows.
func TestExtent(t *testing.T) {
	o := opts()
	o.SecurityCounter = counter(2)
	plain := pack(t, imagetest.Key("ed25519", 0), o, []byte("extent"))
	o.Confirm = true
	padded := pack(t, imagetest.Key("ed25519", 0), o, []byte("extent"))
	for _, img := range [][]byte{plain, padded} {
		if n, ok := mcuboot.Extent(bytes.NewReader(img), int64(len(img))); !ok || n != int64(len(plain)) {
			t.Errorf("Extent = %d, %v; want %d", n, ok, len(plain))
		}
	}
	if _, ok := mcuboot.Extent(bytes.NewReader(plain[:100]), 100); ok {
		t.Error("Extent of a cut image succeeded")
	}
}
