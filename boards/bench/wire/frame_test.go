package wire

import (
	"bytes"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

func TestCRCVector(t *testing.T) {
	if got := crc32.ChecksumIEEE([]byte("123456789")); got != 0xCBF43926 {
		t.Fatalf("CRC-32 of 123456789 = %08x", got)
	}
}

func TestCOBSRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lengths := []int{0, 1, 2, 253, 254, 255, 256, 508, 509, 1000, HeaderLen + MaxPayload + CRCLen}
	for _, n := range lengths {
		for _, fill := range []string{"zeros", "nonzero", "random"} {
			src := make([]byte, n)
			for i := range src {
				switch fill {
				case "nonzero":
					src[i] = byte(i%255 + 1)
				case "random":
					src[i] = byte(rng.Uint32())
				}
			}
			e := cobsEncode(nil, src)
			if bytes.IndexByte(e, 0) >= 0 {
				t.Fatalf("%d %s: a zero in the encoding", n, fill)
			}
			if len(e) > cobsMaxLen(n) {
				t.Fatalf("%d %s: %d encoded bytes, bound %d", n, fill, len(e), cobsMaxLen(n))
			}
			d, err := cobsDecode(nil, e)
			if err != nil || !bytes.Equal(d, src) {
				t.Fatalf("%d %s: round trip: %v", n, fill, err)
			}
		}
	}
}

func TestFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 250, 1024, MaxPayload} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i * 7)
		}
		f := Frame{Type: TypeProgram, Flags: FlagFirst | FlagLast, Seq: 200, Payload: p}
		b, err := Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > MaxFrame || b[0] != Delim || b[1] != Mark || b[len(b)-1] != Delim || bytes.IndexByte(b[1:len(b)-1], 0) >= 0 {
			t.Fatalf("%d: bad framing (%d bytes)", n, len(b))
		}
		g, err := Decode(b[2 : len(b)-1])
		if err != nil {
			t.Fatal(err)
		}
		if g.Type != f.Type || g.Flags != f.Flags || g.Seq != f.Seq || !bytes.Equal(g.Payload, f.Payload) {
			t.Fatalf("%d: got %v", n, g)
		}
	}
	if _, err := Encode(Frame{Payload: make([]byte, MaxPayload+1)}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized payload: %v", err)
	}
}

// body returns the COBS body of a raw frame (header, payload, CRC given).
func body(raw []byte) []byte { return cobsEncode(nil, raw) }

func rawFrame(version byte, typ Type, flags Flags, seq uint8, payload []byte, length int) []byte {
	raw := []byte{version, byte(typ), byte(flags), seq, byte(length), byte(length >> 8)}
	raw = append(raw, payload...)
	s := crc32.ChecksumIEEE(raw)
	return append(raw, byte(s), byte(s>>8), byte(s>>16), byte(s>>24))
}

func TestDecodeErrors(t *testing.T) {
	good := rawFrame(Version, TypePing, 0, 1, []byte("hi"), 2)
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-1] ^= 1
	cases := []struct {
		name string
		body []byte
		want error
	}{
		{"cobs code past the end", []byte{5, 1, 2}, ErrCOBS},
		{"short", body([]byte{1, 2, 3}), ErrShort},
		{"length says more", body(rawFrame(Version, TypePing, 0, 1, []byte("hi"), 3)), ErrLength},
		{"length says less", body(rawFrame(Version, TypePing, 0, 1, []byte("hi"), 1)), ErrLength},
		{"length over the maximum", body(rawFrame(Version, TypePing, 0, 1, nil, MaxPayload+1)), ErrTooLarge},
		{"crc", body(badCRC), ErrCRC},
		{"flags", body(rawFrame(Version, TypePing, 0x80, 1, nil, 0)), ErrFlags},
		{"oversized", bytes.Repeat([]byte{1}, MaxEncoded+1), ErrOversized},
	}
	for _, c := range cases {
		if _, err := Decode(c.body); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	var ve *VersionError
	if _, err := Decode(body(rawFrame(2, TypeHello, FlagEvent, 0, nil, 0))); !errors.As(err, &ve) || ve.Got != 2 {
		t.Errorf("version 2: %v", err)
	}
	if _, err := Decode(body(good)); err != nil {
		t.Errorf("good frame: %v", err)
	}
}

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
