package wire

import (
	"fmt"
)

// Caps are what a board can do beyond the required operations.
type Caps uint8

const (
	// CapCut: the board's rig takes ArmCut and cuts the board's power at
	// an operation, then sends a Cut event.
	CapCut Caps = 1 << 0
	// CapBootOps: operation counts include the bootloader's own writes.
	CapBootOps Caps = 1 << 1
	// CapResident: the link runs in the boot stage and answers when no
	// image boots (Status then says bricked).
	CapResident Caps = 1 << 2

	knownCaps = CapCut | CapBootOps | CapResident
)

// Limits of the payloads' fields.
const (
	MaxName   = 16 // board id, partition names
	MaxIdent  = 32 // loader kind, serial, firmware version, slot name
	MaxParts  = 32 // partitions in a Hello
	MaxDigest = MaxPayload / DigestLen
	DigestLen = 16 // bytes of each Hash digest: SHA-256, first 16 bytes
)

// Partition is one entry of a board's partition table.
type Partition struct {
	Name         string
	Offset, Size uint32
}

// Hello says who the board is: sent as an event whenever the board's link
// comes up, and as the answer to Identify.
type Hello struct {
	Proto      uint8 // the protocol version the board speaks
	Caps       Caps
	MaxPayload uint16 // largest payload the board takes or sends (64…4096)
	Size       uint32 // flash bytes
	Sector     uint32 // erase sector
	WriteUnit  uint8
	Erased     uint8 // 0xFF or 0x00
	Rewrite    uint8 // 0: programming a written unit combines bits (NOR); 1: it fails
	Ops        uint32
	Board      string // board profile id, as images carry it
	Loader     string // bootloader kind: uboot-ab, mcuboot-swap, esp-ota, single-bank
	Serial     string
	Firmware   string // the test firmware's version
	Parts      []Partition
}

func (h Hello) Marshal() []byte {
	e := enc(nil).u8(h.Proto).u8(uint8(h.Caps)).u16(h.MaxPayload).u32(h.Size).u32(h.Sector).
		u8(h.WriteUnit).u8(h.Erased).u8(h.Rewrite).u32(h.Ops).
		str(h.Board).str(h.Loader).str(h.Serial).str(h.Firmware).u8(uint8(min(len(h.Parts), 255)))
	for _, p := range h.Parts {
		e = e.str(p.Name).u32(p.Offset).u32(p.Size)
	}
	return e
}

func UnmarshalHello(b []byte) (Hello, error) {
	d := dec{b: b, what: "hello"}
	h := Hello{Proto: d.u8("proto"), Caps: Caps(d.u8("caps")), MaxPayload: d.u16("max_payload"),
		Size: d.u32("size"), Sector: d.u32("sector"), WriteUnit: d.u8("write_unit"), Erased: d.u8("erased"),
		Rewrite: d.u8("rewrite"), Ops: d.u32("ops"),
		Board: d.str("board", MaxName), Loader: d.str("loader", MaxIdent), Serial: d.str("serial", MaxIdent),
		Firmware: d.str("firmware", MaxIdent)}
	n := int(d.u8("partitions"))
	if d.err == nil && n > MaxParts {
		d.fail("partitions", fmt.Sprintf("%d, at most %d", n, MaxParts))
	}
	for i := 0; i < n && d.err == nil; i++ {
		h.Parts = append(h.Parts, Partition{Name: d.str("partition name", MaxName), Offset: d.u32("partition offset"), Size: d.u32("partition size")})
	}
	if err := d.done(); err != nil {
		return Hello{}, err
	}
	switch {
	case h.MaxPayload < 64 || h.MaxPayload > MaxPayload:
		d.fail("max_payload", fmt.Sprintf("%d: want 64…%d", h.MaxPayload, MaxPayload))
	case h.Caps&^knownCaps != 0:
		d.fail("caps", fmt.Sprintf("unknown bits 0x%02x", uint8(h.Caps&^knownCaps)))
	case h.Rewrite > 1:
		d.fail("rewrite", fmt.Sprintf("%d: want 0 or 1", h.Rewrite))
	}
	return h, d.err
}

