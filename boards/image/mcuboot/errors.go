package mcuboot

import (
	"fmt"

	"brickyard/boards/image"
)

// Errors of the format. Each wraps the category of package image it falls
// in (errors.Is(err, image.ErrDigestMismatch) holds for ErrHash), and
// each is wrapped with the detail of what was wrong.
var (
	// ErrMagic: the first word is not IMAGE_MAGIC (erased flash, another
	// format, or an IMAGE_MAGIC_V1 image).
	ErrMagic = fmt.Errorf("mcuboot: bad image magic: %w", image.ErrBadMagic)
	// ErrTruncated: the header, or an area it describes, runs past the
	// bytes available.
	ErrTruncated = fmt.Errorf("mcuboot: truncated: %w", image.ErrTruncated)
	// ErrHeader: a header field breaks a rule (ih_hdr_size below 32, sizes
	// that overflow or exceed the slot).
	ErrHeader = fmt.Errorf("mcuboot: bad header: %w", image.ErrBadHeader)
	// ErrTLV: the TLV areas are malformed: a bad info magic, a protected
	// size that disagrees with the header, a TLV that overruns its area,
	// a hash or key-hash TLV of the wrong length, no hash TLV.
	ErrTLV = fmt.Errorf("mcuboot: bad TLV area: %w", image.ErrBadHeader)
	// ErrNotBootable: IMAGE_F_NON_BOOTABLE is set.
	ErrNotBootable = fmt.Errorf("mcuboot: image is marked non-bootable: %w", image.ErrBadHeader)
	// ErrUnsupported: an encrypted or compressed image; the model has
	// neither MCUBOOT_ENC_IMAGES nor MCUBOOT_DECOMPRESS_IMAGES.
	ErrUnsupported = fmt.Errorf("mcuboot: %w", image.ErrUnsupported)
	// ErrHash: the SHA-256 TLV differs from the hash of header, body and
	// protected TLVs.
	ErrHash = fmt.Errorf("mcuboot: image hash mismatch: %w", image.ErrDigestMismatch)
	// ErrNotSigned: the bootloader verifies signatures and the image has
	// no signature TLV of its type.
	ErrNotSigned = fmt.Errorf("mcuboot: no signature of the type the bootloader verifies: %w", image.ErrNotSigned)
	// ErrUnknownKey: the image's signatures name no trusted key (no
	// KEYHASH matches one).
	ErrUnknownKey = fmt.Errorf("mcuboot: signed by no trusted key: %w", image.ErrUnknownKey)
	// ErrSignature: a signature by a trusted key does not verify.
	ErrSignature = fmt.Errorf("mcuboot: bad signature: %w", image.ErrBadSignature)
	// ErrSecurityCounter: hardware rollback protection is on and the
	// image's SEC_CNT is missing, malformed or below the board's counter.
	ErrSecurityCounter = fmt.Errorf("mcuboot: security counter: %w", image.ErrDowngrade)
)
