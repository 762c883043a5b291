package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The protocol's constants.
const (
	Version    = 1    // the protocol version this package speaks
	Delim      = 0x00 // starts and ends a frame
	Mark       = 0xA5 // follows the starting delimiter
	HeaderLen  = 6    // version, type, flags, seq, length (u16)
	CRCLen     = 4    // CRC-32 (IEEE) after the payload
	MaxPayload = 4096 // the largest payload of any frame

	// MaxEncoded is the longest COBS body of a frame (between the marker
	// and the closing delimiter); a receiver drops a longer one.
	MaxEncoded = HeaderLen + MaxPayload + CRCLen + (HeaderLen+MaxPayload+CRCLen)/254 + 1
	// MaxFrame is the longest frame on the wire, delimiters included.
	MaxFrame = 2 + MaxEncoded + 1
)

// Type is a frame's operation.
type Type uint8

// Operations (docs/bench-protocol.md, "Operations").
const (
	TypeHello    Type = 0x01 // event: the board's link is up (after every reset); payload Hello
	TypeIdentify Type = 0x02 // → Hello
	TypePing     Type = 0x03 // → the same payload
	TypeRead     Type = 0x10 // ReadReq → data
	TypeProgram  Type = 0x11 // ProgramReq (one chunk) → OpsResp
	TypeErase    Type = 0x12 // EraseReq → OpsResp
	TypeHash     Type = 0x13 // HashReq → digests
	TypeStatus   Type = 0x20 // → Status
	TypeReboot   Type = 0x21 // RebootReq → empty; then the board resets
	TypeConfirm  Type = 0x22 // → OpsResp
	TypeArmCut   Type = 0x30 // ArmCutReq → empty (CapCut)
	TypeCut      Type = 0x31 // event: an armed cut took the power; payload CutEvent
)

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "hello"
	case TypeIdentify:
		return "identify"
	case TypePing:
		return "ping"
	case TypeRead:
		return "read"
	case TypeProgram:
		return "program"
	case TypeErase:
		return "erase"
	case TypeHash:
		return "hash"
	case TypeStatus:
		return "status"
	case TypeReboot:
		return "reboot"
	case TypeConfirm:
		return "confirm"
	case TypeArmCut:
		return "arm-cut"
	case TypeCut:
		return "cut"
	}
	return fmt.Sprintf("type(0x%02x)", uint8(t))
}

// Flags of a frame.
type Flags uint8

const (
	FlagResp  Flags = 1 << 0 // a response to the request of the same seq
	FlagErr   Flags = 1 << 1 // with FlagResp: the request failed; payload ErrorResp
	FlagEvent Flags = 1 << 2 // sent by the board unasked; seq 0
	FlagFirst Flags = 1 << 3 // Program: the first chunk of an operation
	FlagLast  Flags = 1 << 4 // Program: the last chunk of an operation

	knownFlags = FlagResp | FlagErr | FlagEvent | FlagFirst | FlagLast
)

// Frame is one decoded frame.
type Frame struct {
	Type    Type
	Flags   Flags
	Seq     uint8
	Payload []byte
}

func (f Frame) String() string {
	return fmt.Sprintf("%s flags=0x%02x seq=%d len=%d", f.Type, uint8(f.Flags), f.Seq, len(f.Payload))
}

// Errors of Decode and Append.
var (
	ErrShort     = errors.New("wire: frame shorter than a header and a CRC")
	ErrLength    = errors.New("wire: frame length field does not match its size (truncated or padded)")
	ErrCRC       = errors.New("wire: CRC mismatch")
	ErrTooLarge  = errors.New("wire: payload larger than the protocol's 4096 bytes")
	ErrFlags     = errors.New("wire: unknown flag bits")
	ErrOversized = errors.New("wire: frame longer than the protocol allows")
)

// VersionError is a frame whose CRC is good but whose version is not
// this package's.
type VersionError struct{ Got uint8 }

func (e *VersionError) Error() string {
	return fmt.Sprintf("wire: frame of protocol version %d, this side speaks %d", e.Got, Version)
}

// Append appends f's wire encoding, delimiters included, to dst.
func Append(dst []byte, f Frame) ([]byte, error) { return AppendVersion(dst, f, Version) }

// AppendVersion is Append with another protocol version in the header:
// how an emulator plays a board of another version.
func AppendVersion(dst []byte, f Frame, version uint8) ([]byte, error) {
	if len(f.Payload) > MaxPayload {
		return dst, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(f.Payload))
	}
	raw := make([]byte, 0, HeaderLen+len(f.Payload)+CRCLen)
	raw = append(raw, version, byte(f.Type), byte(f.Flags), f.Seq)
	raw = binary.LittleEndian.AppendUint16(raw, uint16(len(f.Payload)))
	raw = append(raw, f.Payload...)
	raw = binary.LittleEndian.AppendUint32(raw, crc32.ChecksumIEEE(raw))
	dst = append(dst, Delim, Mark)
	dst = cobsEncode(dst, raw)
	return append(dst, Delim), nil
}

// Encode is Append to a new slice.
func Encode(f Frame) ([]byte, error) { return Append(nil, f) }

// Decode decodes a frame's COBS body: the bytes between the marker and
// the closing delimiter. Checks, in order: size bound, COBS, length, CRC,
// version, flags. The payload is a new slice.
func Decode(body []byte) (Frame, error) {
	if len(body) > MaxEncoded {
		return Frame{}, fmt.Errorf("%w: %d encoded bytes", ErrOversized, len(body))
	}
	raw, err := cobsDecode(make([]byte, 0, len(body)), body)
	if err != nil {
		return Frame{}, err
	}
	if len(raw) > HeaderLen+MaxPayload+CRCLen {
		return Frame{}, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(raw)-HeaderLen-CRCLen)
	}
	if len(raw) < HeaderLen+CRCLen {
		return Frame{}, fmt.Errorf("%w: %d bytes", ErrShort, len(raw))
	}
	n := int(binary.LittleEndian.Uint16(raw[4:]))
	if n > MaxPayload {
		return Frame{}, fmt.Errorf("%w: length field %d", ErrTooLarge, n)
	}
	if HeaderLen+n+CRCLen != len(raw) {
		return Frame{}, fmt.Errorf("%w: length field %d, %d payload bytes", ErrLength, n, len(raw)-HeaderLen-CRCLen)
	}
	body, sum := raw[:HeaderLen+n], binary.LittleEndian.Uint32(raw[HeaderLen+n:])
	if crc32.ChecksumIEEE(body) != sum {
		return Frame{}, ErrCRC
	}
	if raw[0] != Version {
		return Frame{}, &VersionError{Got: raw[0]}
	}
	f := Frame{Type: Type(raw[1]), Flags: Flags(raw[2]), Seq: raw[3]}
	if f.Flags&^knownFlags != 0 {
		return Frame{}, fmt.Errorf("%w: 0x%02x", ErrFlags, uint8(f.Flags))
	}
	if n > 0 {
		f.Payload = append([]byte(nil), raw[HeaderLen:HeaderLen+n]...)
	}
	return f, nil
}
