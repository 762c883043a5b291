package image

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Sizes and constants of the format.
const (
	Magic          = "BYFW"
	FormatVersion  = 1       // the only format version this package reads and writes
	HeaderSize     = 64      // fixed part of the header; the smallest header size
	TrailerSize    = 32 + 64 // SHA-256 digest, then Ed25519 signature
	MaxPayloadSize = 1 << 30 // largest payload ParseHeader accepts
	boardIDSize    = 16      // bytes of the board id field

	// FlagHealthFail marks an image whose simulated application fails its
	// health check, so a trial boot of it never confirms.
	FlagHealthFail uint32 = 1 << 0

	knownFlags = FlagHealthFail
)

// Header is the decoded fixed header of an image.
type Header struct {
	FormatVersion   uint16 // 1
	HeaderSize      uint16 // where the payload starts: ≥ 64, a multiple of 8
	PayloadSize     uint32
	Flags           uint32 // FlagHealthFail or 0
	Version         Version
	SecurityCounter uint32
	BoardID         string // board profile name, 1-16 printable ASCII bytes, no spaces
	KeyID           [8]byte
}

// TotalSize is the size of the whole image: header, payload and trailer.
func (h Header) TotalSize() int {
	return int(h.HeaderSize) + int(h.PayloadSize) + TrailerSize
}

// HealthFail reports whether FlagHealthFail is set.
func (h Header) HealthFail() bool { return h.Flags&FlagHealthFail != 0 }

// Encode returns the header's bytes: max(h.HeaderSize, 64) of them, the
// fixed fields followed by zero padding. It writes the fields as they are
// and checks nothing (Pack and ParseHeader do); a BoardID longer than 16
// bytes is cut. For a header ParseHeader returned, Encode gives back
// exactly the bytes it parsed.
func (h Header) Encode() []byte {
	b := make([]byte, max(int(h.HeaderSize), HeaderSize))
	copy(b[0:4], Magic)
	le := binary.LittleEndian
	le.PutUint16(b[4:], h.FormatVersion)
	le.PutUint16(b[6:], h.HeaderSize)
	le.PutUint32(b[8:], h.PayloadSize)
	le.PutUint32(b[12:], h.Flags)
	b[16] = h.Version.Major
	b[17] = h.Version.Minor
	le.PutUint16(b[18:], h.Version.Patch)
	le.PutUint32(b[20:], h.Version.Build)
	le.PutUint32(b[24:], h.SecurityCounter)
	copy(b[32:32+boardIDSize], h.BoardID)
	copy(b[48:56], h.KeyID[:])
	return b
}

// ParseHeader decodes and checks the header at the start of b. b must hold
// the whole header (HeaderSize bytes, padding included); bytes after it are
// ignored, so b may be a whole image. Checks, in order: magic
// (ErrBadMagic), at least 64 bytes (ErrTruncated), the fields
// (ErrBadHeader), the whole header size (ErrTruncated), zero padding
// (ErrBadHeader). It does not check the digest or signature: use Verify.
func ParseHeader(b []byte) (Header, error) {
	h, err := parseFixed(b)
	if err != nil {
		return Header{}, err
	}
	if len(b) < int(h.HeaderSize) {
		return Header{}, fmt.Errorf("%w: header size is %d, only %d bytes", ErrTruncated, h.HeaderSize, len(b))
	}
	if err := checkPadding(b[HeaderSize:h.HeaderSize], HeaderSize); err != nil {
		return Header{}, err
	}
	return h, nil
}

// parseFixed checks the magic and decodes and checks the 64-byte fixed part.
func parseFixed(b []byte) (Header, error) {
	if n := min(len(b), len(Magic)); string(b[:n]) != Magic[:n] {
		return Header{}, fmt.Errorf("%w: starts % x, want %q", ErrBadMagic, b[:n], Magic)
	}
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, a header needs %d", ErrTruncated, len(b), HeaderSize)
	}
	le := binary.LittleEndian
	h := Header{
		FormatVersion:   le.Uint16(b[4:]),
		HeaderSize:      le.Uint16(b[6:]),
		PayloadSize:     le.Uint32(b[8:]),
		Flags:           le.Uint32(b[12:]),
		Version:         Version{Major: b[16], Minor: b[17], Patch: le.Uint16(b[18:]), Build: le.Uint32(b[20:])},
		SecurityCounter: le.Uint32(b[24:]),
	}
	copy(h.KeyID[:], b[48:56])
	board := b[32 : 32+boardIDSize]
	name, _, _ := bytes.Cut(board, []byte{0})
	h.BoardID = string(name)
	if err := h.check(); err != nil {
		return Header{}, err
	}
	switch {
	case le.Uint32(b[28:]) != 0:
		return Header{}, fmt.Errorf("%w: reserved bytes 28-31 are % x, want zero", ErrBadHeader, b[28:32])
	case le.Uint64(b[56:]) != 0:
		return Header{}, fmt.Errorf("%w: reserved bytes 56-63 are % x, want zero", ErrBadHeader, b[56:64])
	case !allZero(board[len(name):]):
		return Header{}, fmt.Errorf("%w: board id %q is not NUL padded", ErrBadHeader, board)
	}
	return h, nil
}

// check applies the rules for the header's fields (ErrBadHeader).
func (h Header) check() error {
	switch {
	case h.FormatVersion != FormatVersion:
		return fmt.Errorf("%w: format version %d, want %d", ErrBadHeader, h.FormatVersion, FormatVersion)
	case h.HeaderSize < HeaderSize || h.HeaderSize%8 != 0:
		return fmt.Errorf("%w: header size %d, want at least %d and a multiple of 8", ErrBadHeader, h.HeaderSize, HeaderSize)
	case h.PayloadSize > MaxPayloadSize:
		return fmt.Errorf("%w: payload size %d exceeds %d", ErrBadHeader, h.PayloadSize, MaxPayloadSize)
	case h.Flags&^knownFlags != 0:
		return fmt.Errorf("%w: unknown flags %#x", ErrBadHeader, h.Flags&^knownFlags)
	}
	return checkBoardID(h.BoardID)
}

// checkBoardID: 1-16 bytes of printable ASCII without spaces.
func checkBoardID(id string) error {
	if id == "" || len(id) > boardIDSize {
		return fmt.Errorf("%w: board id %q must be 1 to %d bytes", ErrBadHeader, id, boardIDSize)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: board id %q has byte %#02x at %d; want printable ASCII without spaces", ErrBadHeader, id, c, i)
		}
	}
	return nil
}

// checkPadding checks header padding bytes that start at offset off.
func checkPadding(pad []byte, off int) error {
	for i, c := range pad {
		if c != 0 {
			return fmt.Errorf("%w: header padding byte at %d is %#02x, want zero", ErrBadHeader, off+i, c)
		}
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