// ReadReq reads Len bytes at Addr; the answer is the bytes.
type ReadReq struct {
	Addr uint32
	Len  uint16
}

func (r ReadReq) Marshal() []byte { return enc(nil).u32(r.Addr).u16(r.Len) }

func UnmarshalReadReq(b []byte) (ReadReq, error) {
	d := dec{b: b, what: "read"}
	r := ReadReq{Addr: d.u32("addr"), Len: d.u16("len")}
	if err := d.done(); err != nil {
		return ReadReq{}, err
	}
	if r.Len == 0 || r.Len > MaxPayload {
		d.fail("len", fmt.Sprintf("%d: want 1…%d", r.Len, MaxPayload))
	}
	return r, d.err
}

// ProgramReq is one chunk of a program operation: Data at Addr. The
// frame's FlagFirst and FlagLast mark the operation's first and last
// chunk; an operation's chunks are contiguous and in address order.
type ProgramReq struct {
	Addr uint32
	Data []byte
}

func (r ProgramReq) Marshal() []byte { return append(enc(nil).u32(r.Addr), r.Data...) }

func UnmarshalProgramReq(b []byte) (ProgramReq, error) {
	d := dec{b: b, what: "program"}
	r := ProgramReq{Addr: d.u32("addr")}
	if d.err == nil {
		r.Data = d.b
		d.b = nil
	}
	if d.err == nil && len(r.Data) == 0 {
		d.fail("data", "is empty")
	}
	return r, d.err
}

// EraseReq erases the sector at Addr.
type EraseReq struct{ Addr uint32 }

func (r EraseReq) Marshal() []byte { return enc(nil).u32(r.Addr) }

func UnmarshalEraseReq(b []byte) (EraseReq, error) {
	d := dec{b: b, what: "erase"}
	r := EraseReq{Addr: d.u32("addr")}
	return r, d.done()
}

// OpsResp answers Program, Erase and Confirm: the board's operation
// count since its link came up, after the operation, and its security
// counter (Confirm may raise it).
type OpsResp struct {
	Ops             uint32
	SecurityCounter uint32
}

func (r OpsResp) Marshal() []byte { return enc(nil).u32(r.Ops).u32(r.SecurityCounter) }

func UnmarshalOpsResp(b []byte) (OpsResp, error) {
	d := dec{b: b, what: "ops"}
	r := OpsResp{Ops: d.u32("ops"), SecurityCounter: d.u32("security_counter")}
	return r, d.done()
}

// HashReq asks for the digest of every Unit bytes of Len bytes at Addr:
// Len/Unit digests of DigestLen bytes each (the first bytes of the
// SHA-256 of each block), at most MaxDigest.
type HashReq struct{ Addr, Len, Unit uint32 }

func (r HashReq) Marshal() []byte { return enc(nil).u32(r.Addr).u32(r.Len).u32(r.Unit) }

func UnmarshalHashReq(b []byte) (HashReq, error) {
	d := dec{b: b, what: "hash"}
	r := HashReq{Addr: d.u32("addr"), Len: d.u32("len"), Unit: d.u32("unit")}
	if err := d.done(); err != nil {
		return HashReq{}, err
	}
	if r.Unit == 0 || r.Len == 0 || r.Len%r.Unit != 0 || r.Len/r.Unit > MaxDigest {
		d.fail("len", fmt.Sprintf("%d in units of %d: want a positive multiple, at most %d units", r.Len, r.Unit, MaxDigest))
	}
	return r, d.err
}

// Boot states of a Status.
const (
	StateRunning uint8 = 0 // an image runs
	StateBricked uint8 = 1 // no image boots (a resident link says so)
	StateLoader  uint8 = 2 // the boot-mode strap held the board in its loader: no image started
)

// Status flags.
const (
	StatusTrial    uint8 = 1 << 0 // the running image is on trial
	StatusFellBack uint8 = 1 << 1 // the loader booted another slot than the one asked for
)

// Unknown is a count the board cannot know (BootOps without CapBootOps).
const Unknown = 0xFFFFFFFF

