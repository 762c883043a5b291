package image

import (
	"hash"
	"io"
)

// ChunkSize is the read size the formats' verifiers hash in: a boot
// verifying an image holds this much of it at a time, never the image.
const ChunkSize = chunkSize

// ReadFull fills b from r at off, where size bytes are readable. A reader
// that ends early, or a range past size, is ErrTruncated; other read
// errors are passed on, wrapped. The formats' verifiers read through it.
func ReadFull(r io.ReaderAt, b []byte, off, size int64) error {
	if off < 0 || off+int64(len(b)) > size {
		return truncatedAt(off, int64(len(b)), size)
	}
	return readAt(r, b, off, size)
}

// HashRange writes n bytes of r from off into h, reading them in pieces
// of len(buf) (buf must not be empty).
func HashRange(h hash.Hash, r io.ReaderAt, off, n, size int64, buf []byte) error {
	if off < 0 || n < 0 || off+n > size {
		return truncatedAt(off, n, size)
	}
	for end := off + n; off < end; {
		chunk := buf[:min(end-off, int64(len(buf)))]
		if err := readAt(r, chunk, off, size); err != nil {
			return err
		}
		h.Write(chunk)
		off += int64(len(chunk))
	}
	return nil
}
