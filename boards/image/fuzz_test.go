package image_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"brickyard/boards/image"
)

func addImageSeeds(f *testing.F) {
	for _, name := range []string{"testdata/golden.img", "testdata/golden-hf72.img"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:64])
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte{})
	f.Add([]byte("BYFW"))
	f.Add(bytes.Repeat([]byte{0xFF}, 256))
	f.Add(rawHeader(64))
	f.Add(rawHeader(72))
}

// FuzzParseHeader: no input panics; every error is one of the header
// sentinels; a header that parses encodes back to exactly its bytes.
func FuzzParseHeader(f *testing.F) {
	addImageSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := image.ParseHeader(b)
		if err != nil {
			if !errors.Is(err, image.ErrBadMagic) && !errors.Is(err, image.ErrBadHeader) && !errors.Is(err, image.ErrTruncated) {
				t.Fatalf("error outside the header sentinels: %v", err)
			}
			return
		}
		enc := h.Encode()
		if len(enc) != int(h.HeaderSize) || !bytes.Equal(enc, b[:h.HeaderSize]) {
			t.Fatalf("re-encoding differs:\n got % x\nwant % x", enc, b[:min(len(b), int(h.HeaderSize))])
		}
		if h2, err := image.ParseHeader(enc); err != nil || h2 != h {
			t.Fatalf("re-parse: %+v, %v; want %+v", h2, err, h)
		}
	})
}

// FuzzVerify: no input panics; every error is exactly one sentinel (a
// byte slice cannot fail to read); an accepted image is byte for byte what
// Pack makes of its header and payload with the trusted key, so nothing
// but Pack's output is ever accepted.
func FuzzVerify(f *testing.F) {
	addImageSeeds(f)
	priv := goldenKey()
	keys := image.NewKeyring(pubOf(priv))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := image.VerifyBytes(b, keys, goldenPolicy)
		if err != nil {
			if got := only(err); len(got) != 1 {
				t.Fatalf("error %v matches sentinels %v, want exactly one", err, got)
			}
			return
		}
		hs, n := int(h.HeaderSize), int(h.PayloadSize)
		again, err := image.Pack(priv, h, b[hs:hs+n])
		if err != nil {
			t.Fatalf("Pack of an accepted image's header: %v", err)
		}
		if !bytes.Equal(again, b[:h.TotalSize()]) {
			t.Fatalf("accepted image is not Pack's output:\n got % x\nwant % x", b[:h.TotalSize()], again)
		}
	})
}
