package mcuboot

import "testing"

// Trailers by state, for the decision tables.
var (
	tErased  = erasedSpec()
	tGood    = spec{magic: MagicGood, swapInfo: -1, swapSize: -1}                           // magic only (set_pending(test) cut before swap_info)
	tPending = spec{magic: MagicGood, swapInfo: int(SwapTest), swapSize: -1}                // set_pending(test)
	tPerm    = spec{magic: MagicGood, imageOK: 1, swapInfo: int(SwapPerm), swapSize: -1}    // set_pending(permanent)
	tBadOK   = spec{magic: MagicGood, imageOK: 0x02, swapInfo: int(SwapPerm), swapSize: -1} // torn image_ok
	tBad     = spec{magic: MagicBad, swapInfo: -1, swapSize: -1}
	tConf    = spec{magic: MagicGood, imageOK: 1, copyDone: 1, swapInfo: int(SwapPerm), swapSize: 100}
	tTrial   = spec{magic: MagicGood, copyDone: 1, swapInfo: int(SwapTest), swapSize: 100}
	tSwapped = spec{magic: MagicGood, swapInfo: int(SwapTest), swapSize: 100} // primary during a swap: copy_done UNSET
	tOKOnly  = spec{magic: MagicUnset, imageOK: 1, swapInfo: -1, swapSize: -1}
)

type decision struct {
	name               string
	primary, secondary spec
	want               SwapType
}

func runDecisions(t *testing.T, cases []decision) {
	t.Helper()
	for _, e := range erasedValues {
		for _, c := range cases {
			if got := Decide(decode(t, c.primary, e), decode(t, c.secondary, e)); got != c.want {
				t.Errorf("erased %02X, %s: got %s, want %s", e, c.name, got, c.want)
			}
		}
	}
}

func TestDecision_RowII_SecondaryGoodUnset_Test(t *testing.T) {
	runDecisions(t, []decision{
		{"pending test, primary confirmed", tConf, tPending, SwapTest},
		{"pending test, primary on trial (row II before IV)", tTrial, tPending, SwapTest},
		{"pending test, primary erased trailer", tErased, tPending, SwapTest},
		{"pending test, primary magic bad", tBad, tPending, SwapTest},
		{"magic without swap_info", tConf, tGood, SwapTest},
		{"perm request cut before image_ok degrades to test", tConf, spec{magic: MagicGood, swapInfo: -1, swapSize: -1}, SwapTest},
	})
}

func TestDecision_RowIII_SecondaryGoodSet_Perm(t *testing.T) {
	runDecisions(t, []decision{
		{"pending perm, primary confirmed", tConf, tPerm, SwapPerm},
		{"pending perm, primary on trial", tTrial, tPerm, SwapPerm},
		{"pending perm, primary erased trailer", tErased, tPerm, SwapPerm},
		{"perm request cut before swap_info", tConf, spec{magic: MagicGood, imageOK: 1, swapInfo: -1, swapSize: -1}, SwapPerm},
	})
}

func TestDecision_RowIV_PrimaryGoodUnsetCopyDone_Revert(t *testing.T) {
	runDecisions(t, []decision{
		{"trial not confirmed, secondary erased", tTrial, tErased, SwapRevert},
		{"trial, secondary trailer holds only image_ok", tTrial, tOKOnly, SwapRevert},
	})
}

func TestDecision_NoRowMatched_None(t *testing.T) {
	runDecisions(t, []decision{
		{"confirmed, nothing pending", tConf, tErased, SwapNone},
		{"factory erased trailers", tErased, tErased, SwapNone},
		{"secondary magic bad", tConf, tBad, SwapNone},
		{"secondary image_ok bad (torn permanent request)", tConf, tBadOK, SwapNone},
		{"trial but copy_done unset", tSwapped, tErased, SwapNone},
		{"trial but primary magic bad", spec{magic: MagicBad, copyDone: 1, swapInfo: -1, swapSize: -1}, tErased, SwapNone},
		{"trial with image_ok bad", spec{magic: MagicGood, imageOK: 0x02, copyDone: 1, swapInfo: -1, swapSize: -1}, tErased, SwapNone},
		{"trial with copy_done bad", spec{magic: MagicGood, copyDone: 0x02, swapInfo: -1, swapSize: -1}, tErased, SwapNone},
		// Upstream's row IV wants the secondary magic UNSET.
		{"trial, secondary magic bad", tTrial, tBad, SwapNone},
		{"trial, secondary magic good but image_ok bad", tTrial, tBadOK, SwapNone},
	})
}

