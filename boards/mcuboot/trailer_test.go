package mcuboot

import (
	"bytes"
	"encoding/binary"
	"testing"

	"brickyard/boards"
	"brickyard/flash"
)

// spec is a hand-built trailer: each field erased unless given.
type spec struct {
	magic    MagicState // MagicUnset: erased; MagicBad: the magic with one byte changed
	imageOK  byte       // raw values; 0 means erased
	copyDone byte
	swapInfo int // -1: erased
	swapSize int // -1: erased
}

func erasedSpec() spec { return spec{magic: MagicUnset, swapInfo: -1, swapSize: -1} }

// encode returns the InfoSize bytes spec describes on flash erased to e.
func (s spec) encode(e byte) []byte {
	b := bytes.Repeat([]byte{e}, InfoSize)
	end := len(b)
	switch s.magic {
	case MagicGood:
		copy(b[end-fromEndMagic:], Magic[:])
	case MagicBad:
		copy(b[end-fromEndMagic:], Magic[:])
		b[end-1] ^= 0x40
	}
	if s.imageOK != 0 {
		b[end-fromEndImageOK] = s.imageOK
	}
	if s.copyDone != 0 {
		b[end-fromEndCopyDone] = s.copyDone
	}
	if s.swapInfo >= 0 {
		b[end-fromEndSwapInfo] = byte(s.swapInfo)
	}
	if s.swapSize >= 0 {
		binary.LittleEndian.PutUint32(b[end-fromEndSwapSize:], uint32(s.swapSize))
	}
	return b
}

