package uboot_test

import (
	"fmt"
	"strings"
	"testing"

	"brickyard/boards"
	"brickyard/boards/boardtest"
	"brickyard/boards/uboot"
	"brickyard/flash"
)

// TestScenario_TrialNeverConfirmed_RollsBackAfterBootlimitPlus1Boots: a
// new image that never confirms runs bootlimit times on trial; boot
// bootlimit+1 runs altbootcmd and is back on the old slot.
func TestScenario_TrialNeverConfirmed_RollsBackAfterBootlimitPlus1Boots(t *testing.T) {
	for _, limit := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("bootlimit=%d", limit), func(t *testing.T) {
			b, l := newBoard(t, uboot.Options{BootLimit: limit})
			update(t, b, blob(spec("2.0.0")))
			for i := 1; i <= limit; i++ {
				r := mustBoot(t, b)
				if r.Slot != uboot.SlotB || !r.Trial || r.FellBack || r.Image.Version.String() != "2.0.0" {
					t.Fatalf("boot %d: %+v, want B on trial", i, r)
				}
				if got := loadEnv(t, l, b).Env.Get(uboot.VarBootCount); got != fmt.Sprint(i) {
					t.Fatalf("boot %d: bootcount=%s on flash", i, got)
				}
			}
			r := mustBoot(t, b)
			if r.Slot != uboot.SlotA || r.Trial || !r.FellBack || r.Image.Version.String() != "1.0.0" {
				t.Fatalf("boot %d: %+v, want A, fell back, not on trial", limit+1, r)
			}
			if !strings.Contains(r.Reason, "altbootcmd") {
				t.Errorf("reason %q does not name altbootcmd", r.Reason)
			}
			env := loadEnv(t, l, b).Env
			if env.Get(uboot.VarUpgradeAvailable) != "0" || env.Get(uboot.VarBootPart) != uboot.SlotA {
				t.Fatalf("env after rollback: %v", env.Vars)
			}
			ops := b.Chip.Ops()
			if r := mustBoot(t, b); r.Slot != uboot.SlotA || r.Trial || r.FellBack {
				t.Fatalf("boot after rollback: %+v, want a stable A", r)
			}
			if b.Chip.Ops() != ops {
				t.Errorf("a stable boot performed %d operations, want none", b.Chip.Ops()-ops)
			}
		})
	}
}

// TestScenario_BadImageInB_NeverBooted: an image in B that does not verify
// is never booted: the trial boot fails, ab_try_to_recover resets (counting
// the attempt), and altbootcmd returns to A within the same Boot.
func TestScenario_BadImageInB_NeverBooted(t *testing.T) {
	good := spec("2.0.0")
	wrongKey, wrongBoard := good, good
	wrongKey.Key = 1
	wrongBoard.Board = "other-board"
	eraseSector := func(n int) func(*testing.T, *boards.Board) {
		return func(t *testing.T, b *boards.Board) {
			if err := b.Chip.Erase(part(t, b, "B").Offset + n*norGeometry.SectorSize); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		img    *flash.Blob
		damage func(*testing.T, *boards.Board)
		reason string
	}{
		{"WronglySigned", blob(wrongKey), nil, "unknown signing key"},
		{"ForAnotherBoard", blob(wrongBoard), nil, "wrong board"},
		{"CorruptedPayload", blob(good), func(t *testing.T, b *boards.Board) { corrupt(t, b, "B", 1000) }, "digest mismatch"},
		{"HalfWritten", blob(good), eraseSector(3), "digest mismatch"},
		{"EmptySlot", nil, nil, "bad magic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, l := newBoard(t, uboot.Options{})
			if tt.img != nil {
				if err := l.Write(b, uboot.SlotB, tt.img); err != nil {
					t.Fatal(err)
				}
			}
			if tt.damage != nil {
				tt.damage(t, b)
			}
			if err := l.Activate(b, uboot.SlotB); err != nil {
				t.Fatal(err)
			}
			r := mustBoot(t, b)
			if r.Slot != uboot.SlotA || r.Trial || !r.FellBack || r.Bricked || r.Image.Version.String() != "1.0.0" {
				t.Fatalf("boot: %+v, want A after altbootcmd", r)
			}
			for _, want := range []string{"slot B: ", tt.reason, "upgrade_available=1: reset", "bootcount 2 > bootlimit 1: altbootcmd"} {
				if !strings.Contains(r.Reason, want) {
					t.Errorf("reason %q lacks %q", r.Reason, want)
				}
			}
			env := loadEnv(t, l, b).Env
			if env.Get(uboot.VarUpgradeAvailable) != "0" || env.Get(uboot.VarBootPart) != uboot.SlotA || env.Get(uboot.VarBootCount) != "2" {
				t.Fatalf("env: %v", env.Vars)
			}
			if r := mustBoot(t, b); r.Slot != uboot.SlotA || r.FellBack || r.Trial {
				t.Fatalf("next boot: %+v", r)
			}
		})
	}
}

