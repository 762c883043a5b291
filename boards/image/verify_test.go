package image_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"brickyard/boards/image"
)

var sentinels = []error{
	image.ErrBadMagic, image.ErrBadHeader, image.ErrTruncated, image.ErrDigestMismatch,
	image.ErrUnknownKey, image.ErrBadSignature, image.ErrWrongBoard, image.ErrDowngrade,
}

func TestErrors_Distinct(t *testing.T) {
	for i, a := range sentinels {
		for j, b := range sentinels {
			if (i == j) != errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, i != j)
			}
			if w := fmt.Errorf("ctx: %w", a); (i == j) != errors.Is(w, b) {
				t.Errorf("wrapped %v matches %v", a, b)
			}
		}
	}
}

// only reports which sentinels err matches; exactly one is expected.
func only(err error) []error {
	var got []error
	for _, s := range sentinels {
		if errors.Is(err, s) {
			got = append(got, s)
		}
	}
	return got
}

func TestVerify_RoundTrip(t *testing.T) {
	priv := goldenKey()
	keys := image.NewKeyring(pubOf(otherKey()), pubOf(priv))
	for _, tc := range []struct {
		name    string
		h       image.Header
		payload []byte
	}{
		{"golden", goldenHeader(), goldenPayload()},
		{"empty payload", goldenHeader(), nil},
		{"health fail, header 72", func() image.Header {
			h := goldenHeader()
			h.Flags, h.HeaderSize = image.FlagHealthFail, 72
			return h
		}(), []byte{1, 2, 3}},
		{"payload over several chunks", goldenHeader(), bytes.Repeat([]byte{0x5A, 0xA5, 0x00}, 100_000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := mustPack(t, priv, tc.h, tc.payload)
			h, err := image.VerifyBytes(img, keys, goldenPolicy)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.h
			want.FormatVersion, want.PayloadSize, want.KeyID = 1, uint32(len(tc.payload)), image.KeyID(pubOf(priv))
			if want.HeaderSize == 0 {
				want.HeaderSize = 64
			}
			if h != want {
				t.Fatalf("header %+v\nwant %+v", h, want)
			}
			if hs := int(h.HeaderSize); !bytes.Equal(img[hs:hs+len(tc.payload)], tc.payload) {
				t.Fatal("payload is not where the header says")
			}
			// In a partition: erased bytes after the image are not read as the image's.
			part := append(append([]byte(nil), img...), bytes.Repeat([]byte{0xFF}, 4096)...)
			if _, err := image.VerifyBytes(part, keys, goldenPolicy); err != nil {
				t.Fatalf("in a partition: %v", err)
			}
			// Any policy the image meets; no policy at all.
			if _, err := image.VerifyBytes(img, keys, image.Policy{}); err != nil {
				t.Fatalf("empty policy: %v", err)
			}
		})
	}
}

