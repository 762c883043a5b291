package uboot_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"maps"
	"strings"
	"testing"

	"brickyard/boards/uboot"
)

func TestParseEnv(t *testing.T) {
	const size = 64
	withPad := func(b []byte, off int, v byte) []byte { // change a byte, keep the CRC
		b[off] = v
		return b
	}
	fixCRC := func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b, crc32.ChecksumIEEE(b[uboot.HeaderSize:]))
		return b
	}
	tests := []struct {
		name    string
		in      []byte
		want    map[string]string
		flags   byte
		wantErr error
	}{
		{"Valid_ReadsEveryEntry", rawCopy(1, "a=1\x00bootcmd=run x; run y\x00\x00", size),
			map[string]string{"a": "1", "bootcmd": "run x; run y"}, 1, nil},
		{"EmptyList_NoVariables", rawCopy(0, "\x00", size), map[string]string{}, 0, nil},
		{"ValueWithEquals_KeptWhole", rawCopy(1, "args=root=/dev/x a=b\x00\x00", size),
			map[string]string{"args": "root=/dev/x a=b"}, 1, nil},
		{"EmptyValue_Kept", rawCopy(1, "a=\x00\x00", size), map[string]string{"a": ""}, 1, nil},
		{"DuplicateName_LastWins", rawCopy(1, "a=1\x00a=2\x00\x00", size), map[string]string{"a": "2"}, 1, nil},
		{"FlagsByteOutsideCRC_StillGood", withPad(rawCopy(1, "a=1\x00\x00", size), uboot.FlagsOffset, 0x7F),
			map[string]string{"a": "1"}, 0x7F, nil},
		{"PaddingChanged_BadCRC", withPad(rawCopy(1, "a=1\x00\x00", size), size-1, 0x00), nil, 1, uboot.ErrBadCRC},
		{"ErasedCopy_BadCRC", bytes.Repeat([]byte{0xFF}, size), nil, 0xFF, uboot.ErrBadCRC},
		{"EntryRunsToEnd_NoTerminator", fixCRC(bytes.Repeat([]byte{'a'}, size)), nil, 0, uboot.ErrNoTerminator},
		{"ListNotEnded_NoTerminator", rawCopy(1, "a="+strings.Repeat("b", size-uboot.HeaderSize-3)+"\x00", size), nil, 0, uboot.ErrNoTerminator},
		{"EntryWithoutEquals_BadEntry", rawCopy(1, "a=1\x00junk\x00\x00", size), nil, 0, uboot.ErrBadEntry},
		{"EmptyName_BadEntry", rawCopy(1, "=1\x00\x00", size), nil, 0, uboot.ErrBadEntry},
		{"ShorterThanHeader_Short", []byte{1, 2, 3, 4, 5}, nil, 0, uboot.ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := uboot.ParseEnv(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if e.Flags != tt.flags {
				t.Errorf("flags = %d, want %d", e.Flags, tt.flags)
			}
			if tt.wantErr == nil && !maps.Equal(e.Vars, tt.want) {
				t.Errorf("vars = %q, want %q", e.Vars, tt.want)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	env := uboot.Env{Flags: uboot.FlagActive, Vars: map[string]string{"upgrade_available": "1", "boot_part": "B", "bootcount": "0"}}
	const data = "boot_part=B\x00bootcount=0\x00upgrade_available=1\x00\x00"

	t.Run("Layout_CRCFlagsSortedEntriesFFPadding", func(t *testing.T) {
		got, err := env.Encode(256)
		if err != nil {
			t.Fatal(err)
		}
		if want := rawCopy(uboot.FlagActive, data, 256); !bytes.Equal(got, want) {
			t.Fatalf("Encode =\n%x\nwant\n%x", got, want)
		}
		if got[uboot.HeaderSize+len(data)] != 0xFF || got[255] != 0xFF {
			t.Error("padding is not 0xFF")
		}
	})
	t.Run("ExactFit_OK", func(t *testing.T) {
		if _, err := env.Encode(uboot.HeaderSize + len(data)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("OneByteShort_TooLarge", func(t *testing.T) {
		if _, err := env.Encode(uboot.HeaderSize + len(data) - 1); !errors.Is(err, uboot.ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	for name, vars := range map[string]map[string]string{
		"EmptyName_BadEntry":      {"": "x"},
		"NameWithEquals_BadEntry": {"a=b": "x"},
		"NameWithNUL_BadEntry":    {"a\x00": "x"},
		"ValueWithNUL_BadEntry":   {"a": "x\x00y"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := (uboot.Env{Vars: vars}).Encode(256); !errors.Is(err, uboot.ErrBadEntry) {
				t.Fatalf("err = %v, want ErrBadEntry", err)
			}
		})
	}
	t.Run("RoundTrip_Stable", func(t *testing.T) {
		b, err := env.Encode(envSize)
		if err != nil {
			t.Fatal(err)
		}
		back, err := uboot.ParseEnv(b)
		if err != nil || back.Flags != env.Flags || !maps.Equal(back.Vars, env.Vars) {
			t.Fatalf("ParseEnv(Encode) = %+v, %v; want %+v", back, err, env)
		}
	})
}

func TestUlong_AsEnvGetUlong(t *testing.T) {
	e := uboot.Env{Vars: map[string]string{"n": "12", "trail": "12abc", "word": "abc", "empty": "", "hex": "0x10", "space": " 1",
		"wrap": "18446744073709551617"}}
	for name, want := range map[string]uint64{"n": 12, "trail": 12, "word": 0, "empty": 0, "unset": 0, "hex": 0, "space": 0, "wrap": 1} {
		if got := e.Ulong(name); got != want {
			t.Errorf("Ulong(%s=%q) = %d, want %d", name, e.Vars[name], got, want)
		}
	}
}