func TestStatusSource_Table(t *testing.T) {
	scrGood := spec{magic: MagicGood, swapInfo: int(SwapTest), swapSize: 100}
	scrOther := spec{magic: MagicGood, swapInfo: 0x12, swapSize: 100} // image 1
	cases := []struct {
		name             string
		primary, scratch spec
		want             Source
	}{
		{"row 1: primary good, copy_done set: no swap in progress", tConf, tErased, SourceNone},
		{"row 1 needs scratch not good", tConf, scrGood, SourceScratch},
		{"row 1 with scratch magic bad", tConf, tBad, SourceNone},
		{"row 2: primary good, copy_done unset", tSwapped, tErased, SourcePrimary},
		{"row 2 needs scratch not good", tSwapped, scrGood, SourceScratch},
		{"row 3: scratch good, primary erased", tErased, scrGood, SourceScratch},
		{"row 3: scratch good, primary bad", tBad, scrGood, SourceScratch},
		{"row 3: scratch of another image", tErased, scrOther, SourceNone},
		{"row 4: primary unset, copy_done unset", tErased, tErased, SourcePrimary},
		{"row 4 with scratch bad", tOKOnly, tBad, SourcePrimary},
		{"none: primary bad", tBad, tErased, SourceNone},
		{"none: primary good, copy_done bad", spec{magic: MagicGood, copyDone: 0x02, swapInfo: -1, swapSize: -1}, tErased, SourceNone},
		{"none: primary unset, copy_done set", spec{magic: MagicUnset, copyDone: 1, swapInfo: -1, swapSize: -1}, tErased, SourceNone},
	}
	for _, e := range erasedValues {
		for _, c := range cases {
			if got := StatusSource(decode(t, c.primary, e), decode(t, c.scratch, e)); got != c.want {
				t.Errorf("erased %02X, %s: got %s, want %s", e, c.name, got, c.want)
			}
		}
	}
}

// TestDecision_OnBoard builds the rows' trailers on a board and checks
// what the boot does with them.
func TestDecision_OnBoard(t *testing.T) {
	r := rigs[0]
	t.Run("RowII_SecondaryGoodUnset_Test", func(t *testing.T) {
		b := r.pending(t, Options{})
		res := mustBoot(t, b)
		wantVersion(t, res, "2.0.0")
		if !res.Trial || res.FellBack {
			t.Fatalf("%+v: want a trial boot", res)
		}
		wantTrailer(t, "primary", trailerOf(t, b, Primary), MagicGood, FlagUnset, FlagSet)
		if tr := trailerOf(t, b, Primary); tr.SwapType != SwapTest {
			t.Errorf("primary swap_info %v, want test", tr)
		}
	})
	t.Run("RowIII_SecondaryGoodSet_Perm", func(t *testing.T) {
		b := r.pending(t, Options{Permanent: true})
		if tr := trailerOf(t, b, Secondary); tr.Magic != MagicGood || tr.ImageOK != FlagSet || tr.SwapType != SwapPerm {
			t.Fatalf("secondary after set_pending(permanent): %v", tr)
		}
		res := mustBoot(t, b)
		wantVersion(t, res, "2.0.0")
		if res.Trial || res.FellBack {
			t.Fatalf("%+v: want a permanent boot", res)
		}
		wantTrailer(t, "primary", trailerOf(t, b, Primary), MagicGood, FlagSet, FlagSet)
		wantTrailer(t, "secondary", trailerOf(t, b, Secondary), MagicUnset, FlagUnset, FlagUnset)
		if b.SecurityCounter != 2 {
			t.Errorf("security counter %d after a PERM swap, want 2", b.SecurityCounter)
		}
		wantVersion(t, mustBoot(t, b), "2.0.0")
	})
	t.Run("RowIV_PrimaryGoodUnsetSet_Revert", func(t *testing.T) {
		b := r.pending(t, Options{})
		mustBoot(t, b) // trial, never confirmed
		res := mustBoot(t, b)
		wantVersion(t, res, "1.0.0")
		if res.Trial || !res.FellBack {
			t.Fatalf("%+v: want a fallback", res)
		}
		wantTrailer(t, "primary", trailerOf(t, b, Primary), MagicGood, FlagSet, FlagSet)
		wantTrailer(t, "secondary", trailerOf(t, b, Secondary), MagicUnset, FlagUnset, FlagUnset)
		if h, err := b.VerifySlot(Secondary); err != nil || h.Version.String() != "2.0.0" {
			t.Errorf("secondary after revert: %v %v, want the rejected 2.0.0", h.Version, err)
		}
		res = mustBoot(t, b)
		if res.FellBack || res.Trial {
			t.Fatalf("boot after revert: %+v", res)
		}
	})
	t.Run("None_Confirmed", func(t *testing.T) {
		b := r.pending(t, Options{})
		mustBoot(t, b)
		if err := b.Loader.Confirm(b); err != nil {
			t.Fatal(err)
		}
		wantTrailer(t, "primary", trailerOf(t, b, Primary), MagicGood, FlagSet, FlagSet)
		ops := b.Chip.Ops()
		res := mustBoot(t, b)
		wantVersion(t, res, "2.0.0")
		if res.Trial || res.FellBack || b.Chip.Ops() != ops {
			t.Fatalf("%+v after %d ops: want a plain boot without writes", res, b.Chip.Ops()-ops)
		}
		if b.SecurityCounter != 2 {
			t.Errorf("security counter %d, want 2", b.SecurityCounter)
		}
	})
}