// Every error Verify returns, with the exact sentinel.
func TestVerify_Errors(t *testing.T) {
	priv, other := goldenKey(), otherKey()
	keys := image.NewKeyring(pubOf(priv))
	good := mustPack(t, priv, goldenHeader(), goldenPayload())
	n := len(goldenPayload())
	total := len(good)
	h72 := goldenHeader()
	h72.HeaderSize = 72
	good72 := mustPack(t, priv, h72, goldenPayload())
	le := binary.LittleEndian

	edit := func(img []byte, f func(b []byte)) []byte {
		b := append([]byte(nil), img...)
		f(b)
		return b
	}
	// signed: edit the header or payload, then re-sign, so only the edit is wrong.
	signed := func(f func(b []byte)) []byte { return resign(edit(good, f), 64, n, priv) }

	for _, tc := range []struct {
		name   string
		img    []byte
		keys   *image.Keyring
		policy image.Policy
		want   error
	}{
		{"bad magic", edit(good, func(b []byte) { b[0] = 'b' }), keys, goldenPolicy, image.ErrBadMagic},
		{"bad magic, re-signed", signed(func(b []byte) { b[3] = '1' }), keys, goldenPolicy, image.ErrBadMagic},
		{"erased partition", bytes.Repeat([]byte{0xFF}, 8192), keys, goldenPolicy, image.ErrBadMagic},
		{"bad magic, 2 bytes", []byte("MZ"), keys, goldenPolicy, image.ErrBadMagic},

		{"truncated: empty", nil, keys, goldenPolicy, image.ErrTruncated},
		{"truncated: in magic", good[:3], keys, goldenPolicy, image.ErrTruncated},
		{"truncated: in header", good[:40], keys, goldenPolicy, image.ErrTruncated},
		{"truncated: header only", good[:64], keys, goldenPolicy, image.ErrTruncated},
		{"truncated: in header padding", good72[:68], keys, goldenPolicy, image.ErrTruncated},
		{"truncated: in payload", good[:64+n/2], keys, goldenPolicy, image.ErrTruncated},
		{"truncated: no trailer", good[:64+n], keys, goldenPolicy, image.ErrTruncated},
		{"truncated: in digest", good[:64+n+16], keys, goldenPolicy, image.ErrTruncated},
		{"truncated: last signature byte", good[:total-1], keys, goldenPolicy, image.ErrTruncated},
		{"truncated: payload size grown", signed(func(b []byte) { le.PutUint32(b[8:], uint32(n+1)) }), keys, goldenPolicy, image.ErrTruncated},

		{"format version 2", signed(func(b []byte) { le.PutUint16(b[4:], 2) }), keys, goldenPolicy, image.ErrBadHeader},
		{"header size 32", signed(func(b []byte) { le.PutUint16(b[6:], 32) }), keys, goldenPolicy, image.ErrBadHeader},
		{"header size 68", signed(func(b []byte) { le.PutUint16(b[6:], 68) }), keys, goldenPolicy, image.ErrBadHeader},
		{"header padding set", resign(edit(good72, func(b []byte) { b[64] = 1 }), 72, n, priv), keys, goldenPolicy, image.ErrBadHeader},
		{"payload size over max", signed(func(b []byte) { le.PutUint32(b[8:], 1<<30+1) }), keys, goldenPolicy, image.ErrBadHeader},
		{"unknown flag", signed(func(b []byte) { b[12] |= 0x02 }), keys, goldenPolicy, image.ErrBadHeader},
		{"unknown high flag", signed(func(b []byte) { b[15] |= 0x80 }), keys, goldenPolicy, image.ErrBadHeader},
		{"reserved byte 28", signed(func(b []byte) { b[28] = 1 }), keys, goldenPolicy, image.ErrBadHeader},
		{"reserved byte 60", signed(func(b []byte) { b[60] = 1 }), keys, goldenPolicy, image.ErrBadHeader},
		{"board id not NUL padded", signed(func(b []byte) { b[47] = 'z' }), keys, goldenPolicy, image.ErrBadHeader},
		{"board id empty", signed(func(b []byte) { clear(b[32:48]) }), keys, goldenPolicy, image.ErrBadHeader},

		{"flipped payload byte", edit(good, func(b []byte) { b[64+n/2] ^= 0x01 }), keys, goldenPolicy, image.ErrDigestMismatch},
		{"flipped first payload byte", edit(good, func(b []byte) { b[64] ^= 0x80 }), keys, goldenPolicy, image.ErrDigestMismatch},
		{"flipped header byte (counter)", edit(good, func(b []byte) { b[24] ^= 0x01 }), keys, goldenPolicy, image.ErrDigestMismatch},
		{"flipped header byte (version)", edit(good, func(b []byte) { b[16] ^= 0x01 }), keys, goldenPolicy, image.ErrDigestMismatch},
		{"flipped digest byte", edit(good, func(b []byte) { b[64+n+31] ^= 0x01 }), keys, goldenPolicy, image.ErrDigestMismatch},

		{"unknown key", good, image.NewKeyring(pubOf(other)), goldenPolicy, image.ErrUnknownKey},
		{"empty keyring", good, image.NewKeyring(), goldenPolicy, image.ErrUnknownKey},
		{"nil keyring", good, nil, goldenPolicy, image.ErrUnknownKey},
		{"key id edited", signed(func(b []byte) { b[48] ^= 1 }), keys, goldenPolicy, image.ErrUnknownKey},

		{"flipped signature byte", edit(good, func(b []byte) { b[64+n+32] ^= 0x01 }), keys, goldenPolicy, image.ErrBadSignature},
		{"flipped last signature byte", edit(good, func(b []byte) { b[total-1] ^= 0x40 }), keys, goldenPolicy, image.ErrBadSignature},
		{"zero signature", edit(good, func(b []byte) { clear(b[64+n+32:]) }), keys, goldenPolicy, image.ErrBadSignature},
		{"signed by another key, claims ours", resign(good, 64, n, other), keys, goldenPolicy, image.ErrBadSignature},
		{"signed by ours, claims another trusted key", signed(func(b []byte) {
			id := image.KeyID(pubOf(other))
			copy(b[48:56], id[:])
		}), image.NewKeyring(pubOf(priv), pubOf(other)), goldenPolicy, image.ErrBadSignature},

		{"wrong board", good, keys, image.Policy{Board: "esp32-ota"}, image.ErrWrongBoard},
		{"board is a prefix", good, keys, image.Policy{Board: "ab-no"}, image.ErrWrongBoard},
		{"board differs in case", good, keys, image.Policy{Board: "AB-NOR"}, image.ErrWrongBoard},

		{"security counter below policy", good, keys, image.Policy{Board: "ab-nor", MinSecurityCounter: 4}, image.ErrDowngrade},
		{"security counter far below", good, keys, image.Policy{MinSecurityCounter: 1 << 31}, image.ErrDowngrade},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := image.VerifyBytes(tc.img, tc.keys, tc.policy)
			if got := only(err); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("Verify = %v; matches %v, want exactly %v", err, got, tc.want)
			}
			// A header is returned once it parsed, never before.
			parsed := !errors.Is(err, image.ErrBadMagic) && !errors.Is(err, image.ErrBadHeader) && len(tc.img) >= 64
			if ph, perr := image.ParseHeader(tc.img); parsed && perr == nil && h != ph {
				t.Errorf("returned header %+v, ParseHeader gives %+v", h, ph)
			}
			if !parsed && h != (image.Header{}) {
				t.Errorf("returned header %+v with %v", h, err)
			}
		})
	}
}

