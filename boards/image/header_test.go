package image_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"brickyard/boards/image"
)

// rawHeader lays out a valid header by hand, independently of Encode.
func rawHeader(hs int) []byte {
	b := make([]byte, hs)
	copy(b, "BYFW")
	binary.LittleEndian.PutUint16(b[4:], 1)
	binary.LittleEndian.PutUint16(b[6:], uint16(hs))
	binary.LittleEndian.PutUint32(b[8:], 100)
	b[16], b[17] = 2, 5
	binary.LittleEndian.PutUint16(b[18:], 1)
	binary.LittleEndian.PutUint32(b[20:], 7)
	binary.LittleEndian.PutUint32(b[24:], 3)
	copy(b[32:], "ab-nor")
	copy(b[48:], []byte{1, 2, 3, 4, 5, 6, 7, 8})
	return b
}

func TestParseHeader_Fields(t *testing.T) {
	h, err := image.ParseHeader(rawHeader(64))
	if err != nil {
		t.Fatal(err)
	}
	want := image.Header{
		FormatVersion: 1, HeaderSize: 64, PayloadSize: 100,
		Version: image.Version{2, 5, 1, 7}, SecurityCounter: 3,
		BoardID: "ab-nor", KeyID: [8]byte{1, 2, 3, 4, 5, 6, 7, 8},
	}
	if h != want {
		t.Fatalf("got %+v\nwant %+v", h, want)
	}
	if h.TotalSize() != 64+100+96 || h.HealthFail() {
		t.Errorf("TotalSize %d HealthFail %v", h.TotalSize(), h.HealthFail())
	}
	if got := h.Encode(); !bytes.Equal(got, rawHeader(64)) {
		t.Errorf("Encode:\n got % x\nwant % x", got, rawHeader(64))
	}
}

func TestParseHeader_LargerHeaderAndFlag(t *testing.T) {
	b := rawHeader(72)
	binary.LittleEndian.PutUint32(b[12:], image.FlagHealthFail)
	b = append(b, 0xEE, 0xEE) // bytes after the header are not the header's
	h, err := image.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.HeaderSize != 72 || !h.HealthFail() || h.TotalSize() != 72+100+96 {
		t.Fatalf("got %+v", h)
	}
	if got := h.Encode(); !bytes.Equal(got, b[:72]) {
		t.Errorf("Encode:\n got % x\nwant % x", got, b[:72])
	}
}

// Every way a header can be wrong, with the exact sentinel.
func TestParseHeader_Errors(t *testing.T) {
	le := binary.LittleEndian
	for _, tc := range []struct {
		name string
		b    func() []byte
		want error
	}{
		{"empty", func() []byte { return nil }, image.ErrTruncated},
		{"magic prefix only", func() []byte { return []byte("BY") }, image.ErrTruncated},
		{"63 bytes", func() []byte { return rawHeader(64)[:63] }, image.ErrTruncated},
		{"bad magic short", func() []byte { return []byte("BX") }, image.ErrBadMagic},
		{"bad magic", func() []byte { b := rawHeader(64); b[3] = 'X'; return b }, image.ErrBadMagic},
		{"erased flash", func() []byte { return bytes.Repeat([]byte{0xFF}, 64) }, image.ErrBadMagic},
		{"zeroed flash", func() []byte { return make([]byte, 64) }, image.ErrBadMagic},
		{"format version 0", func() []byte { b := rawHeader(64); le.PutUint16(b[4:], 0); return b }, image.ErrBadHeader},
		{"format version 2", func() []byte { b := rawHeader(64); le.PutUint16(b[4:], 2); return b }, image.ErrBadHeader},
		{"header size 0", func() []byte { b := rawHeader(64); le.PutUint16(b[6:], 0); return b }, image.ErrBadHeader},
		{"header size 56", func() []byte { b := rawHeader(64); le.PutUint16(b[6:], 56); return b }, image.ErrBadHeader},
		{"header size 65", func() []byte { b := rawHeader(72); le.PutUint16(b[6:], 65); return b }, image.ErrBadHeader},
		{"header size 70", func() []byte { b := rawHeader(72); le.PutUint16(b[6:], 70); return b }, image.ErrBadHeader},
		{"header size 72, 64 bytes", func() []byte { return rawHeader(72)[:64] }, image.ErrTruncated},
		{"header padding set", func() []byte { b := rawHeader(72); b[71] = 1; return b }, image.ErrBadHeader},
		{"payload size over max", func() []byte { b := rawHeader(64); le.PutUint32(b[8:], image.MaxPayloadSize+1); return b }, image.ErrBadHeader},
		{"unknown flag bit 1", func() []byte { b := rawHeader(64); le.PutUint32(b[12:], 2); return b }, image.ErrBadHeader},
		{"unknown flag bit 31", func() []byte { b := rawHeader(64); le.PutUint32(b[12:], 1<<31|1); return b }, image.ErrBadHeader},
		{"reserved byte 28", func() []byte { b := rawHeader(64); b[28] = 1; return b }, image.ErrBadHeader},
		{"reserved byte 31", func() []byte { b := rawHeader(64); b[31] = 0x80; return b }, image.ErrBadHeader},
		{"reserved byte 56", func() []byte { b := rawHeader(64); b[56] = 1; return b }, image.ErrBadHeader},
		{"reserved byte 63", func() []byte { b := rawHeader(64); b[63] = 1; return b }, image.ErrBadHeader},
		{"board id empty", func() []byte { b := rawHeader(64); clear(b[32:48]); return b }, image.ErrBadHeader},
		{"board id with space", func() []byte { b := rawHeader(64); b[34] = ' '; return b }, image.ErrBadHeader},
		{"board id with control byte", func() []byte { b := rawHeader(64); b[34] = '\n'; return b }, image.ErrBadHeader},
		{"board id not ASCII", func() []byte { b := rawHeader(64); b[34] = 0xC3; return b }, image.ErrBadHeader},
		{"board id byte after NUL", func() []byte { b := rawHeader(64); b[40] = 'x'; return b }, image.ErrBadHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := image.ParseHeader(tc.b())
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseHeader = %+v, %v; want %v", h, err, tc.want)
			}
			if h != (image.Header{}) {
				t.Errorf("returned a header with an error: %+v", h)
			}
		})
	}
}

