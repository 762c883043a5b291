package wire

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func sampleHello() Hello {
	return Hello{Proto: Version, Caps: CapCut | CapBootOps | CapResident, MaxPayload: 4096, Size: 8 << 20, Sector: 4096,
		WriteUnit: 1, Erased: 0xFF, Ops: 3, Board: "uboot-nor", Loader: "uboot-ab", Serial: "EMU-0001", Firmware: "board-emu 1",
		Parts: []Partition{{"env1", 0, 8192}, {"env2", 8192, 8192}, {"A", 0x100000, 3 << 20}, {"B", 0x400000, 3 << 20}}}
}

func sampleStatus() Status {
	return Status{State: StateRunning, Flags: StatusTrial, Boots: 2, BootCount: 1, BootOps: 4, Ops: 4, SecurityCounter: 3,
		Slot: "B", Major: 2, Minor: 1, Patch: 300, Build: 7, ImageFlags: 1, ImageCounter: 3, Reason: "bootcount 2 > bootlimit 1", Format: 1}
}

// Every payload survives Marshal and Unmarshal.
func TestPayloadRoundTrip(t *testing.T) {
	check := func(name string, in any, out any, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if !reflect.DeepEqual(in, out) {
			t.Errorf("%s: %+v became %+v", name, in, out)
		}
	}
	h := sampleHello()
	h2, err := UnmarshalHello(h.Marshal())
	check("hello", h, h2, err)
	s := sampleStatus()
	s2, err := UnmarshalStatus(s.Marshal())
	check("status", s, s2, err)
	r, err := UnmarshalReadReq(ReadReq{Addr: 0x1000, Len: 4096}.Marshal())
	check("read", ReadReq{0x1000, 4096}, r, err)
	p, err := UnmarshalProgramReq(ProgramReq{Addr: 8, Data: []byte{1, 2, 3}}.Marshal())
	check("program", ProgramReq{8, []byte{1, 2, 3}}, p, err)
	e, err := UnmarshalEraseReq(EraseReq{Addr: 4096}.Marshal())
	check("erase", EraseReq{4096}, e, err)
	o, err := UnmarshalOpsResp(OpsResp{Ops: 9, SecurityCounter: 2}.Marshal())
	check("ops", OpsResp{9, 2}, o, err)
	hr, err := UnmarshalHashReq(HashReq{Addr: 0, Len: 65536, Unit: 4096}.Marshal())
	check("hash", HashReq{0, 65536, 4096}, hr, err)
	rb, err := UnmarshalRebootReq(RebootReq{Mode: RebootLoader}.Marshal())
	check("reboot", RebootReq{RebootLoader}, rb, err)
	a, err := UnmarshalArmCutReq(ArmCutReq{After: 5, Mode: CutTorn, Seed1: 1, Seed2: 2}.Marshal())
	check("arm-cut", ArmCutReq{5, CutTorn, 1, 2}, a, err)
	c, err := UnmarshalCutEvent(CutEvent{Ops: 6, Kind: OpErase, Addr: 4096, Len: 4096}.Marshal())
	check("cut", CutEvent{6, OpErase, 4096, 4096}, c, err)
	er, err := UnmarshalErrorResp(ErrorResp{Code: CodeNotErased, Text: "at 0x10"}.Marshal())
	check("error", ErrorResp{CodeNotErased, "at 0x10"}, er, err)
}

// Bad payloads fail with ErrPayload naming the field.
func TestPayloadBadInput(t *testing.T) {
	h := sampleHello()
	long := h
	long.Board = strings.Repeat("x", MaxName+1)
	ctrl := h
	ctrl.Serial = "EMU\n1"
	tooMany := h
	for range MaxParts + 1 {
		tooMany.Parts = append(tooMany.Parts, Partition{"p", 0, 4096})
	}
	smallPayload := h
	smallPayload.MaxPayload = 16
	running := sampleStatus()
	running.Slot = ""
	cases := []struct {
		name, field string
		err         error
	}{
		{"truncated hello", "hello", errOf(UnmarshalHello(h.Marshal()[:20]))},
		{"hello with a trailing byte", "past its end", errOf(UnmarshalHello(append(h.Marshal(), 0)))},
		{"long board id", "board", errOf(UnmarshalHello(long.Marshal()))},
		{"control byte in serial", "serial", errOf(UnmarshalHello(ctrl.Marshal()))},
		{"too many partitions", "partitions", errOf(UnmarshalHello(tooMany.Marshal()))},
		{"max payload 16", "max_payload", errOf(UnmarshalHello(smallPayload.Marshal()))},
		{"read of 0 bytes", "len", errOf(UnmarshalReadReq(ReadReq{Addr: 0, Len: 0}.Marshal()))},
		{"read past the maximum", "len", errOf(UnmarshalReadReq(ReadReq{Addr: 0, Len: MaxPayload + 1}.Marshal()))},
		{"empty program", "data", errOf(UnmarshalProgramReq(ProgramReq{Addr: 0}.Marshal()))},
		{"hash of too many units", "len", errOf(UnmarshalHashReq(HashReq{Len: (MaxDigest + 1) * 256, Unit: 256}.Marshal()))},
		{"hash unit 0", "len", errOf(UnmarshalHashReq(HashReq{Len: 4096, Unit: 0}.Marshal()))},
		{"running without a slot", "slot", errOf(UnmarshalStatus(running.Marshal()))},
		{"reboot mode 7", "mode", errOf(UnmarshalRebootReq(RebootReq{Mode: 7}.Marshal()))},
		{"cut mode 9", "mode", errOf(UnmarshalArmCutReq(ArmCutReq{Mode: 9}.Marshal()))},
		{"cut kind 0", "kind", errOf(UnmarshalCutEvent(CutEvent{}.Marshal()))},
	}
	for _, c := range cases {
		if !errors.Is(c.err, ErrPayload) || !strings.Contains(c.err.Error(), c.field) {
			t.Errorf("%s: %v", c.name, c.err)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }
