package fit

import (
	"fmt"

	"brickyard/boards/image"
)

// Errors of the format. Each wraps the category of package image it falls
// in and is wrapped with the detail of what was wrong.
var (
	// ErrMagic: the blob does not start with the FDT magic 0xd00dfeed.
	ErrMagic = fmt.Errorf("fit: not a flattened device tree: %w", image.ErrBadMagic)
	// ErrTruncated: the tree, or an image's external data, runs past the
	// bytes available.
	ErrTruncated = fmt.Errorf("fit: truncated: %w", image.ErrTruncated)
	// ErrTree: the device tree is malformed: header fields, block bounds,
	// tokens, names, property lengths and string offsets, nesting.
	ErrTree = fmt.Errorf("fit: bad device tree: %w", image.ErrBadHeader)
	// ErrFIT: the tree is not a bootable FIT: no description, no /images,
	// no such configuration, a reference to a missing image, an image
	// without data, or of the wrong type or architecture.
	ErrFIT = fmt.Errorf("fit: bad FIT: %w", image.ErrBadHeader)
	// ErrHash: an image's data does not hash to its hash node's value, or
	// the hash node is unusable (unknown algorithm, wrong length).
	ErrHash = fmt.Errorf("fit: hash mismatch: %w", image.ErrDigestMismatch)
	// ErrNotSigned: the board requires a signed configuration and the
	// configuration has no signature node it can check.
	ErrNotSigned = fmt.Errorf("fit: configuration not signed: %w", image.ErrNotSigned)
	// ErrUnknownKey: no signature of the configuration is by a trusted key.
	ErrUnknownKey = fmt.Errorf("fit: signed by no trusted key: %w", image.ErrUnknownKey)
	// ErrSignature: the configuration's signatures do not verify.
	ErrSignature = fmt.Errorf("fit: bad signature: %w", image.ErrBadSignature)
)