func decode(t testing.TB, s spec, e byte) Trailer {
	t.Helper()
	tr, err := DecodeTrailer(s.encode(e), e)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

var erasedValues = []byte{0xFF, 0x00}

func TestTrailer_FieldDecoding(t *testing.T) {
	for _, e := range erasedValues {
		bad := byte(0x02) // neither erased nor SET on either flash
		cases := []struct {
			name string
			s    spec
			want Trailer
		}{
			{"all erased", erasedSpec(), Trailer{Magic: MagicUnset, ImageOK: FlagUnset, CopyDone: FlagUnset, SwapType: SwapNone, SwapInfo: e}},
			{"magic good", spec{magic: MagicGood, swapInfo: -1, swapSize: -1}, Trailer{Magic: MagicGood, ImageOK: FlagUnset, CopyDone: FlagUnset, SwapType: SwapNone, SwapInfo: e}},
			{"magic bad", spec{magic: MagicBad, swapInfo: -1, swapSize: -1}, Trailer{Magic: MagicBad, ImageOK: FlagUnset, CopyDone: FlagUnset, SwapType: SwapNone, SwapInfo: e}},
			{"flags set", spec{magic: MagicGood, imageOK: 1, copyDone: 1, swapInfo: -1, swapSize: -1}, Trailer{Magic: MagicGood, ImageOK: FlagSet, CopyDone: FlagSet, SwapType: SwapNone, SwapInfo: e}},
			{"flags bad", spec{magic: MagicGood, imageOK: bad, copyDone: bad, swapInfo: -1, swapSize: -1}, Trailer{Magic: MagicGood, ImageOK: FlagBad, CopyDone: FlagBad, SwapType: SwapNone, SwapInfo: e}},
			{"swap test image 0", spec{magic: MagicUnset, swapInfo: 0x02, swapSize: 1234}, Trailer{Magic: MagicUnset, ImageOK: FlagUnset, CopyDone: FlagUnset, SwapType: SwapTest, SwapInfo: 0x02, SwapSize: 1234}},
			{"swap revert image 1", spec{magic: MagicUnset, swapInfo: 0x14, swapSize: -1}, Trailer{Magic: MagicUnset, ImageOK: FlagUnset, CopyDone: FlagUnset, SwapType: SwapRevert, ImageNum: 1, SwapInfo: 0x14}},
			{"swap type above revert is none", spec{magic: MagicUnset, swapInfo: 0x35, swapSize: -1}, Trailer{Magic: MagicUnset, ImageOK: FlagUnset, CopyDone: FlagUnset, SwapType: SwapNone, SwapInfo: 0x35}},
		}
		for _, c := range cases {
			got := decode(t, c.s, e)
			if c.s.swapSize < 0 {
				c.want.SwapSize = binary.LittleEndian.Uint32([]byte{e, e, e, e})
			}
			if got != c.want {
				t.Errorf("erased %02X, %s: got %+v, want %+v", e, c.name, got, c.want)
			}
		}
	}
}

func TestTrailer_ShortInputIsAnError(t *testing.T) {
	if _, err := DecodeTrailer(make([]byte, InfoSize-1), 0xFF); err == nil {
		t.Fatal("47 bytes decoded")
	}
}

// TestTrailer_Offsets_AsWritten checks the byte positions of every field
// as the model programs them: magic in the last 16 bytes, image_ok at −24,
// copy_done at −32, swap_info at −40, swap_size at −48, status records
// from end − (MaxImageSectors × 3 × W + 48), each one write unit.
func TestTrailer_Offsets_AsWritten(t *testing.T) {
	for _, r := range []rig{{wu: 8, erased: 0xFF, scratch: 1}, {wu: 1, erased: 0x00, scratch: 1}} {
		c, err := flash.New(r.geometry(), nil)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := New(Options{})
		b := &boards.Board{ID: testBoard, Chip: c, Layout: r.layout(), Loader: l}
		a, err := l.areas(b)
		if err != nil {
			t.Fatal(err)
		}
		wantTrailerSize := 16*3*r.wu + 48
		if a.trailer != wantTrailerSize || a.scrTrailer != 3*r.wu+48 {
			t.Fatalf("%v: trailer %d, scratch trailer %d; want %d, %d", r, a.trailer, a.scrTrailer, wantTrailerSize, 3*r.wu+48)
		}
		for _, step := range []func() error{
			func() error { return a.writeMagic(a.pri) },
			func() error { return a.writeImageOK(a.pri) },
			func() error { return a.writeCopyDone(a.pri) },
			func() error { return a.writeSwapInfo(a.pri, SwapPerm) },
			func() error { return a.writeSwapSize(a.pri, 0x01020304) },
			func() error { return a.writeStatus(a.pri, 0, 0) },
			func() error { return a.writeStatus(a.pri, 1, 2) },
		} {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
		got := slotBytes(t, b, Primary)[0x10000-wantTrailerSize:]
		want := bytes.Repeat([]byte{r.erased}, wantTrailerSize)
		end := len(want)
		copy(want[end-16:], Magic[:])
		want[end-24] = 1
		want[end-32] = 1
		want[end-40] = 3
		copy(want[end-48:], []byte{4, 3, 2, 1})
		want[0] = 1          // region 0, record 1
		want[(3+2)*r.wu] = 3 // region 1, record 3
		if !bytes.Equal(got, want) {
			t.Errorf("%v: trailer bytes\n got % x\nwant % x", r, got, want)
		}
		if n := c.Ops(); n != 7 {
			t.Errorf("%v: %d operations, want one per field", r, n)
		}
	}
}

func TestStatus_Decode(t *testing.T) {
	const e = 0xFF
	rec := func(pattern string, w int) []byte {
		b := bytes.Repeat([]byte{e}, len(pattern)*w)
		for i, c := range pattern {
			if c == 'x' {
				b[i*w] = byte(i%3 + 1)
			}
		}
		return b
	}
	cases := []struct {
		pattern string
		want    Status
	}{
		{"......", Status{}},
		{"x.....", Status{Region: 0, State: 1}},
		{"xx....", Status{Region: 0, State: 2}},
		{"xxx...", Status{Region: 1, State: 0}},
		{"xxxxx.", Status{Region: 1, State: 2}},
		{"xxxxxx", Status{Region: 2, State: 0}},
		{"x.x...", Status{Region: 0, State: 1, Inconsistent: true}},
		{".x....", Status{Region: 0, State: 2}}, // as swap_read_status_bytes reads it
	}
	for _, w := range []int{1, 8} {
		for _, c := range cases {
			got, err := DecodeStatus(rec(c.pattern, w), w, len(c.pattern), e)
			if err != nil || got != c.want {
				t.Errorf("W%d %q: got %+v, %v; want %+v", w, c.pattern, got, err, c.want)
			}
		}
	}
}

func TestNames(t *testing.T) {
	if SwapNone != 1 || SwapTest != 2 || SwapPerm != 3 || SwapRevert != 4 || SwapFail != 5 || SwapPanic != 0xFF {
		t.Fatal("swap type numbers differ from MCUboot's")
	}
	for v, want := range map[fmtStringer]string{
		SwapTest: "test", SwapRevert: "revert", SwapType(9): "type(9)",
		MagicGood: "good", MagicUnset: "unset", FlagBad: "bad", SourceScratch: "scratch",
	} {
		if v.String() != want {
			t.Errorf("%v: want %q", v, want)
		}
	}
}

type fmtStringer interface{ String() string }

// FuzzDecodeTrailer decodes arbitrary trailer bytes on either flash; it
// must never panic, must always classify every field, and must give back
// what a trailer encoded from legal states says.
func FuzzDecodeTrailer(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0xFF}, InfoSize), byte(0xFF), uint8(8))
	f.Add(spec{magic: MagicGood, imageOK: 1, copyDone: 1, swapInfo: 2, swapSize: 20640}.encode(0x00), byte(0x00), uint8(1))
	f.Add(spec{magic: MagicBad, imageOK: 7, swapInfo: 0x99, swapSize: -1}.encode(0xFF), byte(0xFF), uint8(4))
	f.Add([]byte{1, 2, 3}, byte(0x42), uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, erased byte, w uint8) {
		tr, err := DecodeTrailer(b, erased)
		if err != nil {
			if len(b) >= InfoSize {
				t.Fatalf("%d bytes: %v", len(b), err)
			}
		} else {
			if tr.Magic < MagicGood || tr.Magic > MagicUnset || tr.ImageOK < FlagSet || tr.ImageOK > FlagUnset ||
				tr.CopyDone < FlagSet || tr.CopyDone > FlagUnset || tr.SwapType > SwapRevert {
				t.Fatalf("unclassified field: %+v", tr)
			}
			if forced := tr.SwapInfo == erased || tr.SwapInfo&0x0F > 4; forced && (tr.SwapType != SwapNone || tr.ImageNum != 0) {
				t.Fatalf("swap_info %#x: type %s, image %d; want none, 0", tr.SwapInfo, tr.SwapType, tr.ImageNum)
			} else if !forced && (tr.SwapType != SwapType(tr.SwapInfo&0x0F) || tr.ImageNum != tr.SwapInfo>>4) {
				t.Fatalf("swap_info %#x decoded as %s/%d", tr.SwapInfo, tr.SwapType, tr.ImageNum)
			}
			_ = tr.String()
			_ = Decide(tr, tr)
			_ = StatusSource(tr, tr)
		}
		s, err := DecodeStatus(b, int(w), len(b)/max(int(w), 1), erased)
		if err == nil && (s.Region < 0 || s.State < 0 || s.State >= States) {
			t.Fatalf("status %+v", s)
		}
		// Round trip from legal states.
		if len(b) >= 4 {
			e := []byte{0xFF, 0x00}[erased&1]
			magic := []MagicState{MagicGood, MagicUnset, MagicBad}[int(b[0])%3]
			flag := func(x byte) byte { return []byte{0, 1, 2}[int(x)%3] }
			s := spec{magic: magic, imageOK: flag(b[1]), copyDone: flag(b[2]), swapInfo: int(b[3]) % 5, swapSize: len(b)}
			if e == 0x00 && s.swapInfo == 0 {
				s.swapInfo = -1
			}
			got := decode(t, s, e)
			want := map[byte]Flag{0: FlagUnset, 1: FlagSet, 2: FlagBad}
			if got.Magic != magic || got.ImageOK != want[s.imageOK] || got.CopyDone != want[s.copyDone] || got.SwapSize != uint32(len(b)) {
				t.Fatalf("round trip of %+v on %02X: %+v", s, e, got)
			}
		}
	})
}
