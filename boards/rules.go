package boards

import (
	"fmt"

	"brickyard/boards/image"
	"brickyard/boards/image/formats"
)

// ImageRuler is implemented by a Bootloader whose build takes images of
// other formats than BYFW, or checks them by rules of its own (MCUboot's
// signature type, ESP-IDF's secure boot, U-Boot's required keys). A
// Bootloader that does not implement it takes BYFW images only.
type ImageRuler interface {
	ImageRules(b *Board) formats.Rules
}

// ImageRules are the rules the board's bootloader verifies images by.
func (b *Board) ImageRules() formats.Rules {
	if r, ok := b.Loader.(ImageRuler); ok {
		return r.ImageRules(b)
	}
	return formats.Rules{}
}

// VerifySlotWith is VerifySlot by rules r: for a bootloader whose rules
// depend on its state at boot (U-Boot boots the configuration its
// environment names).
func (b *Board) VerifySlotWith(name string, r formats.Rules) (image.Info, error) {
	p, ok := b.Layout.Get(name)
	if !ok {
		return image.Info{}, fmt.Errorf("no partition %q", name)
	}
	return formats.Verify(partReader{b.Chip, p}, int64(p.Size), b.Keys, r, b.Policy())
}

// VerifyImage verifies an image held in memory (a download) by the
// board's rules and policy, as the updater does before it writes it.
func (b *Board) VerifyImage(img []byte) (image.Info, error) {
	return formats.VerifyBytes(img, b.Keys, b.ImageRules(), b.Policy())
}
