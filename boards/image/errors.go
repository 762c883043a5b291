package image

import "errors"

// Errors Verify and ParseHeader return, each wrapped with the detail of
// what was wrong (test with errors.Is). They are listed in the order
// Verify checks them.
var (
	// ErrBadMagic: the image does not start with "BYFW" (erased or foreign data).
	ErrBadMagic = errors.New("image: bad magic")
	// ErrBadHeader: a header field breaks a rule of the format.
	ErrBadHeader = errors.New("image: bad header")
	// ErrTruncated: the header, or the image its header describes, is
	// longer than the bytes available.
	ErrTruncated = errors.New("image: truncated")
	// ErrDigestMismatch: the SHA-256 of header and payload differs from
	// the digest in the trailer (the image is corrupt).
	ErrDigestMismatch = errors.New("image: digest mismatch")
	// ErrUnknownKey: no trusted key has the header's key id.
	ErrUnknownKey = errors.New("image: unknown signing key")
	// ErrBadSignature: the signature does not verify with the key named by
	// the key id.
	ErrBadSignature = errors.New("image: bad signature")
	// ErrWrongBoard: the image is for another board.
	ErrWrongBoard = errors.New("image: wrong board")
	// ErrDowngrade: the image's security counter is below the policy's minimum.
	ErrDowngrade = errors.New("image: security counter too low")

	// The categories the other formats' errors also fall in (each format
	// package's named errors wrap one of the above or of these):

	// ErrNotSigned: the board requires a signature the image does not carry.
	ErrNotSigned = errors.New("image: not signed")
	// ErrUnsupported: the image needs a bootloader feature the board's
	// model does not have (encrypted or compressed MCUboot images, say).
	ErrUnsupported = errors.New("image: unsupported feature")
	// ErrFormat: the image is of a format the board's bootloader does not
	// accept.
	ErrFormat = errors.New("image: format not accepted")
)
