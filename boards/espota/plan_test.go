package espota_test

import (
	"slices"
	"testing"

	"brickyard/boards/espota"
)

// TestSelect is the bootloader's per-boot decision (§1.3 steps 1-3 and the
// load order), one row per rule.
func TestSelect(t *testing.T) {
	e := espota.NewEntry
	const (
		NEW     = espota.StateNew
		PENDING = espota.StatePendingVerify
		VALID   = espota.StateValid
		INVALID = espota.StateInvalid
		ABORTED = espota.StateAborted
	)
	erased := espota.Entry{Seq: 0xFFFFFFFF, State: espota.StateUndefined, CRC: 0xFFFFFFFF}
	for i := range erased.Label {
		erased.Label[i] = 0xFF
	}
	badCRC := func(x espota.Entry) espota.Entry { x.CRC ^= 0x80; return x }
	seqZero := espota.Entry{Seq: 0, State: espota.StateUndefined, CRC: 0xFFFFFFFF}

	type want struct {
		active   int
		order    []int
		rewrites []int
		after    [2]espota.State
		trial    bool
		skipped  bool // SkippedNewest: Boot reports FellBack
		initial  bool
	}
	for _, c := range []struct {
		name    string
		o       espota.Otadata
		factory bool
		want    want
	}{
		{"FactoryStateBootsFactory", espota.Otadata{erased, erased}, true,
			want{active: -1, order: []int{-1, 0, 1}, after: [2]espota.State{erased.State, erased.State}}},
		{"FactoryStateWithoutFactoryBootsOTA0AndWritesSeq", espota.Otadata{erased, erased}, false,
			want{active: -1, order: []int{0, 1}, after: [2]espota.State{erased.State, erased.State}, initial: true}},
		{"LargerSeqWins", espota.Otadata{e(1, VALID), e(2, VALID)}, false,
			want{active: 1, order: []int{1, 0}, after: [2]espota.State{VALID, VALID}}},
		{"EqualSeqSector0Wins", espota.Otadata{e(3, VALID), e(3, NEW)}, false,
			want{active: 0, order: []int{0, 1}, after: [2]espota.State{VALID, NEW}}},
		{"BadCRCSkipped", espota.Otadata{e(1, VALID), badCRC(e(2, VALID))}, false,
			want{active: 0, order: []int{0, 1}, after: [2]espota.State{VALID, VALID}}},
		{"InvalidSkipped", espota.Otadata{e(1, VALID), e(2, INVALID)}, false,
			want{active: 0, order: []int{0, 1}, after: [2]espota.State{VALID, INVALID}, skipped: true}},
		{"AbortedSkipped", espota.Otadata{e(3, ABORTED), e(2, VALID)}, false,
			want{active: 1, order: []int{1, 0}, after: [2]espota.State{ABORTED, VALID}, skipped: true}},
		{"PendingVerifyBecomesAborted", espota.Otadata{e(1, VALID), e(2, PENDING)}, false,
			want{active: 0, order: []int{0, 1}, rewrites: []int{1}, after: [2]espota.State{VALID, ABORTED}, skipped: true}},
		{"PendingVerifyWithBadCRCIsRewrittenToo", espota.Otadata{e(1, VALID), badCRC(e(2, PENDING))}, false,
			want{active: 0, order: []int{0, 1}, rewrites: []int{1}, after: [2]espota.State{VALID, ABORTED}}},
		{"NewBecomesPendingVerify", espota.Otadata{e(1, VALID), e(2, NEW)}, false,
			want{active: 1, order: []int{1, 0}, rewrites: []int{1}, after: [2]espota.State{VALID, PENDING}, trial: true}},
		{"NewNotSelectedStaysNew", espota.Otadata{e(3, VALID), e(2, NEW)}, false,
			want{active: 0, order: []int{0, 1}, after: [2]espota.State{VALID, NEW}}},
		{"AbortThenPromoteInSectorOrder", espota.Otadata{e(3, NEW), e(2, PENDING)}, false,
			want{active: 0, order: []int{0, 1}, rewrites: []int{1, 0}, after: [2]espota.State{PENDING, ABORTED}, trial: true}},
		{"UnknownStateSelectable", espota.Otadata{e(1, VALID), e(2, espota.State(0x00010001))}, false,
			want{active: 1, order: []int{1, 0}, after: [2]espota.State{VALID, 0x00010001}}},
		{"UndefinedSelectable", espota.Otadata{e(1, VALID), e(2, espota.StateUndefined)}, false,
			want{active: 1, order: []int{1, 0}, after: [2]espota.State{VALID, espota.StateUndefined}}},
		{"SlotIsSeqMinusOneMod2", espota.Otadata{e(5, VALID), e(4, VALID)}, true,
			want{active: 0, order: []int{0, -1, 1}, after: [2]espota.State{VALID, VALID}}},
		{"FallbackGoesDownToFactoryFirst", espota.Otadata{e(1, VALID), e(2, VALID)}, true,
			want{active: 1, order: []int{1, 0, -1}, after: [2]espota.State{VALID, VALID}}},
		{"BothInvalidBootsFactory", espota.Otadata{e(1, ABORTED), e(2, INVALID)}, true,
			want{active: -1, order: []int{-1, 0, 1}, after: [2]espota.State{ABORTED, INVALID}, skipped: true}},
		{"BothInvalidNoFactoryBootsOTA0WithoutWrite", espota.Otadata{e(1, ABORTED), e(2, INVALID)}, false,
			want{active: -1, order: []int{0, 1}, after: [2]espota.State{ABORTED, INVALID}, skipped: true}},
		{"BadCRCsNoFactoryTriesEverySlot", espota.Otadata{badCRC(e(1, VALID)), badCRC(e(2, VALID))}, false,
			want{active: -1, order: []int{0, 1}, after: [2]espota.State{VALID, VALID}}},
		{"BadCRCsWithFactoryBootsFactory", espota.Otadata{badCRC(e(1, VALID)), badCRC(e(2, VALID))}, true,
			want{active: -1, order: []int{-1, 0, 1}, after: [2]espota.State{VALID, VALID}}},
		{"SeqZeroErasedCRCSelectsOTA1", espota.Otadata{erased, seqZero}, true,
			want{active: 1, order: []int{1, 0, -1}, after: [2]espota.State{erased.State, espota.StateUndefined}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := c.o.Plan(c.factory)
			got := want{active: p.Active, order: p.Order, rewrites: p.Rewrites,
				after: [2]espota.State{p.Otadata[0].State, p.Otadata[1].State},
				trial: p.Trial(), skipped: p.SkippedNewest(), initial: p.Initial}
			if got.active != c.want.active || !slices.Equal(got.order, c.want.order) ||
				!slices.Equal(got.rewrites, c.want.rewrites) || got.after != c.want.after ||
				got.trial != c.want.trial || got.skipped != c.want.skipped || got.initial != c.want.initial {
				t.Errorf("plan\n got %+v\nwant %+v\nnotes %q", got, c.want, p.Notes)
			}
			for _, s := range p.Rewrites {
				if p.Otadata[s].Seq != c.o[s].Seq || p.Otadata[s].CRC != c.o[s].CRC {
					t.Errorf("rewrite of sector %d changes seq or crc: %v → %v", s, c.o[s], p.Otadata[s])
				}
			}
		})
	}
}
