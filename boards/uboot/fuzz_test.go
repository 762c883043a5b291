package uboot_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"maps"
	"testing"

	"brickyard/boards/uboot"
)

// FuzzParseEnv: ParseEnv never panics; what it accepts encodes back
// (Encode of the same size) to a copy that parses to the same Env, and
// encoding is canonical. Each input is tried as given and with its CRC
// fixed, so the fuzzer reaches the entry parser.
func FuzzParseEnv(f *testing.F) {
	l, err := uboot.New(uboot.Options{})
	if err != nil {
		f.Fatal(err)
	}
	def, err := l.DefaultEnv().Encode(1024)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	f.Add(rawCopy(1, "a=1\x00b=x=y\x00\x00", 64))
	f.Add(rawCopy(0, "\x00", 16))
	f.Add(rawCopy(1, "a=1\x00a=2\x00\x00", 32))
	f.Add(rawCopy(1, "junk\x00\x00", 32))
	f.Add(rawCopy(1, "=v\x00\x00", 32))
	f.Add(bytes.Repeat([]byte{0xFF}, 64))
	f.Add([]byte{0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		check(t, b)
		if len(b) >= uboot.HeaderSize {
			fixed := bytes.Clone(b)
			binary.LittleEndian.PutUint32(fixed, crc32.ChecksumIEEE(fixed[uboot.HeaderSize:]))
			if _, err := check(t, fixed); errors.Is(err, uboot.ErrBadCRC) {
				t.Fatalf("a copy with its CRC fixed fails the CRC: %v", err)
			}
		}
	})
}

func check(t *testing.T, b []byte) (uboot.Env, error) {
	e, err := uboot.ParseEnv(b)
	if err != nil {
		if !errors.Is(err, uboot.ErrShort) && !errors.Is(err, uboot.ErrBadCRC) && !errors.Is(err, uboot.ErrNoTerminator) && !errors.Is(err, uboot.ErrBadEntry) {
			t.Fatalf("unnamed error %v", err)
		}
		return e, err
	}
	if len(b) >= uboot.HeaderSize && e.Flags != b[uboot.FlagsOffset] {
		t.Fatalf("flags %d, byte 4 is %d", e.Flags, b[uboot.FlagsOffset])
	}
	enc, err := e.Encode(len(b))
	if err != nil {
		t.Fatalf("Encode(%d) of a parsed env: %v", len(b), err)
	}
	back, err := uboot.ParseEnv(enc)
	if err != nil {
		t.Fatalf("ParseEnv(Encode): %v", err)
	}
	if back.Flags != e.Flags || !maps.Equal(back.Vars, e.Vars) {
		t.Fatalf("parse→encode→parse changed the env: %q → %q", e.Vars, back.Vars)
	}
	if again, err := back.Encode(len(b)); err != nil || !bytes.Equal(again, enc) {
		t.Fatalf("Encode is not canonical (err %v)", err)
	}
	return e, nil
}
