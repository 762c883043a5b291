package uboot_test

import (
	"bytes"
	"errors"
	"testing"

	"brickyard/boards/uboot"
)

// TestSelect checks U-Boot's choice between the two copies (§2.4), one
// subtest per rule. Copy 1 holds "who=one", copy 2 "who=two".
func TestSelect(t *testing.T) {
	const size = 128
	good := func(flags byte, who string) []byte { return rawCopy(flags, "who="+who+"\x00\x00", size) }
	bad := func(flags byte) []byte {
		b := good(flags, "bad")
		b[size-1] = 0 // padding is under the CRC
		return b
	}
	badEntry := rawCopy(1, "junk\x00\x00", size)
	tests := []struct {
		name   string
		c1, c2 []byte
		want   uboot.Copy
	}{
		{"BothBad_DefaultEnv", bad(1), bad(1), uboot.CopyNone},
		{"BothErased_DefaultEnv", bytes.Repeat([]byte{0xFF}, size), bytes.Repeat([]byte{0xFF}, size), uboot.CopyNone},
		{"Copy1GoodOnly_Copy1", good(0, "one"), bad(1), uboot.Copy1},
		{"Copy2GoodOnly_Copy2", bad(1), good(0, "two"), uboot.Copy2},
		{"BothGoodActiveObsolete_ActiveCopy1Wins", good(1, "one"), good(0, "two"), uboot.Copy1},
		{"BothGoodObsoleteActive_ActiveCopy2Wins", good(0, "one"), good(1, "two"), uboot.Copy2},
		{"BothGoodEqualFlags_Copy1Wins", good(1, "one"), good(1, "two"), uboot.Copy1},
		{"BothGoodBothObsolete_Copy1Wins", good(0, "one"), good(0, "two"), uboot.Copy1},
		{"BothGood255And0_ZeroWinsCopy2", good(255, "one"), good(0, "two"), uboot.Copy2},
		{"BothGood0And255_ZeroWinsCopy1", good(0, "one"), good(255, "two"), uboot.Copy1},
		{"BothGoodSerials_LargerWins", good(5, "one"), good(6, "two"), uboot.Copy2},
		{"ChosenCopyFailsImport_DefaultEnvNotOtherCopy", badEntry, good(0, "two"), uboot.CopyNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := uboot.Select(tt.c1, tt.c2)
			if s.Copy != tt.want {
				t.Fatalf("Select = %v (errs %v), want %v", s.Copy, s.Errs, tt.want)
			}
			want := map[uboot.Copy]string{uboot.Copy1: "one", uboot.Copy2: "two"}[tt.want]
			if got := s.Env.Get("who"); got != want {
				t.Errorf("who = %q, want %q", got, want)
			}
			if s.Flags != [2]byte{tt.c1[uboot.FlagsOffset], tt.c2[uboot.FlagsOffset]} {
				t.Errorf("flags = %v", s.Flags)
			}
		})
	}
	t.Run("BadCopy_ReportsErrBadCRC", func(t *testing.T) {
		s := uboot.Select(bad(1), good(1, "two"))
		if !errors.Is(s.Errs[0], uboot.ErrBadCRC) || s.Errs[1] != nil {
			t.Fatalf("errs = %v", s.Errs)
		}
	})
}
