package mcuboot

import (
	"errors"
	"fmt"

	"brickyard/boards"
	"brickyard/boards/image"
	"brickyard/boards/image/formats"
	"brickyard/boards/image/mcuboot"
	"brickyard/flash"
)

// Partition names.
const (
	Primary   = "primary"
	Secondary = "secondary"
	Scratch   = "scratch"
)

// Errors of the model, besides those of package boards.
var (
	// ErrBadMagic: a trailer's magic is neither the magic nor erased.
	// set_pending erases the secondary slot and fails with it
	// (BOOT_EBADIMAGE); set_confirmed fails with it (BOOT_EBADVECT).
	ErrBadMagic = errors.New("mcuboot-swap: trailer magic is bad")
	// ErrRevertTarget: the primary image is on trial and the secondary
	// slot holds the image a reset reverts to; mcumgr's img_mgmt refuses
	// to overwrite it (img_mgmt_slot_in_use, next boot type REVERT).
	ErrRevertTarget = errors.New("mcuboot-swap: the running image is on trial; the secondary slot holds its revert image")
)

// Options configure the model. The zero value is a test-swap updater with
// BOOT_MAX_IMG_SECTORS equal to the slot's sector count.
type Options struct {
	// Permanent makes Activate call set_pending(permanent=1): the swap is
	// PERM and the new image is never reverted.
	Permanent bool `yaml:"permanent" json:"permanent" mapstructure:"permanent"`
	// MaxImageSectors is BOOT_MAX_IMG_SECTORS: the status area holds
	// MaxImageSectors × 3 records of one write unit each. 0 means the
	// slot's sector count. It must be at least the slot's sector count,
	// and the trailer must fit the slot's last sector.
	MaxImageSectors int `yaml:"max_image_sectors" json:"max_image_sectors" mapstructure:"max_image_sectors"`
	// Formats are the image formats the bootloader takes; none means
	// BYFW and MCUboot.
	Formats []image.Format `yaml:"formats" json:"formats" mapstructure:"formats"`
	// Signature is the signature type MCUboot is built for
	// (MCUBOOT_SIGN_*): "ed25519" (the default), "ecdsa-p256",
	// "rsa-2048", "rsa-3072", or "none" (the hash TLV alone).
	Signature string `yaml:"signature" json:"signature" mapstructure:"signature"`
	// HWRollbackProtection is MCUBOOT_HW_ROLLBACK_PROT: an MCUboot image
	// needs a SEC_CNT TLV of at least the board's security counter, which
	// is raised to it once the image is confirmed.
	HWRollbackProtection bool `yaml:"hw_rollback_protection" json:"hw_rollback_protection" mapstructure:"hw_rollback_protection"`
	// DowngradePrevention is MCUBOOT_DOWNGRADE_PREVENTION: "off" (or "",
	// the default); "version": a test or permanent swap to an image whose
	// version (major.minor.revision) is below the primary's is refused and
	// the secondary slot erased; "security-counter"
	// (MCUBOOT_DOWNGRADE_PREVENTION_SECURITY_COUNTER, needs
	// HWRollbackProtection): the same by security counter.
	DowngradePrevention string `yaml:"downgrade_prevention" json:"downgrade_prevention" mapstructure:"downgrade_prevention"`
}

// Downgrade prevention modes (Options.DowngradePrevention).
const (
	DowngradeOff             = "off"
	DowngradeVersion         = "version"
	DowngradeSecurityCounter = "security-counter"
)

// Loader is the mcuboot-swap model. It holds configuration only.
type Loader struct {
	opts Options
}

var _ boards.Bootloader = (*Loader)(nil)

