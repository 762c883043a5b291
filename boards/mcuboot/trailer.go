package mcuboot

import (
	"encoding/binary"
	"fmt"

	"brickyard/boards"
)

// Trailer geometry with BOOT_MAX_ALIGN 8, no encryption, not swap-offset.
// Offsets are counted back from the end of the area (slot or scratch).
const (
	MaxAlign        = 8                      // BOOT_MAX_ALIGN
	MagicSize       = 16                     // BOOT_MAGIC_SZ (= BOOT_MAGIC_ALIGN_SIZE for A = 8)
	InfoSize        = 4*MaxAlign + MagicSize // swap_size, swap_info, copy_done, image_ok, magic: 48
	States          = 3                      // BOOT_STATUS_STATE_COUNT for swap using scratch
	fromEndMagic    = MagicSize              // magic: the last 16 bytes
	fromEndImageOK  = MagicSize + MaxAlign   // image_ok: end − 24
	fromEndCopyDone = fromEndImageOK + MaxAlign
	fromEndSwapInfo = fromEndCopyDone + MaxAlign
	fromEndSwapSize = fromEndSwapInfo + MaxAlign // end − 48
)

// Magic is the trailer magic for BOOT_MAX_ALIGN 8.
var Magic = [MagicSize]byte{0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80}

// MagicState is how a trailer's magic decodes.
type MagicState uint8

// Magic states (BOOT_MAGIC_GOOD, _BAD, _UNSET).
const (
	MagicGood  MagicState = 1
	MagicBad   MagicState = 2
	MagicUnset MagicState = 3
)

func (m MagicState) String() string {
	switch m {
	case MagicGood:
		return "good"
	case MagicBad:
		return "bad"
	case MagicUnset:
		return "unset"
	}
	return fmt.Sprintf("magic(%d)", uint8(m))
}

// Flag is how image_ok or copy_done decodes: the erased value is UNSET,
// 0x01 is SET, anything else is BAD.
type Flag uint8

// Flag states (BOOT_FLAG_SET, _BAD, _UNSET) and the value SET writes.
const (
	FlagSet   Flag = 1
	FlagBad   Flag = 2
	FlagUnset Flag = 3

	flagSetValue = 0x01
)

func (f Flag) String() string {
	switch f {
	case FlagSet:
		return "set"
	case FlagBad:
		return "bad"
	case FlagUnset:
		return "unset"
	}
	return fmt.Sprintf("flag(%d)", uint8(f))
}

// SwapType is MCUboot's numeric swap type.
type SwapType uint8

// Swap types, with MCUboot's numbers.
const (
	SwapNone   SwapType = 1
	SwapTest   SwapType = 2
	SwapPerm   SwapType = 3
	SwapRevert SwapType = 4
	SwapFail   SwapType = 5
	SwapPanic  SwapType = 0xFF
)

