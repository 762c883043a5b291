package mcuboot

import (
	"fmt"

	"brickyard/boards"
	"brickyard/boards/image"
)

// Boot is one run of the bootloader (context_boot_go for one image):
//
//  1. Find the status source (StatusSource) and read its records. If
//     some are written, a swap was interrupted: read swap_size from the
//     area with a GOOD magic (scratch first, then primary; none, or a
//     size past the slot: the records are ignored and the table
//     decides), take the type from the source's swap_info,
//     finish the swap from the first incomplete record, then write the
//     end state (finish).
//  2. Otherwise the type is the source's swap_info when it names an
//     upgrade (a swap whose first record was not yet written restarts),
//     else Decide's. An upgrade first verifies the secondary image; if it
//     fails, the secondary is erased (only its trailer sector when its
//     header is erased, else the whole slot), primary image_ok is set if
//     UNSET, and nothing is swapped (FAIL). Else the swap runs from the
//     start with swap_size = the larger image, then finish.
//  3. Verify primary and boot it; an invalid primary bricks the board.
//     Trial: a test swap ran (or was resumed) in this boot and primary
//     image_ok is UNSET. FellBack: a revert ran, or a requested image
//     was rejected. A boot that is not a trial raises the security
//     counter to the booted image's (MCUboot's hardware rollback
//     protection on a NONE boot, and right after a PERM swap).
func (l *Loader) Boot(b *boards.Board) (boards.Boot, error) {
	b.Running = nil
	a, err := l.areas(b)
	if err != nil {
		return boards.Boot{}, err
	}
	out, err := a.update(b, l)
	if err != nil {
		return boards.Boot{}, err
	}
	h, verr := b.VerifySlot(Primary)
	if verr != nil {
		if !b.Chip.Powered() {
			return boards.Boot{}, verr
		}
		why := fmt.Sprintf("%s: %v (no bootable image)", Primary, verr)
		if out.reason != "" {
			why = out.reason + "; " + why
		}
		return boards.Boot{Bricked: true, Reason: why}, nil
	}
	pt, err := a.readTrailer(a.pri)
	if err != nil {
		return boards.Boot{}, err
	}
	r := boards.Boot{Slot: Primary, Image: h, FellBack: out.fellBack, Reason: out.reason,
		Trial: out.swapped == SwapTest && pt.ImageOK == FlagUnset}
	if !r.Trial {
		b.RaiseSecurityCounter(h.SecurityCounter)
	}
	b.Running = &r
	return r, nil
}

// outcome is what the update step of a boot did.
type outcome struct {
	swapped  SwapType // the swap completed in this boot, SwapNone if none, SwapFail if refused
	fellBack bool
	reason   string
}

// update completes an interrupted swap or performs the one the trailers
// ask for (boot_prepare_image_for_update and boot_perform_update).
func (a *areas) update(b *boards.Board, l *Loader) (outcome, error) {
	pt, err := a.readTrailer(a.pri)
	if err != nil {
		return outcome{}, err
	}
	ct, err := a.readTrailer(a.scr)
	if err != nil {
		return outcome{}, err
	}
	typ := SwapNone
	if src := StatusSource(pt, ct); src != SourceNone {
		area, srcT := a.pri, pt
		if src == SourceScratch {
			area, srcT = a.scr, ct
		}
		st, err := a.readStatus(area)
		if err != nil {
			return outcome{}, err
		}
		typ = srcT.SwapType
		if st != (Status{}) {
			if size, ok := swapSizeOf(ct, pt); ok && int(size) <= a.maxImage() {
				return a.resume(&swap{typ: typ, size: size, region: st.Region, state: st.State}, src)
			}
			typ = SwapNone // records without a readable swap_size: unusable (upstream asserts)
		}
	}
	if !typ.IsUpgrade() {
		st, err := a.readTrailer(a.sec)
		if err != nil {
			return outcome{}, err
		}
		typ = Decide(pt, st)
	}
	if !typ.IsUpgrade() {
		return outcome{swapped: SwapNone}, nil
	}
	sec, verr := b.VerifySlot(Secondary)
	if verr != nil {
		if !b.Chip.Powered() {
			return outcome{}, verr
		}
		return a.reject(typ, verr)
	}
	if typ == SwapTest || typ == SwapPerm {
		if why, err := a.downgrade(b, l, sec); err != nil || why != "" {
			return outcome{swapped: SwapNone, fellBack: why != "", reason: why}, err
		}
	}
	size, err := a.swapSize()
	if err != nil {
		return outcome{}, err
	}
	s := &swap{typ: typ, size: size}
	if err := a.run(s); err != nil {
		return outcome{}, err
	}
	if err := a.finish(typ); err != nil {
		return outcome{}, err
	}
	o := outcome{swapped: typ}
	if typ == SwapRevert {
		o.fellBack, o.reason = true, "reverted: the test image was not confirmed"
	}
	return o, nil
}

