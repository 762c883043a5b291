package mcuboot

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"brickyard/boards"
	"brickyard/flash"
)

// cutMode is one way of cutting: before the operation, or torn part-way
// with bits from a seed.
type cutMode struct {
	mode flash.CutMode
	seed uint64
}

func (m cutMode) String() string {
	if m.mode == flash.CutTorn {
		return fmt.Sprintf("torn/seed%d", m.seed)
	}
	return m.mode.String()
}

func (m cutMode) rng(k int) *rand.Rand { return rand.New(rand.NewPCG(m.seed, uint64(k))) }

var cutModes = []cutMode{{flash.CutBefore, 0}, {flash.CutTorn, 1}, {flash.CutTorn, 2}, {flash.CutTorn, 3}}

// boots runs n boots (resets in between, no confirm) and stops at the
// first error.
func boots(b *boards.Board, n int) error {
	for range n {
		b.Running = nil
		if _, err := b.Loader.Boot(b); err != nil {
			return err
		}
	}
	return nil
}

// cutAt clones from, cuts power at its k-th operation from now while
// running n boots, and powers on again.
func cutAt(t *testing.T, from *boards.Board, k int, m cutMode, n int) *boards.Board {
	t.Helper()
	b := from.Clone()
	if err := b.Chip.ArmCut(b.Chip.Ops()+uint64(k), m.mode, m.rng(k)); err != nil {
		t.Fatal(err)
	}
	if err := boots(b, n); !isPowerLost(err) {
		t.Fatalf("cut at op %d did not land: %v", k, err)
	}
	b.PowerOn()
	return b
}

// trailerBounds is where the primary slot's trailer starts.
func trailerStart(b *boards.Board) int {
	a, _ := b.Loader.(*Loader).areas(b)
	return a.pri.Size - a.trailer
}

// TestResume_TestSwap_CutEveryOp_EqualsUninterrupted cuts power at every
// operation of the boot that performs a test swap, boots once more, and
// compares with an uninterrupted run. A cut before an operation must end
// in exactly the uninterrupted bytes of both slots, trailers included. A
// torn cut must end in the same images and secondary slot; the primary
// trailer may differ where a torn write left a torn record (counted as
// written) or a BAD flag (a torn copy_done ends the trial early, as it
// would on hardware; a torn copy_done whose bits all landed completes the
// swap, and the next boot reverts).
func TestResume_TestSwap_CutEveryOp_EqualsUninterrupted(t *testing.T) {
	for _, r := range sweepRigs() {
		pending := r.pending(t, Options{})
		ref := pending.Clone()
		base := ref.Chip.Ops()
		refRes := mustBoot(t, ref)
		n := int(ref.Chip.Ops() - base)
		refPri, refSec := slotBytes(t, ref, Primary), slotBytes(t, ref, Secondary)
		refT := trailerOf(t, ref, Primary)
		ts := trailerStart(ref)
		for _, m := range sweepModes() {
			differ, early, landed := 0, 0, 0
			for k := range n {
				b := cutAt(t, pending, k, m, 1)
				if pt := trailerOf(t, b, Primary); m.mode == flash.CutTorn && k == n-1 &&
					pt.Magic == MagicGood && pt.ImageOK == FlagUnset && pt.CopyDone == FlagSet {
					// The torn copy_done landed whole: the swap is complete
					// and the image never ran, so this boot reverts.
					res := mustBoot(t, b)
					wantVersion(t, res, "1.0.0")
					landed++
					continue
				}
				res := mustBoot(t, b)
				wantVersion(t, res, "2.0.0")
				pri, sec := slotBytes(t, b, Primary), slotBytes(t, b, Secondary)
				where := fmt.Sprintf("%v %v op %d (%s 0x%x)", r, m, k, b.Chip.LastOp().Kind, b.Chip.LastOp().Addr)
				if !bytes.Equal(sec, refSec) || !bytes.Equal(pri[:ts], refPri[:ts]) {
					t.Fatalf("%s: slot contents differ from the uninterrupted run", where)
				}
				if m.mode == flash.CutBefore {
					if !bytes.Equal(pri, refPri) || res.Trial != refRes.Trial || res.FellBack {
						t.Fatalf("%s: primary trailer or boot %+v differs from the uninterrupted run", where, res)
					}
					continue
				}
				if got := trailerOf(t, b, Primary); got != refT {
					differ++
					if got.Magic != MagicGood || got.ImageOK == FlagSet {
						t.Fatalf("%s: primary trailer %v after a torn cut", where, got)
					}
				}
				if !res.Trial {
					early++
				}
			}
			t.Logf("%v %v: %d cuts; primary trailer differs after %d, trial ended early after %d, torn copy_done landed whole %d",
				r, m, n, differ, early, landed)
		}
	}
}

// TestRevert_CutEveryOp_EndsOnValidImage cuts power at every operation of
// a test swap boot followed by a reset without confirm (the revert), then
// boots without ever confirming until a boot is not a trial. Every cut
// must end on a verified image; a cut before an operation must end
// exactly as the uninterrupted revert: 1.0.0 in primary, confirmed, 2.0.0
// in secondary with an erased trailer.
func TestRevert_CutEveryOp_EndsOnValidImage(t *testing.T) {
	rs := sweepRigs()
	if testing.Short() || raceEnabled {
		rs = rs[:2] // two swaps per cut: the small rigs only
	}
	for _, r := range rs {
		pending := r.pending(t, Options{})
		ref := pending.Clone()
		base := ref.Chip.Ops()
		if err := boots(ref, 2); err != nil {
			t.Fatal(err)
		}
		n := int(ref.Chip.Ops() - base)
		refPri, refSec := slotBytes(t, ref, Primary), slotBytes(t, ref, Secondary)
		wantTrailer(t, "reverted primary", trailerOf(t, ref, Primary), MagicGood, FlagSet, FlagSet)
		for _, m := range sweepModes() {
			outcomes := map[string]int{}
			for k := range n {
				b := cutAt(t, pending, k, m, 2)
				where := fmt.Sprintf("%v %v op %d (%s 0x%x)", r, m, k, b.Chip.LastOp().Kind, b.Chip.LastOp().Addr)
				var res boards.Boot
				settled := false
				for range 6 {
					res = mustBoot(t, b)
					if res.Bricked {
						t.Fatalf("%s: bricked: %s", where, res.Reason)
					}
					if !res.Trial {
						settled = true
						break
					}
				}
				if !settled {
					t.Fatalf("%s: still on trial after 6 boots", where)
				}
				outcomes[res.Image.Version.String()]++
				if m.mode == flash.CutBefore {
					wantVersion(t, res, "1.0.0")
					if !bytes.Equal(slotBytes(t, b, Primary), refPri) || !bytes.Equal(slotBytes(t, b, Secondary), refSec) {
						t.Fatalf("%s: slots differ from the uninterrupted revert", where)
					}
				}
			}
			t.Logf("%v %v: %d cuts; settled on %v", r, m, n, outcomes)
		}
	}
}
