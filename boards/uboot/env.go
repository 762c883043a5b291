package uboot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
)

// The binary layout of one copy of a redundant U-Boot environment
// (env_t with CONFIG_SYS_REDUNDAND_ENVIRONMENT):
//
//	offset  size          field
//	0       4             CRC-32 of the data area, little-endian (crc32.ChecksumIEEE)
//	4       1             flags: ACTIVE 1 / OBSOLETE 0 on SPI NOR
//	5       size−5        data area: "name=value\0" … "\0", then padding
//
// The CRC covers the whole data area, padding included, and not the flags
// byte.
const (
	HeaderSize   = 5 // CRC-32 and flags byte
	FlagsOffset  = 4 // offset of the flags byte in a copy
	FlagActive   = byte(1)
	FlagObsolete = byte(0)
	// Pad fills the data area after the list's terminating NUL, as
	// mkenvimage does by default.
	Pad = byte(0xFF)
)

// Errors ParseEnv and Encode return, wrapped with details (test with
// errors.Is).
var (
	// ErrShort: the buffer cannot hold a header and a one-byte data area.
	ErrShort = errors.New("uboot: env shorter than its header")
	// ErrBadCRC: the CRC-32 does not match the data area (U-Boot: "bad CRC").
	ErrBadCRC = errors.New("uboot: env CRC mismatch")
	// ErrNoTerminator: an entry, or the list, is not NUL-terminated
	// inside the data area.
	ErrNoTerminator = errors.New("uboot: env not terminated")
	// ErrBadEntry: an entry has no '=' or an empty name, or (Encode) a
	// name holds '=' or NUL, or a value holds NUL.
	ErrBadEntry = errors.New("uboot: bad env entry")
	// ErrTooLarge: the variables do not fit the data area (Encode).
	ErrTooLarge = errors.New("uboot: env does not fit")
)

// Env is one environment: its variables and the redundant flags byte of
// the copy it was read from or will be written to.
type Env struct {
	Flags byte
	Vars  map[string]string
}

// ParseEnv reads one environment copy of len(b) bytes (CONFIG_ENV_SIZE):
// it checks the CRC first, then reads entries up to the empty entry that
// ends the list. A name given twice keeps its last value, as U-Boot's
// himport_r and libubootenv do. On ErrBadCRC the returned Env carries the
// flags byte and no variables.
//
// Parsing is strict where U-Boot's importer is lenient (it skips leading
// blanks and '#' lines, and takes an entry without '=' as a deletion): such
// entries are ErrBadEntry here. Every Env that ParseEnv returns encodes
// back, with Encode(len(b)), to a copy that parses to the same Env.
func ParseEnv(b []byte) (Env, error) {
	if len(b) < HeaderSize+1 {
		return Env{}, fmt.Errorf("%w: %d bytes, need at least %d", ErrShort, len(b), HeaderSize+1)
	}
	e := Env{Flags: b[FlagsOffset]}
	data := b[HeaderSize:]
	if stored, sum := binary.LittleEndian.Uint32(b), crc32.ChecksumIEEE(data); stored != sum {
		return e, fmt.Errorf("%w: stored 0x%08x, data area sums to 0x%08x", ErrBadCRC, stored, sum)
	}
	e.Vars = map[string]string{}
	off := 0
	for {
		if off >= len(data) {
			return Env{}, fmt.Errorf("%w: no empty entry ends the list before the end of the %d-byte data area", ErrNoTerminator, len(data))
		}
		n := bytes.IndexByte(data[off:], 0)
		if n < 0 {
			return Env{}, fmt.Errorf("%w: entry at data offset %d runs to the end of the data area", ErrNoTerminator, off)
		}
		if n == 0 {
			return e, nil
		}
		name, value, ok := strings.Cut(string(data[off:off+n]), "=")
		if !ok || name == "" {
			return Env{}, fmt.Errorf("%w: %q at data offset %d", ErrBadEntry, clip(data[off:off+n]), off)
		}
		e.Vars[name] = value
		off += n + 1
	}
}

// Encode returns the copy of size bytes (CONFIG_ENV_SIZE) that holds e:
// CRC, e.Flags, the variables sorted by name as U-Boot's hexport_r writes
// them, the empty entry, then Pad up to size.
func (e Env) Encode(size int) ([]byte, error) {
	if size < HeaderSize+1 {
		return nil, fmt.Errorf("%w: size %d", ErrShort, size)
	}
	names := make([]string, 0, len(e.Vars))
	need := 1 // the empty entry that ends the list
	for name, value := range e.Vars {
		if name == "" || strings.ContainsAny(name, "=\x00") || strings.IndexByte(value, 0) >= 0 {
			return nil, fmt.Errorf("%w: %q=%q", ErrBadEntry, name, value)
		}
		names = append(names, name)
		need += len(name) + 1 + len(value) + 1
	}
	if need > size-HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes of variables, the data area holds %d", ErrTooLarge, need, size-HeaderSize)
	}
	slices.Sort(names)
	b := make([]byte, HeaderSize, size)
	for _, name := range names {
		b = append(b, name...)
		b = append(b, '=')
		b = append(b, e.Vars[name]...)
		b = append(b, 0)
	}
	b = append(b, 0)
	for len(b) < size {
		b = append(b, Pad)
	}
	b[FlagsOffset] = e.Flags
	binary.LittleEndian.PutUint32(b, crc32.ChecksumIEEE(b[HeaderSize:]))
	return b, nil
}

// Clone returns a copy of e with its own map.
func (e Env) Clone() Env {
	n := Env{Flags: e.Flags, Vars: make(map[string]string, len(e.Vars)+4)}
	for k, v := range e.Vars {
		n.Vars[k] = v
	}
	return n
}

// Get returns the value of name; "" when it is unset.
func (e Env) Get(name string) string { return e.Vars[name] }

// Ulong reads name as U-Boot's env_get_ulong(name, 10, 0) does: the
// decimal digits it starts with (simple_strtoul), 0 when it is unset or
// does not start with a digit. Overflow wraps, as a 64-bit ulong does.
func (e Env) Ulong(name string) uint64 {
	var n uint64
	for _, c := range []byte(e.Vars[name]) {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

// set stores a variable; e.Vars must not be nil.
func (e Env) set(name, value string) { e.Vars[name] = value }

func (e Env) setUlong(name string, n uint64) { e.Vars[name] = strconv.FormatUint(n, 10) }

// clip shortens an entry for an error message.
func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}