// The first rule broken decides the error, in the documented order.
func TestVerify_Order(t *testing.T) {
	priv, other := goldenKey(), otherKey()
	keys := image.NewKeyring(pubOf(priv))
	good := mustPack(t, priv, goldenHeader(), goldenPayload())
	edit := func(f ...func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		for _, g := range f {
			g(b)
		}
		return b
	}
	badMagic := func(b []byte) { b[0] = 0xFF }
	badHeader := func(b []byte) { b[28] = 1 }
	badPayload := func(b []byte) { b[70] ^= 1 }
	badSig := func(b []byte) { b[len(b)-1] ^= 1 }
	strict := image.Policy{Board: "other", MinSecurityCounter: 99}
	for _, tc := range []struct {
		name   string
		img    []byte
		keys   *image.Keyring
		policy image.Policy
		want   error
	}{
		{"magic before header", edit(badMagic, badHeader), keys, strict, image.ErrBadMagic},
		{"magic before truncation", edit(badMagic)[:10], keys, strict, image.ErrBadMagic},
		{"header before truncation", edit(badHeader)[:70], keys, strict, image.ErrBadHeader},
		{"truncation before digest", edit(badPayload)[:len(good)-1], keys, strict, image.ErrTruncated},
		{"digest before key", edit(badPayload), nil, strict, image.ErrDigestMismatch},
		{"digest before signature", edit(badPayload, badSig), keys, strict, image.ErrDigestMismatch},
		{"key before signature", edit(badSig), image.NewKeyring(pubOf(other)), strict, image.ErrUnknownKey},
		{"signature before board", edit(badSig), keys, strict, image.ErrBadSignature},
		{"board before counter", good, keys, strict, image.ErrWrongBoard},
		{"counter last", good, keys, image.Policy{Board: "ab-nor", MinSecurityCounter: 99}, image.ErrDowngrade},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := image.VerifyBytes(tc.img, tc.keys, tc.policy)
			if got := only(err); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("Verify = %v; want %v", err, tc.want)
			}
		})
	}
}
