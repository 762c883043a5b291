package wire

import (
	"bytes"
	"reflect"
	"testing"
)

// seeds are frame bodies for FuzzDecode and the C codec's cross-check:
// valid frames of every type and the edges of the format.
func seeds(t testing.TB) [][]byte {
	var out [][]byte
	add := func(f Frame) {
		b := mustEncode(t, f)
		out = append(out, b[2:len(b)-1])
	}
	add(Frame{Type: TypeHello, Flags: FlagEvent, Payload: sampleHello().Marshal()})
	add(Frame{Type: TypeStatus, Flags: FlagResp, Seq: 3, Payload: sampleStatus().Marshal()})
	add(Frame{Type: TypeProgram, Flags: FlagFirst | FlagLast, Seq: 4, Payload: ProgramReq{Addr: 0x1000, Data: bytes.Repeat([]byte{0, 1}, 600)}.Marshal()})
	add(Frame{Type: TypeRead, Flags: FlagResp, Seq: 5, Payload: bytes.Repeat([]byte{0xFF}, MaxPayload)})
	add(Frame{Type: TypeErase, Flags: FlagResp | FlagErr, Seq: 6, Payload: ErrorResp{Code: CodeWornOut, Text: "sector 3"}.Marshal()})
	add(Frame{Type: TypePing, Seq: 255})
	out = append(out, nil, []byte{1}, []byte{0xFF}, []byte{2, 1, 1, 1, 1, 1, 1}, body(rawFrame(2, TypePing, 0, 0, nil, 0)))
	return out
}

func FuzzDecode(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b)
		if err != nil {
			return
		}
		enc := mustEncode(t, fr)
		again, err := Decode(enc[2 : len(enc)-1])
		if err != nil || again.Type != fr.Type || again.Flags != fr.Flags || again.Seq != fr.Seq || !bytes.Equal(again.Payload, fr.Payload) {
			t.Fatalf("%v did not survive re-encoding: %v", fr, err)
		}
	})
}

// FuzzSplit: any stream; the splitter holds at most MaxEncoded bytes and
// every frame it reports re-encodes to a frame it reports again.
func FuzzSplit(f *testing.F) {
	f.Add([]byte(bootLog))
	for _, s := range seeds(f) {
		f.Add(append(append([]byte{Delim, Mark}, s...), Delim))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var e events
		s := e.splitter()
		s.Feed(b)
		if cap(s.buf) > MaxEncoded {
			t.Fatalf("splitter holds %d bytes", cap(s.buf))
		}
		var e2 events
		s2 := e2.splitter()
		for _, fr := range e.frames {
			s2.Feed(mustEncode(t, fr))
		}
		if len(e2.frames) != len(e.frames) || len(e2.bad) != 0 {
			t.Fatalf("%d frames re-split into %d (bad %v)", len(e.frames), len(e2.frames), e2.bad)
		}
	})
}

// FuzzPayloads: no payload decoder panics, and what decodes survives
// Marshal again.
func FuzzPayloads(f *testing.F) {
	f.Add(byte(0), sampleHello().Marshal())
	f.Add(byte(1), sampleStatus().Marshal())
	f.Add(byte(2), ArmCutReq{Mode: CutTorn}.Marshal())
	f.Fuzz(func(t *testing.T, which byte, b []byte) {
		var v any
		var again any
		var err error
		switch which % 9 {
		case 0:
			var x Hello
			if x, err = UnmarshalHello(b); err == nil {
				v, again = x, must(UnmarshalHello(x.Marshal()))
			}
		case 1:
			var x Status
			if x, err = UnmarshalStatus(b); err == nil {
				v, again = x, must(UnmarshalStatus(x.Marshal()))
			}
		case 2:
			var x ArmCutReq
			if x, err = UnmarshalArmCutReq(b); err == nil {
				v, again = x, must(UnmarshalArmCutReq(x.Marshal()))
			}
		case 3:
			var x ReadReq
			if x, err = UnmarshalReadReq(b); err == nil {
				v, again = x, must(UnmarshalReadReq(x.Marshal()))
			}
		case 4:
			var x ProgramReq
			if x, err = UnmarshalProgramReq(b); err == nil {
				v, again = x, must(UnmarshalProgramReq(x.Marshal()))
			}
		case 5:
			var x HashReq
			if x, err = UnmarshalHashReq(b); err == nil {
				v, again = x, must(UnmarshalHashReq(x.Marshal()))
			}
		case 6:
			var x CutEvent
			if x, err = UnmarshalCutEvent(b); err == nil {
				v, again = x, must(UnmarshalCutEvent(x.Marshal()))
			}
		case 7:
			var x ErrorResp
			if x, err = UnmarshalErrorResp(b); err == nil {
				v, again = x, must(UnmarshalErrorResp(x.Marshal()))
			}
		case 8:
			var x OpsResp
			if x, err = UnmarshalOpsResp(b); err == nil {
				v, again = x, must(UnmarshalOpsResp(x.Marshal()))
			}
		}
		if err == nil && !reflect.DeepEqual(v, again) {
			t.Fatalf("%+v became %+v", v, again)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
