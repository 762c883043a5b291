// Package formats is the one door to every image format the boards take:
// it tells the format from an image's first bytes and verifies the image
// with that format's rules, so that the bootloader models, the simulated
// device and brickyard image inspect need not care which format it is.
//
// A board's bootloader accepts the formats its Rules list (BYFW alone
// when they list none) and checks each as its real counterpart does,
// with the per-format rules: MCUboot's signature type and rollback
// protection, ESP-IDF's chip, secure boot and anti-rollback, U-Boot's
// configuration and signature requirement.
//
// The package is a pure core: no goroutines, no clock, no I/O.
package formats

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"brickyard/boards/image"
	"brickyard/boards/image/espapp"
	"brickyard/boards/image/fit"
	"brickyard/boards/image/mcuboot"
)

// Requirement says when a FIT's configuration must be signed.
type Requirement uint8

// Requirements of Rules.FITSignature.
const (
	// SignedIfKeys: when the board trusts a key a FIT can be signed with
	// (RSA or ECDSA P-256), as a U-Boot whose control device tree holds
	// required keys; otherwise hashes only, as one without.
	SignedIfKeys Requirement = iota
	Signed                   // always: CONFIG_FIT_SIGNATURE with required keys
	Unsigned                 // never: hashes only
)

// Rules are what a board's bootloader accepts.
type Rules struct {
	// Formats lists the accepted formats; none means BYFW only.
	Formats []image.Format
	MCUboot mcuboot.Rules
	ESP     espapp.Rules
	FIT     fit.Rules
	// FITSignature decides FIT.RequireSignature.
	FITSignature Requirement
}

// Accepts reports whether f is one of the accepted formats.
func (r Rules) Accepts(f image.Format) bool {
	if len(r.Formats) == 0 {
		return f == image.FormatBYFW
	}
	return slices.Contains(r.Formats, f)
}

// Accepted lists the accepted formats.
func (r Rules) Accepted() []image.Format {
	if len(r.Formats) == 0 {
		return []image.Format{image.FormatBYFW}
	}
	return r.Formats
}

// Check reports the first thing wrong with the rules.
func (r Rules) Check() error {
	seen := map[image.Format]bool{}
	for _, f := range r.Formats {
		if f == image.FormatUnknown || f > image.FormatFIT {
			return fmt.Errorf("formats: unknown format %d", f)
		}
		if seen[f] {
			return fmt.Errorf("formats: %s listed twice", f)
		}
		seen[f] = true
	}
	if err := r.MCUboot.Check(); err != nil {
		return err
	}
	if err := r.ESP.Check(); err != nil {
		return err
	}
	if r.FITSignature > Unsigned {
		return fmt.Errorf("formats: unknown FIT signature requirement %d", r.FITSignature)
	}
	return nil
}

// fitRules resolves the signature requirement against keys.
func (r Rules) fitRules(keys *image.Keyring) fit.Rules {
	f := r.FIT
	switch r.FITSignature {
	case Signed:
		f.RequireSignature = true
	case Unsigned:
		f.RequireSignature = false
	default:
		f.RequireSignature = f.RequireSignature || hasFITKey(keys)
	}
	return f
}

// hasFITKey reports whether keys hold a key a FIT can be signed with.
func hasFITKey(keys *image.Keyring) bool {
	for _, k := range keys.Keys() {
		if alg, _ := image.KeyAlgorithm(k.Public); alg != "ed25519" {
			return true
		}
	}
	return false
}

// DetectSize is how many leading bytes Detect needs.
const DetectSize = 4

// Detect names the format of an image from its first bytes (at least
// DetectSize of them): "BYFW"; MCUboot's IMAGE_MAGIC (or the old V1
// magic) little-endian; the FDT magic; ESP's 0xE9. Anything else is
// FormatUnknown.
func Detect(head []byte) image.Format {
	switch {
	case bytes.HasPrefix(head, []byte(image.Magic)):
		return image.FormatBYFW
	case len(head) >= 4 && (binary.LittleEndian.Uint32(head) == mcuboot.Magic || binary.LittleEndian.Uint32(head) == mcuboot.MagicV1):
		return image.FormatMCUboot
	case len(head) >= 4 && binary.BigEndian.Uint32(head) == fit.FDTMagic:
		return image.FormatFIT
	case len(head) >= 1 && head[0] == espapp.Magic:
		return image.FormatESPApp
	}
	return image.FormatUnknown
}