// New returns a Loader with opts.
func New(opts Options) (*Loader, error) {
	if opts.MaxImageSectors < 0 {
		return nil, fmt.Errorf("mcuboot-swap: MaxImageSectors %d is negative", opts.MaxImageSectors)
	}
	if len(opts.Formats) == 0 {
		opts.Formats = []image.Format{image.FormatBYFW, image.FormatMCUboot}
	}
	if opts.Signature == "" {
		opts.Signature = mcuboot.SigEd25519
	}
	if opts.DowngradePrevention == "" {
		opts.DowngradePrevention = DowngradeOff
	}
	if err := (mcuboot.Rules{Signature: opts.Signature}).Check(); err != nil {
		return nil, fmt.Errorf("mcuboot-swap: %w", err)
	}
	switch opts.DowngradePrevention {
	case DowngradeOff, DowngradeVersion:
	case DowngradeSecurityCounter:
		if !opts.HWRollbackProtection {
			return nil, errors.New("mcuboot-swap: downgrade_prevention security-counter needs hw_rollback_protection")
		}
	default:
		return nil, fmt.Errorf("mcuboot-swap: downgrade_prevention %q: want off, version or security-counter", opts.DowngradePrevention)
	}
	for _, f := range opts.Formats {
		if f != image.FormatBYFW && f != image.FormatMCUboot {
			return nil, fmt.Errorf("mcuboot-swap: formats: %s: MCUboot boots byfw and mcuboot images", f)
		}
	}
	return &Loader{opts: opts}, nil
}

// ImageRules are the formats MCUboot boots (BYFW and MCUboot by default)
// and its build's rules for MCUboot images: the signature type, hardware
// rollback protection, and the slot below its trailer as the largest
// image.
func (l *Loader) ImageRules(b *boards.Board) formats.Rules {
	r := formats.Rules{Formats: l.opts.Formats,
		MCUboot: mcuboot.Rules{Signature: l.opts.Signature, HWRollback: l.opts.HWRollbackProtection}}
	if b == nil {
		return r // no board yet: no bound from its slots
	}
	if a, err := l.areas(b); err == nil {
		r.MCUboot.MaxImageSize = int64(a.maxImage())
	}
	return r
}

// Options returns the loader's configuration.
func (l *Loader) Options() Options { return l.opts }

func (*Loader) Name() string    { return "mcuboot-swap" }
func (*Loader) Slots() []string { return []string{Primary, Secondary} }

