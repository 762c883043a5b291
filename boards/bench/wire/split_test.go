package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

type events struct {
	frames []Frame
	text   bytes.Buffer
	bad    []error
}

func (e *events) splitter() *Splitter {
	return &Splitter{
		Frame: func(f Frame) { e.frames = append(e.frames, f) },
		Text:  func(b []byte) { e.text.Write(b) },
		Bad:   func(err error) { e.bad = append(e.bad, err) },
	}
}

func mustEncode(t testing.TB, f Frame) []byte {
	b, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const bootLog = "U-Boot 2023.01 (Jan 01 2026 - 00:00:00 +0000)\r\n\r\nDRAM:  256 MiB\r\nLoading Environment from SPI Flash... OK\r\nHit any key to stop autoboot:  0 \r\n"

// Frames and boot-log text interleaved on one stream come apart again,
// whatever pieces the stream arrives in.
func TestSplitInterleaved(t *testing.T) {
	var stream []byte
	var want []Frame
	var text []byte
	for i := range 20 {
		line := fmt.Sprintf("%s[%d] ", bootLog, i)
		stream = append(stream, line...)
		text = append(text, line...)
		f := Frame{Type: TypeStatus, Flags: FlagResp, Seq: uint8(i), Payload: bytes.Repeat([]byte{byte(i), 0}, i*37)}
		stream = append(stream, mustEncode(t, f)...)
		want = append(want, f)
	}
	for _, piece := range []int{1, 2, 7, 64, 1000, len(stream)} {
		var e events
		s := e.splitter()
		for i := 0; i < len(stream); i += piece {
			s.Feed(stream[i:min(i+piece, len(stream))])
		}
		if len(e.bad) != 0 || len(e.frames) != len(want) {
			t.Fatalf("pieces of %d: %d frames, bad %v", piece, len(e.frames), e.bad)
		}
		for i, f := range e.frames {
			if f.Seq != want[i].Seq || !bytes.Equal(f.Payload, want[i].Payload) {
				t.Fatalf("pieces of %d: frame %d differs", piece, i)
			}
		}
		if !bytes.Equal(e.text.Bytes(), text) {
			t.Fatalf("pieces of %d: text %q", piece, e.text.String())
		}
	}
}

// Noise between frames, a corrupted frame, a truncated one (cut by a
// reset), an oversized one and one of another version are each reported
// once; the good frames around them still arrive.
func TestSplitBadInput(t *testing.T) {
	good := func(seq uint8) []byte {
		return mustEncode(t, Frame{Type: TypePing, Flags: FlagResp, Seq: seq, Payload: []byte("ok")})
	}
	corrupt := good(2)
	corrupt[5] ^= 0x10
	truncated := good(3)
	truncated = truncated[:len(truncated)-4] // the board reset mid-frame: no end delimiter...
	oversized := append([]byte{Delim, Mark}, bytes.Repeat([]byte{0x55}, MaxEncoded+10)...)
	v2 := append([]byte{Delim, Mark}, body(rawFrame(2, TypeHello, FlagEvent, 0, nil, 0))...)
	v2 = append(v2, Delim)
	var stream []byte
	stream = append(stream, good(1)...)
	stream = append(stream, "\xff\xfe noise \x00\x13garbage"...)
	stream = append(stream, corrupt...)
	stream = append(stream, truncated...)
	stream = append(stream, good(4)...) // ...so its bytes run into this frame's start: one bad candidate
	stream = append(stream, oversized...)
	stream = append(stream, good(5)...)
	stream = append(stream, v2...)
	stream = append(stream, good(6)...)

	var e events
	e.splitter().Feed(stream)
	var seqs []uint8
	for _, f := range e.frames {
		seqs = append(seqs, f.Seq)
	}
	if fmt.Sprint(seqs) != "[1 4 5 6]" {
		t.Fatalf("frames %v, bad %v", seqs, e.bad)
	}
	var ve *VersionError
	switch {
	case len(e.bad) != 4:
		t.Fatalf("bad: %v", e.bad)
	case !errors.Is(e.bad[0], ErrCRC) && !errors.Is(e.bad[0], ErrCOBS) && !errors.Is(e.bad[0], ErrLength):
		t.Fatalf("corrupt frame: %v", e.bad[0])
	case !errors.Is(e.bad[2], ErrOversized):
		t.Fatalf("oversized frame: %v", e.bad[2])
	case !errors.As(e.bad[3], &ve):
		t.Fatalf("version 2 frame: %v", e.bad[3])
	}
	if !bytes.Contains(e.text.Bytes(), []byte(" noise ")) || !bytes.Contains(e.text.Bytes(), []byte("\x13garbage")) {
		t.Fatalf("text %q", e.text.String())
	}
}

// Random line noise never makes the splitter hold more than MaxEncoded
// bytes, and a good frame after it arrives.
func TestSplitNoiseBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var e events
	s := e.splitter()
	noise := make([]byte, 1<<20)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
		if rng.IntN(50) == 0 {
			noise[i] = Mark
		}
	}
	for i := 0; i < len(noise); i += 4096 {
		s.Feed(noise[i : i+4096])
		if cap(s.buf) > MaxEncoded {
			t.Fatalf("splitter holds %d bytes", cap(s.buf))
		}
	}
	s.Feed(append([]byte{Delim, Mark}, bytes.Repeat([]byte{7}, 3*MaxEncoded)...))
	if cap(s.buf) > MaxEncoded {
		t.Fatalf("splitter holds %d bytes", cap(s.buf))
	}
	s.Feed(mustEncode(t, Frame{Type: TypePing, Flags: FlagResp, Seq: 9}))
	if len(e.frames) == 0 || e.frames[len(e.frames)-1].Seq != 9 {
		t.Fatalf("the frame after the noise was lost (%d frames)", len(e.frames))
	}
}