// detect reads the head of r and names its format, or fails with
// image.ErrBadMagic (no known image) or image.ErrFormat (one the rules do
// not accept).
func detect(r io.ReaderAt, size int64, rules Rules) (image.Format, error) {
	var head [DetectSize]byte
	n := int(min(max(size, 0), DetectSize))
	if err := image.ReadFull(r, head[:n], 0, max(size, 0)); err != nil {
		return image.FormatUnknown, err
	}
	f := Detect(head[:n])
	switch {
	case n == 0:
		return f, fmt.Errorf("%w: no bytes at all", image.ErrTruncated)
	case f == image.FormatUnknown && n > 0 && (allBytes(head[:n], 0xff) || allBytes(head[:n], 0)):
		return f, fmt.Errorf("%w: no image (erased)", image.ErrBadMagic)
	case f == image.FormatUnknown:
		return f, fmt.Errorf("%w: the bytes start % x: no format brickyard knows", image.ErrBadMagic, head[:n])
	case !rules.Accepts(f):
		return f, fmt.Errorf("%w: a %s image; this bootloader takes %s", image.ErrFormat, f, names(rules.Accepted()))
	}
	return f, nil
}

func names(fs []image.Format) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.String()
	}
	return strings.Join(s, ", ")
}

func allBytes(b []byte, v byte) bool {
	for _, c := range b {
		if c != v {
			return false
		}
	}
	return true
}

// Verify checks the image at the start of r, where size bytes are
// readable (a slot, a downloaded file), in the format its first bytes
// name, with the rules and p, and returns what the board needs of it.
// Once the format is known, a failed check still returns the Info as far
// as it was read (for BYFW: the header's), which is not to be trusted.
func Verify(r io.ReaderAt, size int64, keys *image.Keyring, rules Rules, p image.Policy) (image.Info, error) {
	info, _, err := verify(r, size, keys, rules, p, false)
	return info, err
}

// VerifyBytes is Verify of an image held in memory.
func VerifyBytes(img []byte, keys *image.Keyring, rules Rules, p image.Policy) (image.Info, error) {
	return Verify(bytes.NewReader(img), int64(len(img)), keys, rules, p)
}

// Describe is Verify with the format's report: its fields and every
// check made. A format the rules do not accept is still described (its
// checks made with the format's default rules) and the error says it is
// not accepted.
func Describe(r io.ReaderAt, size int64, keys *image.Keyring, rules Rules, p image.Policy) (image.Info, *image.Report, error) {
	return verify(r, size, keys, rules, p, true)
}

func verify(r io.ReaderAt, size int64, keys *image.Keyring, rules Rules, p image.Policy, describe bool) (image.Info, *image.Report, error) {
	f, err := detect(r, size, rules)
	var refused error
	if err != nil {
		if !describe || f == image.FormatUnknown {
			return image.Info{}, nil, err
		}
		refused = err
	}
	var (
		info image.Info
		rep  *image.Report
	)
	switch f {
	case image.FormatBYFW:
		info, rep, err = verifyBYFW(r, size, keys, p, describe)
	case image.FormatMCUboot:
		if describe {
			info, rep, err = mcuboot.Describe(r, size, keys, rules.MCUboot, p)
		} else {
			info, err = mcuboot.Verify(r, size, keys, rules.MCUboot, p)
		}
	case image.FormatESPApp:
		if describe {
			info, rep, err = espapp.Describe(r, size, keys, rules.ESP, p)
		} else {
			info, err = espapp.Verify(r, size, keys, rules.ESP, p)
		}
	case image.FormatFIT:
		fr := rules.fitRules(keys)
		if describe {
			info, rep, err = fit.Describe(r, size, keys, fr, p)
		} else {
			info, err = fit.Verify(r, size, keys, fr, p)
		}
	}
	if refused != nil {
		rep.Check("format", refused, "")
		return info, rep, refused
	}
	return info, rep, err
}