// Status is what the last boot ended in.
type Status struct {
	State           uint8
	Flags           uint8
	Boots           uint32 // boots since the board was powered on
	BootCount       uint32 // the bootloader's own trial counter (U-Boot bootcount), or 0
	BootOps         uint32 // flash operations of the bootloader in this boot, or Unknown
	Ops             uint32 // operations since the link came up
	SecurityCounter uint32 // the board's one-time-programmable counter
	Slot            string
	Major, Minor    uint8
	Patch           uint16
	Build           uint32
	ImageFlags      uint32
	ImageCounter    uint32 // the booted image's security counter
	Reason          string // why it fell back or bricked, as the loader logs it
	// Format is the booted image's format (image.Format: 1 BYFW, 2
	// MCUboot, 3 ESP-IDF app, 4 FIT; 0 unknown); VersionText its version
	// as the image writes it as text (ESP, FIT), "" otherwise.
	Format      uint8
	VersionText string
}

func (s Status) Marshal() []byte {
	return enc(nil).u8(s.State).u8(s.Flags).u32(s.Boots).u32(s.BootCount).u32(s.BootOps).u32(s.Ops).
		u32(s.SecurityCounter).str(s.Slot).u8(s.Major).u8(s.Minor).u16(s.Patch).u32(s.Build).
		u32(s.ImageFlags).u32(s.ImageCounter).str(s.Reason).u8(s.Format).str(s.VersionText)
}

func UnmarshalStatus(b []byte) (Status, error) {
	d := dec{b: b, what: "status"}
	s := Status{State: d.u8("state"), Flags: d.u8("flags"), Boots: d.u32("boots"), BootCount: d.u32("boot_count"),
		BootOps: d.u32("boot_ops"), Ops: d.u32("ops"), SecurityCounter: d.u32("security_counter"),
		Slot: d.str("slot", MaxIdent), Major: d.u8("major"), Minor: d.u8("minor"), Patch: d.u16("patch"),
		Build: d.u32("build"), ImageFlags: d.u32("image_flags"), ImageCounter: d.u32("image_counter"),
		Reason: d.text("reason"), Format: d.u8("format"), VersionText: d.str("version_text", MaxIdent)}
	if err := d.done(); err != nil {
		return Status{}, err
	}
	switch {
	case s.State > StateLoader:
		d.fail("state", fmt.Sprintf("%d: want 0, 1 or 2", s.State))
	case s.Flags&^(StatusTrial|StatusFellBack) != 0:
		d.fail("flags", fmt.Sprintf("unknown bits 0x%02x", s.Flags))
	case s.State == StateRunning && s.Slot == "":
		d.fail("slot", "is empty for a running image")
	}
	return s, d.err
}

// Reboot modes.
const (
	RebootNormal uint8 = 0 // reset; the bootloader boots an image
	RebootLoader uint8 = 1 // reset and stay in the loader (as the boot-mode strap does)
)

// RebootReq resets the board after the answer.
type RebootReq struct{ Mode uint8 }

func (r RebootReq) Marshal() []byte { return enc(nil).u8(r.Mode) }

func UnmarshalRebootReq(b []byte) (RebootReq, error) {
	d := dec{b: b, what: "reboot"}
	r := RebootReq{Mode: d.u8("mode")}
	if err := d.done(); err != nil {
		return RebootReq{}, err
	}
	if r.Mode > RebootLoader {
		d.fail("mode", fmt.Sprintf("%d: want 0 or 1", r.Mode))
	}
	return r, d.err
}

// Cut modes of ArmCut, as flash.CutMode numbers them.
const (
	CutDisarm uint8 = 0
	CutBefore uint8 = 1 // the operation does nothing
	CutAfter  uint8 = 2 // it completes, then power is lost
	CutTorn   uint8 = 3 // it is interrupted part-way, its bits drawn from the seeds
)

// ArmCutReq arms the board's rig: After more flash operations happen
// (the bootloader's included, across resets), then the next one is cut in
// Mode; the torn bits come from a PCG generator seeded (Seed1, Seed2).
// The board then sends a Cut event and stays off until its power line is
// cycled. CutDisarm disarms.
type ArmCutReq struct {
	After        uint32
	Mode         uint8
	Seed1, Seed2 uint64
}