// Provision writes img into primary (boards.WriteImage: every sector
// erased, the image programmed), then the confirmed trailer image_ok,
// copy_done, magic, and erases secondary and scratch where they are not
// erased yet. The first boot finds no swap and nothing to revert.
func (l *Loader) Provision(b *boards.Board, img *flash.Blob) error {
	a, err := l.areas(b)
	if err != nil {
		return err
	}
	if err := a.fits(img); err != nil {
		return err
	}
	if err := boards.WriteImage(b.Chip, a.pri, img); err != nil {
		return err
	}
	for _, w := range []func(boards.Partition) error{a.writeImageOK, a.writeCopyDone, a.writeMagic} {
		if err := w(a.pri); err != nil {
			return err
		}
	}
	for _, p := range []boards.Partition{a.sec, a.scr} {
		for off := 0; off < p.Size; off += a.ss {
			clean, err := a.isErased(p, off, a.ss)
			if err != nil {
				return err
			}
			if !clean {
				if err := a.erase(p, off, a.ss); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Write stores img in the secondary slot with boards.WriteImage, as an
// upload does: every sector of the slot is erased, trailer included, and
// the image programmed. It refuses the primary slot (it runs), and the
// secondary while the primary image is on trial (ErrRevertTarget).
func (l *Loader) Write(b *boards.Board, slot string, img *flash.Blob) error {
	if err := checkSlot(slot); err != nil {
		return err
	}
	a, err := l.areas(b)
	if err != nil {
		return err
	}
	if err := a.fits(img); err != nil {
		return err
	}
	pt, err := a.readTrailer(a.pri)
	if err != nil {
		return err
	}
	if pt.Magic == MagicGood && pt.ImageOK == FlagUnset && pt.CopyDone == FlagSet {
		return ErrRevertTarget
	}
	return boards.WriteImage(b.Chip, a.sec, img)
}

// Activate is set_pending on the secondary slot. Its magic decides:
// GOOD: already scheduled, nothing is written; UNSET: magic, then (with
// Options.Permanent) image_ok = 1, then swap_info = TEST or PERM; BAD:
// the slot is erased and ErrBadMagic returned.
func (l *Loader) Activate(b *boards.Board, slot string) error {
	if err := checkSlot(slot); err != nil {
		return err
	}
	a, err := l.areas(b)
	if err != nil {
		return err
	}
	st, err := a.readTrailer(a.sec)
	if err != nil {
		return err
	}
	switch st.Magic {
	case MagicGood:
		return nil
	case MagicBad:
		if err := a.erase(a.sec, 0, a.sec.Size); err != nil {
			return err
		}
		return fmt.Errorf("set_pending: secondary slot erased: %w", ErrBadMagic)
	}
	if err := a.writeMagic(a.sec); err != nil {
		return err
	}
	typ := SwapTest
	if l.opts.Permanent {
		typ = SwapPerm
		if err := a.writeImageOK(a.sec); err != nil {
			return err
		}
	}
	return a.writeSwapInfo(a.sec, typ)
}

// Confirm is set_confirmed on the primary slot, then raises the board's
// security counter to the running image's. Primary magic UNSET: already
// confirmed, nothing written; BAD: ErrBadMagic; GOOD: image_ok = 1 when
// it is UNSET (a SET or BAD image_ok counts as confirmed).
func (l *Loader) Confirm(b *boards.Board) error {
	if b.Running == nil {
		return boards.ErrNotRunning
	}
	a, err := l.areas(b)
	if err != nil {
		return err
	}
	pt, err := a.readTrailer(a.pri)
	if err != nil {
		return err
	}
	switch {
	case pt.Magic == MagicBad:
		return fmt.Errorf("set_confirmed: primary: %w", ErrBadMagic)
	case pt.Magic == MagicGood && pt.ImageOK == FlagUnset:
		if err := a.writeImageOK(a.pri); err != nil {
			return err
		}
	}
	b.RaiseSecurityCounter(b.Running.Image.SecurityCounter)
	return nil
}

func checkSlot(slot string) error {
	switch slot {
	case Secondary:
		return nil
	case Primary:
		return fmt.Errorf("mcuboot-swap: %q runs; updates go to %q: %w", Primary, Secondary, boards.ErrSlotRunning)
	}
	return fmt.Errorf("mcuboot-swap has no image slot %q: %w", slot, boards.ErrNoSuchSlot)
}

// fits checks that img leaves the slot's trailer alone: it is no larger
// than the slot below its trailer, or it is an image padded to the slot
// (imgtool --pad, --test, --confirm) whose own extent is, and whose
// trailer is then written with it.
func (a *areas) fits(img *flash.Blob) error {
	n := img.Len()
	if n > a.maxImage() && n == a.pri.Size {
		if e, ok := formats.Extent(blobReader{img}, int64(n)); ok && e <= int64(a.maxImage()) {
			return nil
		}
	}
	if n > a.maxImage() {
		return fmt.Errorf("image of %d bytes does not fit a %d-byte slot below its %d-byte trailer: %w",
			n, a.pri.Size, a.trailer, boards.ErrTooLarge)
	}
	return nil
}

// blobReader reads a Blob as an io.ReaderAt.
type blobReader struct{ b *flash.Blob }

func (r blobReader) ReadAt(buf []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(buf)) > int64(r.b.Len()) {
		return 0, fmt.Errorf("read at %d+%d outside a %d-byte image: %w", off, len(buf), r.b.Len(), flash.ErrOutOfRange)
	}
	r.b.ReadAt(buf, int(off))
	return len(buf), nil
}
