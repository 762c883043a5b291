package espapp

import (
	"fmt"

	"brickyard/boards/image"
)

// Errors of the format. Each wraps the category of package image it falls
// in and is wrapped with the detail of what was wrong.
var (
	// ErrMagic: the first byte is not 0xE9 (erased flash, another format).
	ErrMagic = fmt.Errorf("esp-app: bad image magic: %w", image.ErrBadMagic)
	// ErrTruncated: the image its headers describe runs past the bytes
	// available (the partition).
	ErrTruncated = fmt.Errorf("esp-app: truncated: %w", image.ErrTruncated)
	// ErrHeader: a header field breaks a rule: more than 16 segments, a
	// segment length not a multiple of 4 or of 16 MB or more, a flash-mapped
	// segment out of step with its address, a partition over 16 MB.
	ErrHeader = fmt.Errorf("esp-app: bad header: %w", image.ErrBadHeader)
	// ErrChip: the image is for another chip, or a chip revision outside
	// the image's range.
	ErrChip = fmt.Errorf("esp-app: wrong chip: %w", image.ErrWrongBoard)
	// ErrChecksum: the XOR checksum of the segments' data differs.
	ErrChecksum = fmt.Errorf("esp-app: checksum mismatch: %w", image.ErrDigestMismatch)
	// ErrHash: the appended SHA-256 differs from the image's.
	ErrHash = fmt.Errorf("esp-app: image hash mismatch: %w", image.ErrDigestMismatch)
	// ErrNotSigned: secure boot is on and the image has no valid
	// signature block of the board's scheme.
	ErrNotSigned = fmt.Errorf("esp-app: no secure boot v2 signature block: %w", image.ErrNotSigned)
	// ErrUnknownKey: no signature block holds a trusted key.
	ErrUnknownKey = fmt.Errorf("esp-app: signed by no trusted key: %w", image.ErrUnknownKey)
	// ErrSignature: a block with a trusted key does not verify, or its
	// image digest is not the image's.
	ErrSignature = fmt.Errorf("esp-app: bad signature: %w", image.ErrBadSignature)
	// ErrAppDesc: anti-rollback needs the application description
	// (esp_app_desc_t, magic 0xABCD5432, at offset 32) and it is missing.
	ErrAppDesc = fmt.Errorf("esp-app: no application description: %w", image.ErrBadHeader)
	// ErrSecureVersion: anti-rollback is on and the app's secure_version is
	// below the chip's eFuse counter.
	ErrSecureVersion = fmt.Errorf("esp-app: secure_version too low: %w", image.ErrDowngrade)
)
