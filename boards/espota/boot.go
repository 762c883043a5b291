package espota

import (
	"fmt"
	"strings"

	"brickyard/boards"
)

// Boot is one power-on or reset with rollback enabled: read both entries,
// apply Plan's in-place rewrites (PENDING_VERIFY→ABORTED, then the selected
// NEW→PENDING_VERIFY; each an erase and a 32-byte program), then verify the
// partitions of Plan.Order in turn and boot the first that verifies. In
// ESP's initial state (no factory, no usable entry) booting ota_N first
// writes seq N+1 VALID into sector 0.
//
// Trial is set when the selected entry was NEW: the app gets this one boot
// to confirm. FellBack is set when the selected entry is not the newest
// one (the newest is ABORTED or INVALID) or verification forced another
// partition. FellBack stays set on later boots while the newest entry is
// still ABORTED or INVALID: otadata keeps that record until the next
// Activate. Boot returns an error only when the flash fails.
func (Loader) Boot(b *boards.Board) (boards.Boot, error) {
	b.Running = nil
	pl, err := layoutOf(b)
	if err != nil {
		return boards.Boot{}, err
	}
	o, err := pl.read(b.Chip)
	if err != nil {
		return boards.Boot{}, err
	}
	p := o.Plan(pl.hasFactory)
	for _, s := range p.Rewrites {
		if err := pl.rewrite(b.Chip, s, p.Otadata[s]); err != nil {
			return boards.Boot{}, err
		}
	}
	notes := p.Notes
	for n, idx := range p.Order {
		name := pl.partName(idx)
		h, err := b.VerifySlot(name)
		if err != nil {
			if !b.Chip.Powered() {
				return boards.Boot{}, err
			}
			notes = append(notes, fmt.Sprintf("%s is not bootable: %v", name, err))
			continue
		}
		if p.Initial && idx != FactoryIndex {
			if err := pl.rewrite(b.Chip, 0, NewEntry(uint32(idx+1), StateValid)); err != nil {
				return boards.Boot{}, err
			}
		}
		r := boards.Boot{
			Slot:     name,
			Image:    h,
			Trial:    n == 0 && p.Trial(),
			FellBack: n > 0 || p.SkippedNewest(),
			Reason:   strings.Join(notes, "; "),
		}
		b.Running = &r
		return r, nil
	}
	notes = append(notes, "no bootable app partition")
	return boards.Boot{Bricked: true, Reason: strings.Join(notes, "; ")}, nil
}
