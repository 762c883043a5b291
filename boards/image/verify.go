package image

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// chunkSize is the read size of Verify's payload loop. Its buffer is this
// size, or the header's size when that is larger (at most 65528 bytes), so
// a boot verifying an image allocates 4 KiB, not the largest header.
const chunkSize = 4 << 10

// Policy is what a board requires of an image beyond a good signature.
type Policy struct {
	Board              string // the image's board id must equal this; "" accepts any board
	MinSecurityCounter uint32 // the image's security counter must be at least this
}

// Verify checks the image at the start of r, where size bytes are
// readable (a flash partition, say), in the order the package
// documentation gives, and returns its header. It reads the header, the
// payload in chunks of 4 KiB (or the header's size), and the trailer; the header's
// sizes, not size, decide how much is read, so other bytes may follow the
// image. keys may be nil (no key is trusted).
//
// Once the header has parsed, Verify returns it even with an error, so a
// caller can report what the image claims to be; such a header is not to
// be trusted. A read error from r other than io.EOF is returned wrapped.
func Verify(r io.ReaderAt, size int64, keys *Keyring, p Policy) (Header, error) {
	size = max(size, 0)
	var fixed [HeaderSize]byte

	// 1-2. Magic, then the header's fields.
	head := fixed[:min(size, HeaderSize)]
	if err := readAt(r, head, 0, size); err != nil {
		return Header{}, err
	}
	h, err := parseFixed(head)
	if err != nil {
		return Header{}, err
	}
	hs := int64(h.HeaderSize)
	if size < hs {
		return Header{}, fmt.Errorf("%w: header size is %d, only %d bytes", ErrTruncated, hs, size)
	}
	buf := make([]byte, max(chunkSize, int(hs)))
	d := sha256.New()
	d.Write(head)
	if pad := buf[HeaderSize:hs]; len(pad) > 0 {
		if err := readAt(r, pad, HeaderSize, size); err != nil {
			return Header{}, err
		}
		if err := checkPadding(pad, HeaderSize); err != nil {
			return Header{}, err
		}
		d.Write(pad)
	}

	// 3. The whole image fits.
	total := int64(h.TotalSize())
	if total > size {
		return h, fmt.Errorf("%w: image is %d bytes (header %d, payload %d, trailer %d), only %d available",
			ErrTruncated, total, hs, h.PayloadSize, TrailerSize, size)
	}

	// 4. Digest, streaming the payload.
	end := hs + int64(h.PayloadSize)
	for off := hs; off < end; {
		chunk := buf[:min(end-off, int64(len(buf)))]
		if err := readAt(r, chunk, off, size); err != nil {
			return h, err
		}
		d.Write(chunk)
		off += int64(len(chunk))
	}
	trailer := buf[:TrailerSize]
	if err := readAt(r, trailer, end, size); err != nil {
		return h, err
	}
	var sum [sha256.Size]byte
	d.Sum(sum[:0])
	digest, sig := trailer[:sha256.Size], trailer[sha256.Size:]
	if !bytes.Equal(sum[:], digest) {
		return h, fmt.Errorf("%w: trailer has %x, header and payload hash to %x", ErrDigestMismatch, digest, sum)
	}

	// 5-6. Key and signature.
	pub, ok := keys.Lookup(h.KeyID)
	if !ok {
		return h, fmt.Errorf("%w: key id %x is not trusted", ErrUnknownKey, h.KeyID)
	}
	if !keys.CheckSignature(pub, digest, sig, func() bool { return ed25519.Verify(pub, digest, sig) }) {
		return h, fmt.Errorf("%w: signature does not verify with key %x", ErrBadSignature, h.KeyID)
	}

	// 7-8. Policy.
	if p.Board != "" && h.BoardID != p.Board {
		return h, fmt.Errorf("%w: image is for board %q, this is %q", ErrWrongBoard, h.BoardID, p.Board)
	}
	if h.SecurityCounter < p.MinSecurityCounter {
		return h, fmt.Errorf("%w: image has security counter %d, board requires at least %d",
			ErrDowngrade, h.SecurityCounter, p.MinSecurityCounter)
	}
	return h, nil
}

// VerifyBytes is Verify of an image held in memory (img may be followed by
// other bytes, as a partition's content is).
func VerifyBytes(img []byte, keys *Keyring, p Policy) (Header, error) {
	return Verify(bytes.NewReader(img), int64(len(img)), keys, p)
}

// readAt fills b from r at off. A reader that ends before size is reached
// truncates the image; other read errors are passed on, wrapped.
func readAt(r io.ReaderAt, b []byte, off, size int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil // io.ReaderAt may return io.EOF with a full read at the end
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: reader ended at %d of the %d bytes it was said to hold", ErrTruncated, off+int64(n), size)
	}
	return fmt.Errorf("image: read %d bytes at %d: %w", len(b), off, err)
}

func truncatedAt(off, n, size int64) error {
	return fmt.Errorf("%w: %d bytes at %d run past the %d bytes available", ErrTruncated, n, off, size)
}
