// Package image is brickyard's signed firmware image format: a fixed
// header, the payload, and a trailer holding a SHA-256 digest and an
// Ed25519 signature of that digest.
//
// The package is a pure core: it starts no goroutines, reads no clock and
// does no file or network I/O. Key files are parsed from and marshalled to
// bytes; reading them is the caller's job.
//
// # Layout
//
// All integers are little-endian.
//
//	offset    size  field
//	0         4     magic "BYFW"
//	4         2     format version, 1
//	6         2     header size: at least 64, a multiple of 8; the payload starts here
//	8         4     payload size n, at most MaxPayloadSize
//	12        4     flags: bit 0 FlagHealthFail; every other bit must be 0
//	16        8     image version: major u8, minor u8, patch u16, build u32
//	24        4     security counter
//	28        4     reserved, 0
//	32        16    board id: printable ASCII without spaces, 1-16 bytes, NUL padded
//	48        8     key id: first 8 bytes of SHA-256(raw 32-byte Ed25519 public key)
//	56        8     reserved, 0
//	64        ...   zero bytes up to the header size (none when it is 64)
//	hs        n     payload
//	hs+n      32    digest = SHA-256(bytes [0, hs+n)): header ‖ payload
//	hs+n+32   64    signature = Ed25519(private key, digest)
//
// The signature is plain Ed25519 (RFC 8032, not Ed25519ph) over the 32
// digest bytes, as MCUboot's ED25519 TLV does, so a device can hash the
// image while streaming it from flash and verify a short message at the
// end. A header that parses encodes back to the same bytes: there is one
// encoding of every header.
//
// # Verification order
//
// Verify checks an image in this order and stops at the first rule broken;
// the error wraps the sentinel named here, so errors.Is tells them apart:
//
//  1. The first four bytes are the magic (ErrBadMagic). Erased flash fails here.
//  2. The fixed header is complete (ErrTruncated), then its fields: format
//     version, header size, payload size bound, flags, reserved fields,
//     board id syntax, header padding (ErrBadHeader).
//  3. Header, payload and trailer fit the size the caller gave (ErrTruncated).
//     Bytes after the image are ignored: the image's own size decides what
//     is read.
//  4. The digest matches the header and payload (ErrDigestMismatch). No key
//     is needed to detect a corrupt image.
//  5. The key id names a key of the Keyring (ErrUnknownKey).
//  6. The signature verifies with that key (ErrBadSignature).
//  7. The board id equals Policy.Board, when that is set (ErrWrongBoard).
//  8. The security counter is at least Policy.MinSecurityCounter (ErrDowngrade).
//
// Only an image that passes all eight is trusted. The payload is read in
// bounded chunks and never held whole.
//
// # The health-fail flag
//
// FlagHealthFail marks an image whose simulated application fails its
// health check: a board that trial-boots it never confirms it, so the
// bootloader model must roll back. Fault studies use it to make "bad"
// images that are nonetheless correctly signed.
package image
