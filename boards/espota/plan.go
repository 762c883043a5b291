package espota

import "fmt"

// FactoryIndex is the boot index of the factory partition in Plan.Order
// (ESP-IDF's FACTORY_INDEX); 0 and 1 are ota_0 and ota_1.
const FactoryIndex = -1

const numSlots = 2

// Plan is what the bootloader decides from the otadata it read, before it
// loads an image: which sectors it rewrites in place and which partitions
// it tries, in order. It is ESP-IDF's
// bootloader_utility_get_selected_boot_partition with
// CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE, and the order of
// bootloader_utility_load_boot_image.
type Plan struct {
	Read    Otadata // the entries as read
	Otadata Otadata // the entries after the boot's state changes
	// Rewrites are the sectors rewritten in place, in order: erase the
	// sector, program Otadata[i]. PENDING_VERIFY→ABORTED first (step 1),
	// then the selected entry's NEW→PENDING_VERIFY (step 3).
	Rewrites []int
	Active   int // the selected entry after step 1, -1 when none is valid
	// Order lists the boot indexes to try: the selected one, then down to
	// the factory, then up through the remaining ota slots.
	Order []int
	// Initial is ESP-IDF's ota_has_initial_contents: no factory partition
	// and both entries erased or with a bad CRC. Booting ota_N then writes
	// seq N+1 VALID into sector 0 (set_actual_ota_seq).
	Initial bool
	// Newest is the sector of the newest CRC-good entry whatever its state
	// (sector 0 on a tie), -1 when there is none: the boot the updater last
	// asked for.
	Newest int
	Notes  []string // what the bootloader would log, for Boot.Reason
}

// Plan runs the bootloader's per-boot decision on o. factory says whether
// the layout has a factory partition.
//
//  1. Each entry in PENDING_VERIFY, whatever its CRC, becomes ABORTED and
//     its sector is rewritten in place.
//  2. Both entries Invalid (seq erased, INVALID, ABORTED): factory if
//     present, else ota_0. Otherwise the active valid entry selects
//     ota_((seq−1) mod 2); with no valid entry, the factory if present,
//     else every ota slot in turn.
//  3. A selected entry in NEW becomes PENDING_VERIFY, rewritten in place.
func (o Otadata) Plan(factory bool) Plan {
	p := Plan{Read: o, Otadata: o, Active: -1, Newest: o.newest()}
	cur := &p.Otadata
	for i := range cur {
		if cur[i].State == StatePendingVerify {
			cur[i].State = StateAborted
			p.Rewrites = append(p.Rewrites, i)
			p.note("otadata[%d] %s was never confirmed: marked ABORTED", i, o[i])
		}
	}
	start := FactoryIndex
	switch {
	case cur[0].Invalid() && cur[1].Invalid():
		if factory {
			p.note("no usable otadata entry: factory")
			break
		}
		start = 0
		p.Initial = initial(cur[0]) && initial(cur[1])
		if !p.Initial {
			p.note("no usable otadata entry and no factory: ota_0")
		}
	default:
		p.Active = cur.Active()
		if p.Active < 0 {
			if factory {
				p.note("otadata invalid: falling back to factory")
			} else {
				p.note("otadata invalid and no factory: trying every slot")
			}
			break
		}
		start = cur[p.Active].Slot()
		if cur[p.Active].State == StateNew {
			cur[p.Active].State = StatePendingVerify
			p.Rewrites = append(p.Rewrites, p.Active)
		}
	}
	if p.SkippedNewest() && o[p.Newest].State != StatePendingVerify {
		p.note("newest entry otadata[%d] %s skipped", p.Newest, o[p.Newest])
	}
	for i := start; i >= FactoryIndex; i-- {
		if i != FactoryIndex || factory {
			p.Order = append(p.Order, i)
		}
	}
	for i := start + 1; i < numSlots; i++ {
		p.Order = append(p.Order, i)
	}
	return p
}

// SkippedNewest reports whether the selected entry is not the newest
// request: the newest entry is ABORTED or INVALID (or none was selected).
func (p Plan) SkippedNewest() bool {
	return p.Newest >= 0 && (p.Active < 0 || p.Otadata[p.Active].Seq < p.Read[p.Newest].Seq)
}

// Trial reports whether booting Order[0] is a trial: the selected entry
// was NEW and is now PENDING_VERIFY.
func (p Plan) Trial() bool {
	return p.Active >= 0 && p.Otadata[p.Active].State == StatePendingVerify
}

func (p *Plan) note(format string, args ...any) {
	p.Notes = append(p.Notes, fmt.Sprintf(format, args...))
}

// initial is the per-entry test of ota_has_initial_contents: seq erased or
// CRC bad.
func initial(e Entry) bool { return e.Seq == SeqErased || !e.CRCOK() }

// newest is the sector of the CRC-good entry with the larger seq, -1 when
// neither is CRC-good and not erased.
func (o Otadata) newest() int {
	n := -1
	for i, e := range o {
		if e.Seq == SeqErased || !e.CRCOK() {
			continue
		}
		if n < 0 || e.Seq > o[n].Seq {
			n = i
		}
	}
	return n
}
