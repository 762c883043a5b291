package dm

import "strings"

// A row's stored values are packed into one string, entries sorted by
// parameter id, each
//
//	id (2 bytes, little-endian)  length (uvarint)  value bytes
//
// One allocation per row instead of a slice of pairs plus one string per
// value: a fleet keeps tens of values per device, most of them a few bytes
// long. Rows hold a handful of values (the defaults are not stored), so a
// linear scan finds one as fast as a binary search would. Values read are
// substrings of the packed string; strings are immutable, so a value read
// stays valid after the row changes.

// nextVal decodes the first entry of s (which must hold one) and returns
// what follows it.
func nextVal(s string) (id uint16, v, rest string) {
	id = uint16(s[0]) | uint16(s[1])<<8
	n, i := 0, 2
	for shift := 0; ; shift += 7 {
		c := s[i]
		i++
		n |= int(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	return id, s[i : i+n], s[i+n:]
}

// lookupVal returns the value stored for id in packed values s.
func lookupVal(s string, id uint16) (string, bool) {
	for len(s) > 0 {
		k, v, rest := nextVal(s)
		if k == id {
			return v, true
		}
		if k > id {
			break
		}
		s = rest
	}
	return "", false
}

// findVal returns the byte range of id's entry in packed values s (found)
// or, when there is none, the empty range where it belongs.
func findVal(s string, id uint16) (start, end int, found bool) {
	off := 0
	for off < len(s) {
		k, _, rest := nextVal(s[off:])
		next := len(s) - len(rest)
		if k == id {
			return off, next, true
		}
		if k > id {
			break
		}
		off = next
	}
	return off, off, false
}

// spliceVal replaces bytes [start, end) of packed values s with the entry
// id = v (with put), or with nothing.
func spliceVal(s string, start, end int, id uint16, v string, put bool) string {
	n := len(s) - (end - start)
	if put {
		n += 2 + uvarintLen(len(v)) + len(v)
	}
	if n == 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(s[:start])
	if put {
		b.WriteByte(byte(id))
		b.WriteByte(byte(id >> 8))
		x := uint(len(v))
		for x >= 0x80 {
			b.WriteByte(byte(x) | 0x80)
			x >>= 7
		}
		b.WriteByte(byte(x))
		b.WriteString(v)
	}
	b.WriteString(s[end:])
	return b.String()
}

func uvarintLen(x int) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}
