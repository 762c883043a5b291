package espota

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// EntrySize is the size of one otadata entry (esp_ota_select_entry_t).
const EntrySize = 32

// SeqErased is the ota_seq of an erased entry; an entry with it is invalid.
const SeqErased uint32 = 0xFFFFFFFF

// State is an entry's ota_state (esp_ota_img_states_t). It is not covered
// by the CRC.
type State uint32

// The states ESP-IDF defines. Any other value (a torn state write) is
// neither INVALID nor ABORTED and therefore selectable.
const (
	StateNew           State = 0x0
	StatePendingVerify State = 0x1
	StateValid         State = 0x2
	StateInvalid       State = 0x3
	StateAborted       State = 0x4
	StateUndefined     State = 0xFFFFFFFF
)

func (s State) String() string {
	switch s {
	case StateNew:
		return "NEW"
	case StatePendingVerify:
		return "PENDING_VERIFY"
	case StateValid:
		return "VALID"
	case StateInvalid:
		return "INVALID"
	case StateAborted:
		return "ABORTED"
	case StateUndefined:
		return "UNDEFINED"
	}
	return fmt.Sprintf("state(0x%08x)", uint32(s))
}

// SeqCRC is the CRC ESP-IDF stores for seq: the ROM's crc32_le(0xFFFFFFFF,
// le32(seq)), which is Go's crc32.Update(0xFFFFFFFF, IEEE, le32(seq)) and
// not crc32.ChecksumIEEE. Seq 1 gives 0x4743989A. Note SeqCRC(0) is
// 0xFFFFFFFF: an entry whose seq reads 0 and whose crc reads erased passes.
func SeqCRC(seq uint32) uint32 {
	return crc32.Update(0xFFFFFFFF, crc32.IEEETable, binary.LittleEndian.AppendUint32(nil, seq))
}

// Entry is one otadata entry, its fields as stored.
//
//	offset  size  field
//	0       4     ota_seq (u32 LE)
//	4       20    seq_label (unused, 0xFF)
//	24      4     ota_state (u32 LE)
//	28      4     crc (u32 LE) of ota_seq only
type Entry struct {
	Seq   uint32
	Label [20]byte
	State State
	CRC   uint32
}

// NewEntry is the entry ESP-IDF writes for seq in state st: label 0xFF,
// CRC computed.
func NewEntry(seq uint32, st State) Entry {
	e := Entry{Seq: seq, State: st, CRC: SeqCRC(seq)}
	for i := range e.Label {
		e.Label[i] = 0xFF
	}
	return e
}

// ErrShortEntry is returned by ParseEntry for fewer than EntrySize bytes.
var ErrShortEntry = errors.New("espota: otadata entry shorter than 32 bytes")

// ParseEntry decodes the first EntrySize bytes of b. Every 32-byte value is
// an Entry; whether it counts is Valid's business.
func ParseEntry(b []byte) (Entry, error) {
	if len(b) < EntrySize {
		return Entry{}, fmt.Errorf("%w: %d bytes", ErrShortEntry, len(b))
	}
	var e Entry
	e.Seq = binary.LittleEndian.Uint32(b[0:])
	copy(e.Label[:], b[4:24])
	e.State = State(binary.LittleEndian.Uint32(b[24:]))
	e.CRC = binary.LittleEndian.Uint32(b[28:])
	return e, nil
}

// Encode returns the entry's 32 bytes, fields as they are (the CRC is not
// recomputed).
func (e Entry) Encode() []byte {
	b := make([]byte, 0, EntrySize)
	b = binary.LittleEndian.AppendUint32(b, e.Seq)
	b = append(b, e.Label[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(e.State))
	return binary.LittleEndian.AppendUint32(b, e.CRC)
}

// CRCOK reports whether the stored CRC matches the seq.
func (e Entry) CRCOK() bool { return e.CRC == SeqCRC(e.Seq) }

// Invalid is ESP-IDF's bootloader_common_ota_select_invalid: seq erased,
// or state INVALID or ABORTED. It does not look at the CRC.
func (e Entry) Invalid() bool {
	return e.Seq == SeqErased || e.State == StateInvalid || e.State == StateAborted
}

// Valid is bootloader_common_ota_select_valid: not Invalid and the CRC
// matches. Only a valid entry can be active.
func (e Entry) Valid() bool { return !e.Invalid() && e.CRCOK() }

// Slot is the ota_N partition the entry boots: (seq − 1) mod 2, in uint32
// arithmetic as ESP-IDF computes it (seq 0 gives ota_1).
func (e Entry) Slot() int { return int((e.Seq - 1) % numSlots) }

func (e Entry) String() string {
	return fmt.Sprintf("seq %d %s (ota_%d)", e.Seq, e.State, e.Slot())
}

// Otadata is the otadata partition as read: the entry at the start of
// sector 0 and the one at the start of sector 1.
type Otadata [2]Entry

// ParseOtadata reads the two entries of an otadata partition image whose
// sectors are sectorSize bytes: at offsets 0 and sectorSize.
func ParseOtadata(b []byte, sectorSize int) (Otadata, error) {
	if sectorSize < EntrySize || len(b) < sectorSize+EntrySize {
		return Otadata{}, fmt.Errorf("espota: otadata of %d bytes with %d-byte sectors: %w", len(b), sectorSize, ErrShortEntry)
	}
	var o Otadata
	o[0], _ = ParseEntry(b)
	o[1], _ = ParseEntry(b[sectorSize:])
	return o, nil
}

// Active is bootloader_common_get_active_otadata: the index of the valid
// entry with the larger seq (sector 0 on a tie), or -1 when neither is
// valid.
func (o Otadata) Active() int {
	v0, v1 := o[0].Valid(), o[1].Valid()
	switch {
	case v0 && v1:
		if o[0].Seq >= o[1].Seq {
			return 0
		}
		return 1
	case v0:
		return 0
	case v1:
		return 1
	}
	return -1
}

// stateOf is esp_ota_get_state_partition: the state of the first entry, in
// sector order, that maps to slot and whose CRC matches; ok is false when
// there is none.
func (o Otadata) stateOf(slot int) (st State, ok bool) {
	for _, e := range o {
		if e.Slot() == slot && e.CRCOK() {
			return e.State, true
		}
	}
	return 0, false
}

// NextSeq is the seq esp_ota_set_boot_partition writes to boot ota_k when
// the active entry has seq active: ESP-IDF's loop
//
//	while (seq > (k+1)%n + i*n) i++;  new = (k+1)%n + i*n
//
// gives the smallest s ≥ active with (s − 1) mod 2 = k. That is active+1
// when ota_k is the other slot, and active itself (not active+2) when ota_k
// is the active entry's own slot. ok is false when no such seq below
// 0xFFFFFFFF exists.
func NextSeq(active uint32, k int) (seq uint32, ok bool) {
	base := uint64((k + 1) % numSlots)
	s := base
	if a := uint64(active); a > base {
		s = base + (a-base+numSlots-1)/numSlots*numSlots
	}
	if s >= uint64(SeqErased) {
		return 0, false
	}
	return uint32(s), true
}
