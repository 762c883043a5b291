package wire

import (
	"bytes"
	"errors"
)

// ErrCOBS: the bytes between a frame's marker and its end are not a COBS
// encoding (a code byte points past the end).
var ErrCOBS = errors.New("wire: bad COBS encoding")

// cobsMaxLen is the longest COBS encoding of n bytes: one code byte per
// 254 data bytes, plus one.
func cobsMaxLen(n int) int { return n + n/254 + 1 }

// cobsEncode appends the COBS encoding of src to dst. The result holds no
// zero byte.
func cobsEncode(dst, src []byte) []byte {
	code := len(dst)
	dst = append(dst, 0)
	run := byte(1)
	for _, b := range src {
		if b == 0 {
			dst[code] = run
			code, run = len(dst), 1
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, b)
		run++
		if run == 0xFF {
			dst[code] = run
			code, run = len(dst), 1
			dst = append(dst, 0)
		}
	}
	dst[code] = run
	return dst
}

// cobsDecode appends the decoding of src to dst; a zero byte in src is
// not COBS.
func cobsDecode(dst, src []byte) ([]byte, error) {
	if bytes.IndexByte(src, 0) >= 0 {
		return dst, ErrCOBS
	}
	for i := 0; i < len(src); {
		code := int(src[i])
		if code == 0 || i+code > len(src) {
			return dst, ErrCOBS
		}
		dst = append(dst, src[i+1:i+code]...)
		i += code
		if code < 0xFF && i < len(src) {
			dst = append(dst, 0)
		}
	}
	return dst, nil
}
