package boards

import (
	"errors"
	"fmt"

	"brickyard/boards/image"
	"brickyard/flash"
)

// Bootloader is the model of one bootloader and its updater. Implementations
// hold configuration only and are shared by every board that uses them.
// Each method's flash operations are those of the real code, in its order;
// doc comments of the implementations list them.
type Bootloader interface {
	// Name is the model's name in board profiles ("uboot-ab", …).
	Name() string
	// Slots are the partitions that hold images, in the order TR-181's
	// FirmwareImage rows list them.
	Slots() []string
	// Provision writes the factory state: img in the first slot, booted and
	// confirmed, metadata initialised. It runs once per profile; devices
	// start from a snapshot of its result.
	Provision(b *Board, img *flash.Blob) error
	// Write stores img in slot, as the download's flash writes. It refuses
	// a slot that must not be written now (the running one on an A/B board).
	Write(b *Board, slot string, img *flash.Blob) error
	// Activate asks for slot to be booted, on trial, at the next boot.
	Activate(b *Board, slot string) error
	// Boot is one power-on or reset: the loader's decision and its writes.
	// It clears b.Running first (a reset loses RAM) and sets it to the
	// result when an image boots.
	Boot(b *Board) (Boot, error)
	// Confirm marks the running image good; the loader stops reverting it.
	Confirm(b *Board) error
}

// Boot is what a boot ended in.
type Boot struct {
	Slot     string     // the partition booted; empty when bricked
	Image    image.Info // what the booted image is (any format)
	Trial    bool       // unconfirmed: unless Confirm runs, a later boot reverts it
	FellBack bool       // the loader booted another slot than the one requested
	Bricked  bool       // nothing bootable
	Reason   string     // why it fell back or bricked, as the loader would log it
}

// Board is one device's hardware: a chip, its layout, the bootloader, the
// trusted keys, and the board's one-time-programmable security counter.
type Board struct {
	ID              string // board profile name; images must carry it
	Chip            Flash  // a simulated chip, or a real board's flash (boards/bench)
	Layout          Layout
	Loader          Bootloader
	Keys            *image.Keyring
	SecurityCounter uint32 // OTP: survives power loss, only ever raised
	Running         *Boot  // RAM: what the last Boot started, nil when off
}

// PowerCut loses power at once: the chip stops, RAM (Running) is gone.
func (b *Board) PowerCut() {
	b.Chip.CutNow()
	b.Running = nil
}

// PowerOn restores power; the next step is Boot.
func (b *Board) PowerOn() {
	b.Chip.PowerOn()
	b.Running = nil
}

// CanClone reports whether the board can be copied: whether its flash is
// a simulated chip. A real board's flash cannot be.
func (b *Board) CanClone() bool {
	_, ok := b.Chip.(*flash.Chip)
	return ok
}

// Clone copies the board with its chip shared copy-on-write. Only a board
// whose flash is a simulated chip can be copied (CanClone); Clone panics
// on another: that is a caller's mistake, not a condition to handle.
func (b *Board) Clone() *Board {
	c, ok := b.Chip.(*flash.Chip)
	if !ok {
		panic(fmt.Sprintf("boards: Clone of board %s, whose flash (%T) cannot be copied", b.ID, b.Chip))
	}
	n := *b
	n.Chip = c.Clone()
	if b.Running != nil {
		r := *b.Running
		n.Running = &r
	}
	return &n
}

// StandIn returns a board to rehearse an operation on when b cannot be
// copied: a blank simulated chip of b's geometry, with b's layout,
// loader, keys, security counter and running image. It counts the flash
// operations of what depends on the layout and an image's size alone (a
// Write: WriteImage erases and programs every sector of the slot), not of
// what depends on the flash's content (a boot). Nil when the geometry is
// not one a simulated chip takes.
func (b *Board) StandIn() *Board {
	c, err := flash.New(b.Chip.Geometry(), nil)
	if err != nil {
		return nil
	}
	n := &Board{ID: b.ID, Chip: c, Layout: b.Layout, Loader: b.Loader, Keys: b.Keys, SecurityCounter: b.SecurityCounter}
	if b.Running != nil {
		r := *b.Running
		n.Running = &r
	}
	return n
}

// Policy is what an image must meet to boot on this board now.
func (b *Board) Policy() image.Policy {
	return image.Policy{Board: b.ID, MinSecurityCounter: b.SecurityCounter}
}

