package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrPayload: a payload is too short, too long, or holds a field outside
// its bounds. The error names the payload and the field.
var ErrPayload = errors.New("wire: bad payload")

// enc appends little-endian fields.
type enc []byte

func (e enc) u8(v uint8) enc   { return append(e, v) }
func (e enc) u16(v uint16) enc { return binary.LittleEndian.AppendUint16(e, v) }
func (e enc) u32(v uint32) enc { return binary.LittleEndian.AppendUint32(e, v) }
func (e enc) u64(v uint64) enc { return binary.LittleEndian.AppendUint64(e, v) }

// str appends a u8 length and the bytes, cut at 255.
func (e enc) str(s string) enc {
	if len(s) > 255 {
		s = s[:255]
	}
	return append(e.u8(uint8(len(s))), s...)
}

// dec reads fields; the first failure sticks and names the payload.
type dec struct {
	b    []byte
	what string
	err  error
}

func (d *dec) fail(field, why string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s %s", ErrPayload, d.what, field, why)
	}
}

func (d *dec) take(n int, field string) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail(field, "truncated")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) u8(field string) uint8 {
	if v := d.take(1, field); v != nil {
		return v[0]
	}
	return 0
}

func (d *dec) u16(field string) uint16 {
	if v := d.take(2, field); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (d *dec) u32(field string) uint32 {
	if v := d.take(4, field); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *dec) u64(field string) uint64 {
	if v := d.take(8, field); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

// str reads a u8-length string of at most max bytes of printable ASCII.
func (d *dec) str(field string, max int) string {
	n := int(d.u8(field))
	if d.err == nil && n > max {
		d.fail(field, fmt.Sprintf("is %d bytes, at most %d", n, max))
		return ""
	}
	v := d.take(n, field)
	for _, c := range v {
		if c < 0x20 || c > 0x7e {
			d.fail(field, "holds a byte that is not printable ASCII")
			return ""
		}
	}
	return string(v)
}

// text reads a u8-length UTF-8-agnostic text (an error message, a
// reason): any bytes, at most 255.
func (d *dec) text(field string) string {
	n := int(d.u8(field))
	return string(d.take(n, field))
}

// done fails when bytes are left over.
func (d *dec) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("payload", fmt.Sprintf("has %d bytes past its end", len(d.b)))
	}
	return d.err
}