// verifyBYFW is image.Verify with the signer named and, when asked, a report.
func verifyBYFW(r io.ReaderAt, size int64, keys *image.Keyring, p image.Policy, describe bool) (image.Info, *image.Report, error) {
	h, err := image.Verify(r, size, keys, p)
	info := image.Info{}
	if h.FormatVersion != 0 {
		info = h.Info()
		if err == nil {
			info.Signer = keys.Name(h.KeyID)
		}
	}
	if !describe {
		return info, nil, err
	}
	rep := &image.Report{Format: image.FormatBYFW}
	if h.FormatVersion != 0 {
		rep.Field("magic", "%s", image.Magic)
		rep.Field("format version", "%d", h.FormatVersion)
		rep.Field("header size", "%d bytes", h.HeaderSize)
		rep.Field("version", "%s", h.Version)
		rep.Field("board", "%s", h.BoardID)
		rep.Field("payload size", "%d bytes", h.PayloadSize)
		flags := fmt.Sprintf("%#x", h.Flags)
		if h.HealthFail() {
			flags += " (health-fail)"
		}
		rep.Field("flags", "%s", flags)
		rep.Field("security counter", "%d", h.SecurityCounter)
		rep.Field("key id", "%x", h.KeyID)
		rep.Field("total size", "%d bytes", h.TotalSize())
	}
	// image.Verify stops at the first failed check; report the ones it
	// passed, the failed one, and the ones it did not reach.
	steps := []struct {
		name string
		fail error
	}{
		{"header", nil}, {"digest", image.ErrDigestMismatch}, {"key", image.ErrUnknownKey},
		{"signature", image.ErrBadSignature}, {"board", image.ErrWrongBoard}, {"security counter", image.ErrDowngrade},
	}
	failedAt := -1
	if err != nil {
		failedAt = 0
		for i, s := range steps {
			if s.fail != nil && errors.Is(err, s.fail) {
				failedAt = i
			}
		}
	}
	for i, s := range steps {
		switch {
		case failedAt < 0 || i < failedAt:
			rep.Check(s.name, nil, byfwDetail(s.name, h, info, p))
		case i == failedAt:
			rep.Check(s.name, err, "")
		default:
			rep.Skip(s.name, "an earlier check failed")
		}
	}
	return info, rep, err
}

func byfwDetail(step string, h image.Header, info image.Info, p image.Policy) string {
	switch step {
	case "signature":
		return "ed25519 by " + info.Signer
	case "board":
		if p.Board == "" {
			return "any board"
		}
		return p.Board
	case "security counter":
		return fmt.Sprintf("%d, board requires at least %d", h.SecurityCounter, p.MinSecurityCounter)
	}
	return ""
}

// Extent is the size of the image at the start of r as its headers give
// it, in whatever format: header to last signature byte (MCUboot: to the
// end of the TLVs, as boot_read_image_size). ok is false when there is no
// image that parses.
func Extent(r io.ReaderAt, size int64) (int64, bool) {
	var head [DetectSize]byte
	n := int(min(max(size, 0), DetectSize))
	if image.ReadFull(r, head[:n], 0, size) != nil {
		return 0, false
	}
	switch Detect(head[:n]) {
	case image.FormatBYFW:
		b := make([]byte, image.HeaderSize)
		if image.ReadFull(r, b, 0, size) != nil {
			return 0, false
		}
		if hs := int64(binary.LittleEndian.Uint16(b[6:])); hs > image.HeaderSize {
			b = make([]byte, hs)
			if image.ReadFull(r, b, 0, size) != nil {
				return 0, false
			}
		}
		h, err := image.ParseHeader(b)
		if err != nil {
			return 0, false
		}
		return int64(h.TotalSize()), int64(h.TotalSize()) <= size
	case image.FormatMCUboot:
		return mcuboot.Extent(r, size)
	case image.FormatESPApp:
		return espapp.Extent(r, size)
	case image.FormatFIT:
		f, err := fit.Parse(r, size)
		if err != nil {
			return 0, false
		}
		return f.Extent(size), true
	}
	return 0, false
}