// resume finishes an interrupted swap (boot_complete_partial_swap).
func (a *areas) resume(s *swap, src Source) (outcome, error) {
	why := fmt.Sprintf("resumed a %s swap at region %d, step %d (status in %s)", s.typ, s.region, s.state, src)
	if err := a.run(s); err != nil {
		return outcome{}, err
	}
	if err := a.finish(s.typ); err != nil {
		return outcome{}, err
	}
	o := outcome{swapped: s.typ, reason: why}
	if s.typ == SwapRevert {
		o.fellBack, o.reason = true, "reverted: the test image was not confirmed; "+why
	}
	return o, nil
}

// swapSizeOf is boot_find_status then boot_read_swap_size: swap_size from
// the first of scratch and primary whose magic is GOOD.
func swapSizeOf(scratch, primary Trailer) (uint32, bool) {
	switch {
	case scratch.Magic == MagicGood:
		return scratch.SwapSize, true
	case primary.Magic == MagicGood:
		return primary.SwapSize, true
	}
	return 0, false
}

// reject handles a requested swap whose secondary image does not verify
// (boot_validate_slot, then the FAIL case of context_boot_go): erase the
// secondary (only its trailer sector when its header is erased), then
// primary image_ok = 1 if UNSET, so the request is not retried.
func (a *areas) reject(typ SwapType, verr error) (outcome, error) {
	empty, err := a.isErased(a.sec, 0, 4)
	if err != nil {
		return outcome{}, err
	}
	if empty {
		err = a.eraseTrailerSectors(a.sec)
	} else {
		err = a.erase(a.sec, 0, a.sec.Size)
	}
	if err != nil {
		return outcome{}, err
	}
	pt, err := a.readTrailer(a.pri)
	if err != nil {
		return outcome{}, err
	}
	if pt.ImageOK == FlagUnset {
		if err := a.writeImageOK(a.pri); err != nil {
			return outcome{}, err
		}
	}
	return outcome{swapped: SwapFail, fellBack: typ != SwapRevert,
		reason: fmt.Sprintf("%s swap refused: %s: %v; slot erased", typ, Secondary, verr)}, nil
}

// downgrade is check_downgrade_prevention for a test or permanent swap
// to sec: with prevention on and sec older than the primary image (by
// version, build number ignored, or by security counter), the secondary
// slot is erased (boot_scramble_slot) and no swap happens. It returns why
// the swap was refused, "" when it may go ahead. A primary image that
// does not verify prevents nothing.
func (a *areas) downgrade(b *boards.Board, l *Loader, sec image.Info) (string, error) {
	mode := l.opts.DowngradePrevention
	if mode == DowngradeOff {
		return "", nil
	}
	pri, err := b.VerifySlotWith(Primary, l.ImageRules(b))
	if err != nil {
		if !b.Chip.Powered() {
			return "", err
		}
		return "", nil
	}
	var why string
	switch mode {
	case DowngradeVersion:
		pv, sv := pri.Version, sec.Version
		pv.Build, sv.Build = 0, 0
		if sv.Compare(pv) < 0 {
			why = fmt.Sprintf("downgrade prevented: secondary %s is older than primary %s; secondary erased", sec.Version, pri.Version)
		}
	case DowngradeSecurityCounter:
		if sec.SecurityCounter < pri.SecurityCounter {
			why = fmt.Sprintf("downgrade prevented: secondary security counter %d is below primary's %d; secondary erased", sec.SecurityCounter, pri.SecurityCounter)
		}
	}
	if why == "" {
		return "", nil
	}
	return why, a.erase(a.sec, 0, a.sec.Size)
}
