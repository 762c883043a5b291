package mcuboot

import (
	"encoding/binary"
	"fmt"
	"io"

	"brickyard/boards/image"
)

// MaxTLVArea bounds what is read of the TLV areas: each area's size is a
// u16, so both together are at most this.
const MaxTLVArea = 2 * 0xffff

// TLV is one entry of the TLV areas.
type TLV struct {
	Type      uint16
	Offset    int64  // of the value, from the start of the image
	Value     []byte // the value; it shares the Area's buffer
	Protected bool   // in the protected area, covered by the image hash
}

// Area is an image's TLV areas, parsed.
type Area struct {
	Offset  int64 // where the TLVs start: ih_hdr_size + ih_img_size
	ProtEnd int64 // end of the protected area (= Offset without one)
	End     int64 // end of the unprotected area: the image's extent
	TLVs    []TLV // protected first, in the order they are written
}

// Find returns the first TLV of type t.
func (a Area) Find(t uint16, protectedOnly bool) (TLV, bool) {
	for _, x := range a.TLVs {
		if x.Type == t && (x.Protected || !protectedOnly) {
			return x, true
		}
	}
	return TLV{}, false
}

// ReadArea reads and parses the TLV areas of the image with header h at
// the start of r (size bytes readable), as bootutil_tlv_iter_begin and
// _next walk them: an optional protected area (info magic 0x6908, total
// equal to ih_protect_tlv_size), then the unprotected one (0x6907); each
// entry's header and value must lie inside its area. Nothing is read
// before the two info headers have been checked against size.
func ReadArea(r io.ReaderAt, size int64, h Header) (Area, error) {
	off := h.TLVOffset()
	var info [InfoSize]byte
	if err := image.ReadFull(r, info[:], off, size); err != nil {
		return Area{}, fmt.Errorf("%w: TLV info at %d: %w", ErrTruncated, off, err)
	}
	le := binary.LittleEndian
	magic, tot := le.Uint16(info[:]), int64(le.Uint16(info[2:]))
	a := Area{Offset: off, ProtEnd: off}
	switch {
	case magic == ProtInfoMagic && tot != int64(h.ProtectTLVSize):
		return Area{}, fmt.Errorf("%w: protected area says %d bytes, ih_protect_tlv_size %d", ErrTLV, tot, h.ProtectTLVSize)
	case magic == ProtInfoMagic:
		a.ProtEnd = off + tot
		if err := image.ReadFull(r, info[:], a.ProtEnd, size); err != nil {
			return Area{}, fmt.Errorf("%w: TLV info at %d: %w", ErrTruncated, a.ProtEnd, err)
		}
		magic, tot = le.Uint16(info[:]), int64(le.Uint16(info[2:]))
	case h.ProtectTLVSize != 0:
		return Area{}, fmt.Errorf("%w: ih_protect_tlv_size is %d but the TLVs start with magic %#04x, not %#04x", ErrTLV, h.ProtectTLVSize, magic, ProtInfoMagic)
	}
	if magic != InfoMagic {
		return Area{}, fmt.Errorf("%w: TLV info magic %#04x at %d, want %#04x", ErrTLV, magic, a.ProtEnd, InfoMagic)
	}
	if tot < InfoSize {
		return Area{}, fmt.Errorf("%w: unprotected area of %d bytes is smaller than its info header", ErrTLV, tot)
	}
	a.End = a.ProtEnd + tot
	if a.End > size {
		return Area{}, fmt.Errorf("%w: TLVs end at %d, only %d bytes available", ErrTruncated, a.End, size)
	}
	buf := make([]byte, a.End-off)
	if err := image.ReadFull(r, buf, off, size); err != nil {
		return Area{}, err
	}
	if err := a.parse(buf, h.ProtectTLVSize != 0); err != nil {
		return Area{}, err
	}
	return a, nil
}

// parse splits buf (the bytes from a.Offset to a.End) into TLVs.
func (a *Area) parse(buf []byte, prot bool) error {
	le := binary.LittleEndian
	sections := [][2]int64{{a.Offset, a.ProtEnd}, {a.ProtEnd, a.End}}
	if !prot {
		sections = sections[1:]
	}
	for _, s := range sections {
		for p := s[0] + InfoSize; p < s[1]; {
			if s[1]-p < TLVHeaderSize {
				return fmt.Errorf("%w: TLV header at %d overruns its area (ends at %d)", ErrTLV, p, s[1])
			}
			i := p - a.Offset
			t, n := le.Uint16(buf[i:]), int64(le.Uint16(buf[i+2:]))
			if n > s[1]-p-TLVHeaderSize {
				return fmt.Errorf("%w: TLV %s at %d: %d bytes overrun its area (ends at %d)", ErrTLV, TLVName(t), p, n, s[1])
			}
			v := buf[i+TLVHeaderSize : i+TLVHeaderSize+n : i+TLVHeaderSize+n]
			a.TLVs = append(a.TLVs, TLV{Type: t, Offset: p + TLVHeaderSize, Value: v, Protected: s[0] == a.Offset && prot})
			p += TLVHeaderSize + n
		}
	}
	return nil
}

// Extent reads the header at the start of r and returns the image's size
// as boot_read_image_size computes it: header, body and both TLV areas
// (the 0xff padding and trailer of a padded image excluded). ok is false
// when the header or the TLV info does not parse.
func Extent(r io.ReaderAt, size int64) (n int64, ok bool) {
	var b [HeaderSize]byte
	if image.ReadFull(r, b[:], 0, size) != nil {
		return 0, false
	}
	h, err := ParseHeader(b[:])
	if err != nil {
		return 0, false
	}
	off := h.TLVOffset()
	var info [InfoSize]byte
	if image.ReadFull(r, info[:], off, size) != nil {
		return 0, false
	}
	le := binary.LittleEndian
	if le.Uint16(info[:]) == ProtInfoMagic {
		off += int64(le.Uint16(info[2:]))
		if image.ReadFull(r, info[:], off, size) != nil {
			return 0, false
		}
	}
	if le.Uint16(info[:]) != InfoMagic {
		return 0, false
	}
	return off + int64(le.Uint16(info[2:])), true
}