func (t SwapType) String() string {
	switch t {
	case SwapNone:
		return "none"
	case SwapTest:
		return "test"
	case SwapPerm:
		return "perm"
	case SwapRevert:
		return "revert"
	case SwapFail:
		return "fail"
	case SwapPanic:
		return "panic"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// IsUpgrade reports whether t moves images (BOOT_IS_UPGRADE): test, perm
// or revert.
func (t SwapType) IsUpgrade() bool { return t == SwapTest || t == SwapPerm || t == SwapRevert }

// Trailer is the decoded information part of an image trailer (the last
// InfoSize bytes of a slot or of scratch). Status records are not part of
// it; see Status.
type Trailer struct {
	Magic    MagicState
	ImageOK  Flag
	CopyDone Flag
	// SwapType is swap_info bits 0-3; SwapNone when swap_info is erased
	// or its type is above SwapRevert (boot_read_swap_state).
	SwapType SwapType
	// ImageNum is swap_info bits 4-7; 0 whenever SwapType was forced to
	// SwapNone.
	ImageNum uint8
	SwapInfo byte   // raw swap_info byte
	SwapSize uint32 // raw swap_size, little-endian; meaningful only when written
}

func (t Trailer) String() string {
	return fmt.Sprintf("magic=%s image_ok=%s copy_done=%s swap=%s/%d swap_size=%d",
		t.Magic, t.ImageOK, t.CopyDone, t.SwapType, t.ImageNum, t.SwapSize)
}

// DecodeTrailer decodes the trailer whose area ends where b ends: b holds
// at least the area's last InfoSize bytes. erased is the flash's erased
// value (0xFF or 0x00); any value is accepted.
func DecodeTrailer(b []byte, erased byte) (Trailer, error) {
	if len(b) < InfoSize {
		return Trailer{}, fmt.Errorf("mcuboot: %d trailer bytes, want at least %d", len(b), InfoSize)
	}
	end := len(b)
	at := func(fromEnd int) []byte { return b[end-fromEnd:] }
	var t Trailer
	magic := at(fromEndMagic)[:MagicSize]
	switch {
	case allErased(magic, erased):
		t.Magic = MagicUnset
	case [MagicSize]byte(magic) == Magic:
		t.Magic = MagicGood
	default:
		t.Magic = MagicBad
	}
	t.ImageOK = decodeFlag(at(fromEndImageOK)[0], erased)
	t.CopyDone = decodeFlag(at(fromEndCopyDone)[0], erased)
	t.SwapInfo = at(fromEndSwapInfo)[0]
	t.SwapType, t.ImageNum = SwapType(t.SwapInfo&0x0F), t.SwapInfo>>4
	if t.SwapInfo == erased || t.SwapType > SwapRevert {
		t.SwapType, t.ImageNum = SwapNone, 0
	}
	t.SwapSize = binary.LittleEndian.Uint32(at(fromEndSwapSize))
	return t, nil
}

func decodeFlag(v, erased byte) Flag {
	switch v {
	case erased:
		return FlagUnset
	case flagSetValue:
		return FlagSet
	}
	return FlagBad
}

func allErased(b []byte, erased byte) bool {
	for _, v := range b {
		if v != erased {
			return false
		}
	}
	return true
}

// ReadTrailer reads and decodes the trailer at the end of partition p.
func ReadTrailer(c boards.Flash, p boards.Partition) (Trailer, error) {
	if p.Size < InfoSize {
		return Trailer{}, fmt.Errorf("mcuboot: partition %q (%d bytes) cannot hold a trailer", p.Name, p.Size)
	}
	buf := make([]byte, InfoSize)
	if err := c.Read(p.End()-InfoSize, buf); err != nil {
		return Trailer{}, err
	}
	return DecodeTrailer(buf, c.Geometry().Erased)
}

// Status is the progress the swap status records of an area show: the
// next step of the swap. Region counts regions in swap order (0 is the
// highest-addressed region, swapped first); State is how many of the
// region's three records are written (0-2). A zero Status means no record
// is written: no swap in progress.
type Status struct {
	Region, State int
	// Inconsistent: a written record follows an erased one after the
	// first written one ("Detected inconsistent status!"); the progress
	// is still taken from the first erased record, as MCUboot does.
	Inconsistent bool
}

// DecodeStatus decodes n status records of w bytes each at the start of b
// the way swap_read_status_bytes does: a record counts as written when
// its first byte is not the erased value, whatever that byte is.
func DecodeStatus(b []byte, w, n int, erased byte) (Status, error) {
	if w < 1 || n < 0 || n > len(b)/w {
		return Status{}, fmt.Errorf("mcuboot: %d status records of %d bytes do not fit %d bytes", n, w, len(b))
	}
	found, firstErased := false, -1
	var s Status
	for i := range n {
		written := b[i*w] != erased
		switch {
		case !written && found && firstErased < 0:
			firstErased = i
		case written && firstErased >= 0:
			s.Inconsistent = true
		case written:
			found = true
		}
		if s.Inconsistent {
			break
		}
	}
	if !found {
		return Status{}, nil
	}
	if firstErased < 0 {
		firstErased = n
	}
	s.Region, s.State = firstErased/States, firstErased%States
	return s, nil
}
