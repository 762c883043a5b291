package espota_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"brickyard/boards"
	"brickyard/boards/espota"
	"brickyard/boards/image"
	"brickyard/flash"
)

func TestBoot_TrialConfirmed(t *testing.T) {
	s := defaultSetup
	b := s.board(t)
	update(t, b, s.image("2.0.0", 5, 0))
	r := boot(t, b)
	if r.Slot != "ota_1" || !r.Trial || r.FellBack || version(r) != "2.0.0" {
		t.Fatalf("trial boot %+v", r)
	}
	if o := otadata(t, b); o[1] != espota.NewEntry(2, espota.StatePendingVerify) {
		t.Fatalf("after trial boot otadata %v, want sector 1 PENDING_VERIFY", o)
	}
	ops := b.Chip.Ops()
	if err := b.Loader.Confirm(b); err != nil {
		t.Fatal(err)
	}
	if n := b.Chip.Ops() - ops; n != 2 {
		t.Errorf("confirm: %d ops, want erase + program of the active sector", n)
	}
	if op := b.Chip.LastOp(); op.Addr != otadataOff+sector {
		t.Errorf("confirm wrote at 0x%x, want the active sector 0x%x", op.Addr, otadataOff+sector)
	}
	if b.SecurityCounter != 5 || b.Running.Trial {
		t.Errorf("after confirm: counter %d, running %+v", b.SecurityCounter, b.Running)
	}
	if o := otadata(t, b); o[0] != espota.NewEntry(1, espota.StateValid) || o[1] != espota.NewEntry(2, espota.StateValid) {
		t.Fatalf("after confirm otadata %v", o)
	}
	ops = b.Chip.Ops()
	if r := boot(t, b); r.Slot != "ota_1" || r.Trial || r.FellBack || b.Chip.Ops() != ops {
		t.Errorf("boot after confirm %+v (%d ops)", r, b.Chip.Ops()-ops)
	}
	// The next update goes the other way: ota_0, seq 3, sector 0.
	if err := b.Loader.Write(b, "ota_0", s.image("3.0.0", 5, 0)); err != nil {
		t.Fatal(err)
	}
	if err := b.Loader.Activate(b, "ota_0"); err != nil {
		t.Fatal(err)
	}
	if o := otadata(t, b); o[0] != espota.NewEntry(3, espota.StateNew) {
		t.Fatalf("second activate otadata %v, want sector 0 seq 3 NEW", o)
	}
	if r := boot(t, b); r.Slot != "ota_0" || !r.Trial || version(r) != "3.0.0" {
		t.Errorf("second trial %+v", r)
	}
}

// ESP gives the new app exactly one boot: a reset before Confirm, a power
// cut during the trial, or an app that never confirms all roll back.
func TestBoot_UnconfirmedTrialIsAborted(t *testing.T) {
	s := defaultSetup
	for _, c := range []struct {
		name  string
		img   *flash.Blob
		reset func(*testing.T, *boards.Board)
	}{
		{"Reset", s.image("2.0.0", 1, 0), func(*testing.T, *boards.Board) {}},
		{"PowerCutDuringTrial", s.image("2.0.0", 1, 0), func(_ *testing.T, b *boards.Board) { b.PowerCut(); b.PowerOn() }},
		{"HealthFailNeverConfirms", s.image("2.0.0", 1, image.FlagHealthFail), func(*testing.T, *boards.Board) {}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := s.board(t)
			update(t, b, c.img)
			if r := boot(t, b); !r.Trial || r.Slot != "ota_1" {
				t.Fatalf("trial boot %+v", r)
			}
			c.reset(t, b)
			r := boot(t, b)
			if r.Slot != "ota_0" || r.Trial || !r.FellBack || version(r) != "1.0.0" || !strings.Contains(r.Reason, "ABORTED") {
				t.Fatalf("boot after the trial %+v, want rollback to ota_0", r)
			}
			if o := otadata(t, b); o[1].State != espota.StateAborted || o[1].Seq != 2 {
				t.Errorf("otadata %v, want sector 1 ABORTED", o)
			}
			if r := boot(t, b); r.Slot != "ota_0" || r.Trial {
				t.Errorf("later boot %+v", r)
			}
			// Once rolled back the old app may update again.
			update(t, b, s.image("2.1.0", 1, 0))
			if r := boot(t, b); !r.Trial || version(r) != "2.1.0" {
				t.Errorf("retry %+v", r)
			}
		})
	}
}

// A corrupt image is never booted: the bootloader falls back, and the
// never-started entry is aborted on the next boot.
func TestBoot_CorruptImageNeverBooted(t *testing.T) {
	s := defaultSetup
	b := s.board(t)
	update(t, b, s.image("2.0.0", 1, 0))
	corrupt(t, b, ota1Off)
	r := boot(t, b)
	if r.Slot != "ota_0" || r.Trial || !r.FellBack || !strings.Contains(r.Reason, "ota_1 is not bootable") {
		t.Fatalf("boot %+v, want fallback to ota_0", r)
	}
	if r := boot(t, b); r.Slot != "ota_0" || r.Trial {
		t.Fatalf("second boot %+v", r)
	}
	if o := otadata(t, b); o[1].State != espota.StateAborted {
		t.Errorf("otadata %v, want sector 1 ABORTED", o)
	}
}