func TestParseHeader_FullBoardID(t *testing.T) {
	b := rawHeader(64)
	copy(b[32:48], "0123456789abcdef")
	h, err := image.ParseHeader(b)
	if err != nil || h.BoardID != "0123456789abcdef" {
		t.Fatalf("got %q, %v", h.BoardID, err)
	}
}

func TestPack_FillsAndChecks(t *testing.T) {
	priv := goldenKey()
	h := goldenHeader()
	h.PayloadSize = 999                       // overwritten
	h.KeyID = [8]byte{9, 9, 9, 9, 9, 9, 9, 9} // overwritten
	img := mustPack(t, priv, h, []byte("abc"))
	got, err := image.ParseHeader(img)
	if err != nil {
		t.Fatal(err)
	}
	if got.FormatVersion != 1 || got.HeaderSize != 64 || got.PayloadSize != 3 ||
		got.KeyID != image.KeyID(pubOf(priv)) || len(img) != got.TotalSize() || len(img) != 64+3+96 {
		t.Fatalf("got %+v, %d bytes", got, len(img))
	}

	h.HeaderSize = 128
	img = mustPack(t, priv, h, nil)
	if got, err := image.ParseHeader(img); err != nil || got.HeaderSize != 128 || len(img) != 128+96 {
		t.Fatalf("header size 128: %+v, %v, %d bytes", got, err, len(img))
	}
}

func TestPack_Errors(t *testing.T) {
	good := goldenHeader()
	broken := append([]byte(nil), goldenKey()...)
	broken[63] ^= 1 // public half no longer matches the seed
	for _, tc := range []struct {
		name   string
		priv   []byte
		edit   func(*image.Header)
		header bool // the error is ErrBadHeader
	}{
		{"short key", goldenKey()[:32], nil, false},
		{"nil key", nil, nil, false},
		{"inconsistent key", broken, nil, false},
		{"format version 2", goldenKey(), func(h *image.Header) { h.FormatVersion = 2 }, true},
		{"header size 60", goldenKey(), func(h *image.Header) { h.HeaderSize = 60 }, true},
		{"header size 68", goldenKey(), func(h *image.Header) { h.HeaderSize = 68 }, true},
		{"unknown flag", goldenKey(), func(h *image.Header) { h.Flags = 4 }, true},
		{"empty board", goldenKey(), func(h *image.Header) { h.BoardID = "" }, true},
		{"board too long", goldenKey(), func(h *image.Header) { h.BoardID = strings.Repeat("b", 17) }, true},
		{"board with NUL", goldenKey(), func(h *image.Header) { h.BoardID = "ab\x00nor" }, true},
		{"board with space", goldenKey(), func(h *image.Header) { h.BoardID = "ab nor" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := good
			if tc.edit != nil {
				tc.edit(&h)
			}
			img, err := image.Pack(tc.priv, h, []byte("x"))
			if err == nil {
				t.Fatalf("Pack succeeded: % x", img)
			}
			if errors.Is(err, image.ErrBadHeader) != tc.header {
				t.Fatalf("error %v: ErrBadHeader is %v, want %v", err, !tc.header, tc.header)
			}
		})
	}
}
