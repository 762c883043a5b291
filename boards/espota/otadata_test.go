package espota_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"brickyard/boards/espota"
)

// §1.3: crc = crc32.Update(0xFFFFFFFF, IEEE, le32(seq)), vectors measured.
func TestSeqCRC_Vectors(t *testing.T) {
	for _, c := range []struct {
		seq  uint32
		want uint32
	}{
		{1, 0x4743989A},
		{2, 0x55F63774},
		{3, 0xED4A5011},
		{0, 0xFFFFFFFF}, // hence the seq-0 hazard
	} {
		if got := espota.SeqCRC(c.seq); got != c.want {
			t.Errorf("SeqCRC(%d) = 0x%08X, want 0x%08X", c.seq, got, c.want)
		}
	}
}

func TestEntry_Layout(t *testing.T) {
	got := espota.NewEntry(1, espota.StateValid).Encode()
	want, _ := hex.DecodeString("01000000" + strings.Repeat("ff", 20) + "02000000" + "9a984347")
	if !bytes.Equal(got, want) {
		t.Fatalf("NewEntry(1, VALID) = %x, want %x", got, want)
	}
	e, err := espota.ParseEntry(append(want, 0xAA)) // trailing bytes ignored
	if err != nil {
		t.Fatal(err)
	}
	if e != espota.NewEntry(1, espota.StateValid) {
		t.Fatalf("ParseEntry = %+v", e)
	}
	if _, err := espota.ParseEntry(want[:31]); !errors.Is(err, espota.ErrShortEntry) {
		t.Fatalf("31 bytes: err %v, want ErrShortEntry", err)
	}
}

// Entry rules of §1.3, one row per rule.
func TestEntry_Rules(t *testing.T) {
	badCRC := espota.NewEntry(2, espota.StateValid)
	badCRC.CRC ^= 1
	seqZero := espota.Entry{Seq: 0, State: espota.StateUndefined, CRC: 0xFFFFFFFF}
	for _, c := range []struct {
		name           string
		e              espota.Entry
		invalid, valid bool
		slot           int
	}{
		{"SeqErasedIsInvalid", espota.Entry{Seq: 0xFFFFFFFF, State: espota.StateValid, CRC: espota.SeqCRC(0xFFFFFFFF)}, true, false, 0},
		{"InvalidStateIsInvalid", espota.NewEntry(1, espota.StateInvalid), true, false, 0},
		{"AbortedStateIsInvalid", espota.NewEntry(2, espota.StateAborted), true, false, 1},
		{"BadCRCIsNotValid", badCRC, false, false, 1},
		{"NewIsValid", espota.NewEntry(3, espota.StateNew), false, true, 0},
		{"PendingVerifyIsValid", espota.NewEntry(4, espota.StatePendingVerify), false, true, 1},
		{"ValidIsValid", espota.NewEntry(5, espota.StateValid), false, true, 0},
		{"UndefinedIsValid", espota.NewEntry(6, espota.StateUndefined), false, true, 1},
		{"StateNotCoveredByCRC", espota.NewEntry(7, espota.State(0x12345678)), false, true, 0},
		{"SeqZeroWithErasedCRCIsValid", seqZero, false, true, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.e.Invalid(); got != c.invalid {
				t.Errorf("Invalid() = %v, want %v", got, c.invalid)
			}
			if got := c.e.Valid(); got != c.valid {
				t.Errorf("Valid() = %v, want %v", got, c.valid)
			}
			if got := c.e.Slot(); got != c.slot {
				t.Errorf("Slot() = %d, want %d", got, c.slot)
			}
		})
	}
}

func TestState_String(t *testing.T) {
	for st, want := range map[espota.State]string{
		0: "NEW", 1: "PENDING_VERIFY", 2: "VALID", 3: "INVALID", 4: "ABORTED",
		0xFFFFFFFF: "UNDEFINED", 7: "state(0x00000007)",
	} {
		if got := st.String(); got != want {
			t.Errorf("State(%d) = %q, want %q", uint32(st), got, want)
		}
	}
}

func TestOtadata_Active(t *testing.T) {
	v := func(seq uint32) espota.Entry { return espota.NewEntry(seq, espota.StateValid) }
	erased := espota.Entry{Seq: 0xFFFFFFFF, State: espota.StateUndefined, CRC: 0xFFFFFFFF}
	for _, c := range []struct {
		name string
		o    espota.Otadata
		want int
	}{
		{"NoneValid", espota.Otadata{erased, erased}, -1},
		{"LargerSeqWins", espota.Otadata{v(1), v(2)}, 1},
		{"LargerSeqWinsSector0", espota.Otadata{v(5), v(4)}, 0},
		{"TieGoesToSector0", espota.Otadata{v(3), espota.NewEntry(3, espota.StateNew)}, 0},
		{"OnlyValidOne", espota.Otadata{erased, v(9)}, 1},
		{"AbortedSkipped", espota.Otadata{v(1), espota.NewEntry(2, espota.StateAborted)}, 0},
	} {
		if got := c.o.Active(); got != c.want {
			t.Errorf("%s: Active() = %d, want %d", c.name, got, c.want)
		}
	}
}

// esp_rewrite_ota_data: smallest s ≥ active with (s−1) mod 2 = k.
func TestNextSeq(t *testing.T) {
	for _, c := range []struct {
		active uint32
		k      int
		want   uint32
		ok     bool
	}{
		{1, 1, 2, true},
		{2, 0, 3, true},
		{3, 1, 4, true},
		{1, 0, 1, true}, // own slot: same seq, not 3
		{2, 1, 2, true},
		{0, 0, 1, true},
		{0, 1, 0, true},
		{0xFFFFFFFE, 1, 0xFFFFFFFE, true},
		{0xFFFFFFFE, 0, 0, false}, // would be 0xFFFFFFFF, the erased seq
	} {
		got, ok := espota.NextSeq(c.active, c.k)
		if got != c.want || ok != c.ok {
			t.Errorf("NextSeq(%d, %d) = %d, %v; want %d, %v", c.active, c.k, got, ok, c.want, c.ok)
		}
	}
}