// TestScenario_Downgrade_NeverBooted: Confirm raises the board's security
// counter; an image below it is refused like a badly signed one.
func TestScenario_Downgrade_NeverBooted(t *testing.T) {
	b, l := newBoard(t, uboot.Options{})
	v2 := spec("2.0.0")
	v2.Counter = 7
	update(t, b, blob(v2))
	if r := mustBoot(t, b); r.Slot != uboot.SlotB || !r.Trial {
		t.Fatalf("trial: %+v", r)
	}
	if b.SecurityCounter != 0 {
		t.Fatalf("security counter raised to %d before Confirm", b.SecurityCounter)
	}
	if err := l.Confirm(b); err != nil {
		t.Fatal(err)
	}
	if b.SecurityCounter != 7 {
		t.Fatalf("security counter %d after Confirm, want 7", b.SecurityCounter)
	}
	mustBoot(t, b)
	if err := l.Write(b, uboot.SlotA, blob(spec("1.5.0"))); err != nil { // counter 0
		t.Fatal(err)
	}
	if err := l.Activate(b, uboot.SlotA); err != nil {
		t.Fatal(err)
	}
	r := mustBoot(t, b)
	if r.Slot != uboot.SlotB || !r.FellBack || !strings.Contains(r.Reason, "security counter too low") {
		t.Fatalf("boot: %+v, want B after refusing the downgrade in A", r)
	}
}

// TestScenario_BothSlotsBad_Bricked: when the slot altbootcmd switches to
// does not verify either, upgrade_available is 0 and U-Boot stops.
func TestScenario_BothSlotsBad_Bricked(t *testing.T) {
	b, _ := newBoard(t, uboot.Options{})
	update(t, b, blob(boardtest.Spec{Board: boardID, Version: "2.0.0", PayloadSize: payloadSize, Key: 1}))
	corrupt(t, b, "A", 2000)
	r := mustBoot(t, b)
	if !r.Bricked || r.Slot != "" || b.Running != nil {
		t.Fatalf("boot: %+v, want Bricked", r)
	}
	t.Logf("reason: %s", r.Reason)
	for _, want := range []string{"slot B: ", "altbootcmd", "slot A: ", "digest mismatch", "stays at its prompt"} {
		if !strings.Contains(r.Reason, want) {
			t.Errorf("reason %q lacks %q", r.Reason, want)
		}
	}
}

// TestScenario_StableSlotBad_BrickedWithoutFallback: outside a trial a bad
// image is not replaced by the other slot: ab_try_to_recover only resets
// when upgrade_available=1.
func TestScenario_StableSlotBad_BrickedWithoutFallback(t *testing.T) {
	b, l := newBoard(t, uboot.Options{})
	if err := l.Write(b, uboot.SlotB, blob(spec("2.0.0"))); err != nil { // a good image, not activated
		t.Fatal(err)
	}
	corrupt(t, b, "A", 2000)
	ops := b.Chip.Ops()
	r := mustBoot(t, b)
	if !r.Bricked || !strings.Contains(r.Reason, "upgrade_available=0") {
		t.Fatalf("boot: %+v, want Bricked at the prompt", r)
	}
	if b.Chip.Ops() != ops {
		t.Errorf("a failed stable boot wrote the flash")
	}
}

// TestScenario_CutBetweenSaveSteps_Copy1Wins: a save cut after the new
// copy is written and before the old one is marked OBSOLETE leaves both
// ACTIVE, and U-Boot takes copy 1, older or newer.
func TestScenario_CutBetweenSaveSteps_Copy1Wins(t *testing.T) {
	tests := []struct {
		name      string
		inUse     uboot.Copy // copy holding the env before Activate
		wantSlot  string
		wantTrial bool
	}{
		// Activate writes copy 2: copy 1, the older, wins; the update is lost.
		{"NewInCopy2_OlderCopy1Wins_ActivationLost", uboot.Copy1, uboot.SlotA, false},
		// Activate writes copy 1: copy 1, the newer, wins; the trial runs.
		{"NewInCopy1_NewerCopy1Wins_TrialRuns", uboot.Copy2, uboot.SlotB, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, l := newBoard(t, uboot.Options{})
			if err := l.Write(b, uboot.SlotB, blob(spec("2.0.0"))); err != nil {
				t.Fatal(err)
			}
			if loadEnv(t, l, b).Copy != tt.inUse {
				// Move the env to the other copy: with the board off (no
				// running slot), activate A's own image, boot it on trial
				// and confirm it: three saves.
				b.PowerCut()
				b.PowerOn()
				if err := l.Activate(b, uboot.SlotA); err != nil {
					t.Fatal(err)
				}
				if r := mustBoot(t, b); r.Slot != uboot.SlotA || !r.Trial {
					t.Fatalf("boot: %+v", r)
				}
				if err := l.Confirm(b); err != nil {
					t.Fatal(err)
				}
				mustBoot(t, b)
			}
			if got := loadEnv(t, l, b).Copy; got != tt.inUse {
				t.Fatalf("env in %v, want %v", got, tt.inUse)
			}
			activateCutBeforeFlag(t, b, uboot.SlotB)
			sel := loadEnv(t, l, b)
			if sel.Flags != [2]byte{uboot.FlagActive, uboot.FlagActive} || sel.Errs != [2]error{} || sel.Copy != uboot.Copy1 {
				t.Fatalf("after the cut: copy %v, flags %v, errs %v; want both good and ACTIVE, copy 1", sel.Copy, sel.Flags, sel.Errs)
			}
			r := mustBoot(t, b)
			if r.Slot != tt.wantSlot || r.Trial != tt.wantTrial || r.FellBack {
				t.Fatalf("boot: %+v, want slot %s trial %v", r, tt.wantSlot, tt.wantTrial)
			}
		})
	}
}