// VerifySlot reads and verifies the image at the start of partition name,
// in whatever format it is, by the rules of the board's bootloader
// (ImageRules).
func (b *Board) VerifySlot(name string) (image.Info, error) {
	return b.VerifySlotWith(name, b.ImageRules())
}

// RaiseSecurityCounter raises the OTP counter to at least n.
func (b *Board) RaiseSecurityCounter(n uint32) {
	if n > b.SecurityCounter {
		b.SecurityCounter = n
	}
}

// WriteImage stores img at the start of partition p the way in-place
// updaters do: it erases every sector of the partition, first to last,
// and then programs the image from its start, one sector's worth per
// operation (the last rounded up to the write unit). This is the order of
// MCUboot's serial recovery without MCUBOOT_ERASE_PROGRESSIVELY (the
// whole slot erased when the upload's first chunk arrives, then the
// chunks written in order) and of ESP-IDF's esp_ota_begin with
// OTA_SIZE_UNKNOWN (esp_https_ota's default): nothing of the old image
// is left once the first erase is done, and the new one is complete only
// with the last program. The verification that follows (the image's
// digest and signature) only reads. docs/boards.md gives the sources.
func WriteImage(c Flash, p Partition, img *flash.Blob) error {
	if img.Len() > p.Size {
		return fmt.Errorf("image of %d bytes does not fit partition %q (%d bytes): %w", img.Len(), p.Name, p.Size, ErrTooLarge)
	}
	if err := EraseRange(c, p); err != nil {
		return err
	}
	ss := c.Geometry().SectorSize
	for off := 0; off < img.Len(); off += ss {
		n := min(ss, roundUp(img.Len()-off, c.Geometry().WriteUnit))
		if err := c.ProgramBlob(p.Offset+off, img, off, n); err != nil {
			return err
		}
	}
	return nil
}

// EraseRange erases every sector of p.
func EraseRange(c Flash, p Partition) error {
	for off := 0; off < p.Size; off += c.Geometry().SectorSize {
		if err := c.Erase(p.Offset + off); err != nil {
			return err
		}
	}
	return nil
}

func roundUp(n, unit int) int { return (n + unit - 1) / unit * unit }

// Errors bootloader models share.
var (
	ErrTooLarge    = errors.New("image larger than the slot")
	ErrNoSuchSlot  = errors.New("no such slot")
	ErrSlotRunning = errors.New("slot holds the running image")
	ErrNotRunning  = errors.New("no image is running")
	ErrNotTrial    = errors.New("the running image is not on trial")
)

// partReader reads a partition of a chip as an io.ReaderAt.
type partReader struct {
	c Flash
	p Partition
}

func (r partReader) ReadAt(buf []byte, off int64) (int, error) {
	if off < 0 || off >= int64(r.p.Size) {
		return 0, fmt.Errorf("read at %d outside partition %q: %w", off, r.p.Name, flash.ErrOutOfRange)
	}
	n := min(len(buf), r.p.Size-int(off))
	if err := r.c.Read(r.p.Offset+int(off), buf[:n]); err != nil {
		return 0, err
	}
	if n < len(buf) {
		return n, fmt.Errorf("read past the end of partition %q: %w", r.p.Name, flash.ErrOutOfRange)
	}
	return n, nil
}

// Provision makes a factory-fresh board: a blank chip of geometry g, the
// loader's factory state with img in its first slot, booted once and
// running. Fleets provision once per profile and clone the result.
func Provision(id string, g flash.Geometry, layout Layout, l Bootloader, keys *image.Keyring, img *flash.Blob) (*Board, error) {
	if err := layout.Validate(g.Size, g.SectorSize); err != nil {
		return nil, err
	}
	c, err := flash.New(g, nil)
	if err != nil {
		return nil, err
	}
	b := &Board{ID: id, Chip: c, Layout: layout, Loader: l, Keys: keys}
	if err := l.Provision(b, img); err != nil {
		return nil, fmt.Errorf("provision %s: %w", id, err)
	}
	r, err := l.Boot(b)
	switch {
	case err != nil:
		return nil, fmt.Errorf("provision %s: first boot: %w", id, err)
	case r.Bricked:
		return nil, fmt.Errorf("provision %s: first boot bricked: %s", id, r.Reason)
	case r.Trial:
		return nil, fmt.Errorf("provision %s: first boot is a trial boot of %s", id, r.Slot)
	}
	return b, nil
}