func (r ArmCutReq) Marshal() []byte {
	return enc(nil).u32(r.After).u8(r.Mode).u64(r.Seed1).u64(r.Seed2)
}

func UnmarshalArmCutReq(b []byte) (ArmCutReq, error) {
	d := dec{b: b, what: "arm-cut"}
	r := ArmCutReq{After: d.u32("after"), Mode: d.u8("mode"), Seed1: d.u64("seed1"), Seed2: d.u64("seed2")}
	if err := d.done(); err != nil {
		return ArmCutReq{}, err
	}
	if r.Mode > CutTorn {
		d.fail("mode", fmt.Sprintf("%d: want 0…3", r.Mode))
	}
	return r, d.err
}

// Operation kinds of a Cut event, as flash.OpKind numbers them.
const (
	OpProgram uint8 = 1
	OpErase   uint8 = 2
)

// CutEvent is the operation an armed cut landed on.
type CutEvent struct {
	Ops  uint32 // the board's operation count, the cut one included
	Kind uint8
	Addr uint32
	Len  uint32
}

func (c CutEvent) Marshal() []byte { return enc(nil).u32(c.Ops).u8(c.Kind).u32(c.Addr).u32(c.Len) }

func UnmarshalCutEvent(b []byte) (CutEvent, error) {
	d := dec{b: b, what: "cut"}
	c := CutEvent{Ops: d.u32("ops"), Kind: d.u8("kind"), Addr: d.u32("addr"), Len: d.u32("len")}
	if err := d.done(); err != nil {
		return CutEvent{}, err
	}
	if c.Kind != OpProgram && c.Kind != OpErase {
		d.fail("kind", fmt.Sprintf("%d: want 1 or 2", c.Kind))
	}
	return c, d.err
}

// Code is an error response's reason.
type Code uint8

// Error codes (docs/bench-protocol.md, "Errors").
const (
	CodeUnknownType Code = 1  // the board does not know the operation
	CodeBadRequest  Code = 2  // the payload does not decode
	CodeOutOfRange  Code = 3  // an address or length outside the flash
	CodeUnaligned   Code = 4  // not aligned to the write unit or sector
	CodeNotErased   Code = 5  // programming a written unit where that fails
	CodeWornOut     Code = 6  // the sector is past its endurance
	CodeSequence    Code = 7  // a Program chunk out of its operation's order
	CodeVersion     Code = 8  // the request's protocol version is not the board's
	CodeNotRunning  Code = 9  // Confirm with no image running
	CodeNotTrial    Code = 10 // Confirm of an image that is not on trial
	CodeUnsupported Code = 11 // an operation of a capability the board lacks
	CodeFlash       Code = 12 // any other flash failure
	CodeBusy        Code = 13 // the board is not ready (booting)
)

func (c Code) String() string {
	switch c {
	case CodeUnknownType:
		return "unknown operation"
	case CodeBadRequest:
		return "bad request"
	case CodeOutOfRange:
		return "out of range"
	case CodeUnaligned:
		return "unaligned"
	case CodeNotErased:
		return "not erased"
	case CodeWornOut:
		return "worn out"
	case CodeSequence:
		return "chunk out of sequence"
	case CodeVersion:
		return "protocol version"
	case CodeNotRunning:
		return "no image running"
	case CodeNotTrial:
		return "image not on trial"
	case CodeUnsupported:
		return "unsupported"
	case CodeFlash:
		return "flash failure"
	case CodeBusy:
		return "busy"
	}
	return fmt.Sprintf("code %d", uint8(c))
}

// ErrorResp is the payload of a FlagErr response.
type ErrorResp struct {
	Code Code
	Text string
}

func (e ErrorResp) Marshal() []byte { return enc(nil).u8(uint8(e.Code)).str(e.Text) }

func UnmarshalErrorResp(b []byte) (ErrorResp, error) {
	d := dec{b: b, what: "error"}
	e := ErrorResp{Code: Code(d.u8("code")), Text: d.text("text")}
	return e, d.done()
}

func (e ErrorResp) Error() string {
	if e.Text == "" {
		return "board: " + e.Code.String()
	}
	return "board: " + e.Code.String() + ": " + e.Text
}