// TestScenario_BothCopiesCorrupted_DefaultEnvBootsA: with neither copy
// good U-Boot uses its compiled-in environment: boot_part=A, not on trial,
// whatever was running; ab_setup's canary then saves it to copy 1.
func TestScenario_BothCopiesCorrupted_DefaultEnvBootsA(t *testing.T) {
	b, l := newBoard(t, uboot.Options{})
	update(t, b, blob(spec("2.0.0")))
	mustBoot(t, b)
	if err := l.Confirm(b); err != nil {
		t.Fatal(err)
	}
	if r := mustBoot(t, b); r.Slot != uboot.SlotB || r.Trial {
		t.Fatalf("before corruption: %+v, want a stable B", r)
	}
	corrupt(t, b, "env1", envSize-1)
	corrupt(t, b, "env2", envSize-1)
	if sel := loadEnv(t, l, b); sel.Copy != uboot.CopyNone {
		t.Fatalf("corrupted env still selects %v", sel.Copy)
	}

	r := mustBoot(t, b)
	if r.Slot != uboot.SlotA || r.Trial || r.Image.Version.String() != "1.0.0" {
		t.Fatalf("boot: %+v, want the old image in A (uncontrolled switch)", r)
	}
	t.Logf("reason: %s", r.Reason)
	if !strings.Contains(r.Reason, "using default environment") {
		t.Errorf("reason %q does not say the default environment was used", r.Reason)
	}
	sel := loadEnv(t, l, b)
	want := l.DefaultEnv().Clone()
	want.Vars[uboot.VarCanary] = "1"
	want.Vars[uboot.VarBootCount] = "1" // bootcount_inc's RAM value, saved with the canary
	if sel.Copy != uboot.Copy1 || fmt.Sprint(sel.Env.Vars) != fmt.Sprint(want.Vars) {
		t.Fatalf("after the boot: %v holds %v, want copy 1 holding %v", sel.Copy, sel.Env.Vars, want.Vars)
	}

	t.Run("AInvalid_Bricked", func(t *testing.T) {
		b, _ := newBoard(t, uboot.Options{})
		corrupt(t, b, "env1", envSize-1)
		corrupt(t, b, "env2", envSize-1)
		corrupt(t, b, "A", 3000)
		if r := mustBoot(t, b); !r.Bricked {
			t.Fatalf("boot: %+v, want Bricked", r)
		}
	})
}

// TestScenario_BootlimitZeroBadImage_BootLoopBricked: with bootlimit=0
// (set by hand; Options cannot) altbootcmd never runs, so a bad trial image
// resets forever; the model stops and reports the loop.
func TestScenario_BootlimitZeroBadImage_BootLoopBricked(t *testing.T) {
	b, l := newBoard(t, uboot.Options{})
	env := loadEnv(t, l, b).Env.Clone()
	env.Vars["bootlimit"], env.Vars["boot_part"], env.Vars["upgrade_available"] = "0", "B", "1"
	env.Flags = uboot.FlagActive
	c, err := env.Encode(envSize)
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, b, "env1", c)
	corrupt(t, b, "env2", envSize-1)
	r := mustBoot(t, b)
	if !r.Bricked || !strings.Contains(r.Reason, "boot loop") {
		t.Fatalf("boot: %+v", r)
	}
	t.Logf("reason: %s", r.Reason)
	if got := loadEnv(t, l, b).Env.Get("bootcount"); got != "1024" {
		t.Errorf("bootcount %s after the loop, want 1024 (one per run)", got)
	}
}