// An image below the security counter fails verification at load time:
// the bootloader falls back, and bricks when nothing is left.
func TestBoot_BelowSecurityCounterNeverBooted(t *testing.T) {
	s := defaultSetup
	b := s.board(t)
	update(t, b, s.image("2.0.0", 0, 0))
	b.SecurityCounter = 1
	if r := boot(t, b); r.Slot != "ota_0" || !r.FellBack || r.Trial || !strings.Contains(r.Reason, "security counter") {
		t.Fatalf("boot %+v, want fallback to ota_0", r)
	}
	b.SecurityCounter = 2
	if r := boot(t, b); !r.Bricked || b.Running != nil {
		t.Fatalf("boot %+v, want bricked: both images below the counter", r)
	}
}

func TestBoot_NothingVerifiesBricks(t *testing.T) {
	for _, s := range []setup{defaultSetup, {writeUnit: 4, erased: 0xFF, factory: true}} {
		b := s.board(t)
		for _, off := range []int{ota0Off, ota1Off, factoryOff} {
			if err := b.Chip.Erase(off); err != nil {
				t.Fatal(err)
			}
		}
		r := boot(t, b)
		if !r.Bricked || r.Slot != "" || !strings.Contains(r.Reason, "no bootable app") {
			t.Errorf("factory=%v: boot %+v, want bricked", s.factory, r)
		}
	}
}

// The CRC covers the seq only: a torn state write with any value other
// than INVALID or ABORTED is selectable and boots without a trial.
func TestBoot_TornStateIsSelectable(t *testing.T) {
	s := defaultSetup
	b := s.board(t)
	update(t, b, s.image("2.0.0", 1, 0))
	putEntry(t, b, 1, espota.NewEntry(2, espota.State(0x0000FF01)))
	r := boot(t, b)
	if r.Slot != "ota_1" || r.Trial || r.FellBack {
		t.Fatalf("boot %+v, want ota_1 without trial", r)
	}
}

// SeqCRC(0) = 0xFFFFFFFF: an entry with seq bytes 0 and state and crc
// bytes erased (a half-erased sector) is valid and selects ota_1.
func TestBoot_SeqZeroEntrySelectsOTA1(t *testing.T) {
	s := setup{writeUnit: 4, erased: 0xFF, factory: true}
	b := s.board(t)
	if err := b.Loader.Write(b, "ota_1", s.image("2.0.0", 1, 0)); err != nil {
		t.Fatal(err)
	}
	half := espota.NewEntry(0, espota.StateUndefined)
	if half.CRC != 0xFFFFFFFF {
		t.Fatalf("SeqCRC(0) = 0x%08x", half.CRC)
	}
	putEntry(t, b, 0, half)
	if r := boot(t, b); r.Slot != "ota_1" || r.Trial || r.FellBack {
		t.Fatalf("boot %+v, want ota_1 (never activated) without trial", r)
	}
}

// A cut in the bootloader's NEW→PENDING_VERIFY rewrite: before the erase
// the update stays pending; after it the update is dropped silently.
func TestBoot_CutInNewToPendingRewrite(t *testing.T) {
	s := defaultSetup
	for _, c := range []struct {
		name    string
		op      uint64 // 0 erase, 1 program
		mode    flash.CutMode
		trial   bool
		version string
	}{
		{"BeforeEraseRetries", 0, flash.CutBefore, true, "2.0.0"},
		{"AfterEraseDropsUpdate", 0, flash.CutAfter, false, "1.0.0"},
		{"BeforeProgramDropsUpdate", 1, flash.CutBefore, false, "1.0.0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := s.board(t)
			update(t, b, s.image("2.0.0", 1, 0))
			if err := b.Chip.ArmCut(b.Chip.Ops()+c.op, c.mode, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Loader.Boot(b); !errors.Is(err, flash.ErrPowerLost) {
				t.Fatalf("boot: %v, want power lost", err)
			}
			b.PowerOn()
			r := boot(t, b)
			if r.Trial != c.trial || version(r) != c.version || r.FellBack {
				t.Errorf("boot %+v, want trial %v of %s, no fallback reported", r, c.trial, c.version)
			}
		})
	}
}

// The documented hazard: mark-valid rewrites the active sector in place; a
// cut after its erase rolls back to the previous app although the new one
// was healthy and confirming. Nothing reports a fallback.
func TestConfirm_CutAfterEraseRollsBack(t *testing.T) {
	s := defaultSetup
	for _, c := range []struct {
		name string
		op   uint64
		mode flash.CutMode
	}{
		{"AfterErase", 0, flash.CutAfter},
		{"BeforeProgram", 1, flash.CutBefore},
		{"TornErase", 0, flash.CutTorn},
		{"TornProgram", 1, flash.CutTorn},
	} {
		t.Run(c.name, func(t *testing.T) {
			for seed := range uint64(8) {
				b := s.board(t)
				update(t, b, s.image("2.0.0", 7, 0))
				if r := boot(t, b); !r.Trial {
					t.Fatalf("trial boot %+v", r)
				}
				if err := b.Chip.ArmCut(b.Chip.Ops()+c.op, c.mode, rand.New(rand.NewPCG(seed, 0))); err != nil {
					t.Fatal(err)
				}
				if err := b.Loader.Confirm(b); !errors.Is(err, flash.ErrPowerLost) {
					t.Fatalf("confirm: %v, want power lost", err)
				}
				if b.SecurityCounter != 0 {
					t.Errorf("counter raised to %d by a confirm that did not complete", b.SecurityCounter)
				}
				b.PowerOn()
				if o := otadata(t, b); o[1].Valid() && o[1].Seq == 2 && o[1].State != espota.StatePendingVerify {
					t.Fatalf("seed %d: sector 1 still selectable: %v", seed, o[1])
				}
				r := boot(t, b)
				if r.Slot != "ota_0" || version(r) != "1.0.0" || r.Trial {
					t.Fatalf("seed %d: boot %+v, want the previous app", seed, r)
				}
			}
		})
	}
}
