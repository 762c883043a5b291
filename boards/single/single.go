// Package single models a single-bank board: one application slot,
// overwritten in place by the updater, with no fallback. It is the control
// group of a rollback study: a power cut while the slot is rewritten leaves
// nothing bootable.
//
// Flash operations:
//
//	Write(app, img)  boards.WriteImage: erase the whole app partition, then
//	                 program the image; from the first erase until the last
//	                 program the slot holds no bootable image
//	Activate(app)    none (the next boot runs whatever the slot holds)
//	Boot             none; verifies the image in app and boots it, or bricks
//	Confirm          none; raises the board's security counter
package single

import (
	"fmt"

	"brickyard/boards"
	"brickyard/boards/image"
	"brickyard/boards/image/formats"
	"brickyard/flash"
)

// Slot is the name of the only image partition.
const Slot = "app"

// Loader is the single-bank model. The zero value is ready to use and
// boots BYFW images.
type Loader struct {
	// Formats are the image formats it boots, each checked by that
	// format's default rules; none means BYFW only.
	Formats []image.Format `yaml:"formats"`
}

// ImageRules are the formats the loader boots, with their default rules.
func (l Loader) ImageRules(*boards.Board) formats.Rules {
	return formats.Rules{Formats: l.Formats}
}

var _ boards.Bootloader = Loader{}

func (Loader) Name() string    { return "single-bank" }
func (Loader) Slots() []string { return []string{Slot} }

func (l Loader) Provision(b *boards.Board, img *flash.Blob) error {
	return l.Write(b, Slot, img)
}

func (Loader) Write(b *boards.Board, slot string, img *flash.Blob) error {
	p, err := part(b, slot)
	if err != nil {
		return err
	}
	return boards.WriteImage(b.Chip, p, img)
}

func (Loader) Activate(b *boards.Board, slot string) error {
	_, err := part(b, slot)
	return err
}

func (Loader) Boot(b *boards.Board) (boards.Boot, error) {
	b.Running = nil
	h, err := b.VerifySlot(Slot)
	if err != nil {
		if !b.Chip.Powered() {
			return boards.Boot{}, err
		}
		r := boards.Boot{Bricked: true, Reason: fmt.Sprintf("%s: %v", Slot, err)}
		return r, nil
	}
	r := boards.Boot{Slot: Slot, Image: h}
	b.Running = &r
	return r, nil
}

func (Loader) Confirm(b *boards.Board) error {
	if b.Running == nil {
		return boards.ErrNotRunning
	}
	b.RaiseSecurityCounter(b.Running.Image.SecurityCounter)
	return nil
}

func part(b *boards.Board, slot string) (boards.Partition, error) {
	if slot != Slot {
		return boards.Partition{}, fmt.Errorf("single-bank has no slot %q: %w", slot, boards.ErrNoSuchSlot)
	}
	ps, err := b.Layout.Require(Slot)
	if err != nil {
		return boards.Partition{}, err
	}
	return ps[0], nil
}
