package mcuboot

import (
	"errors"
	"testing"

	"brickyard/boards"
	"brickyard/boards/boardtest"
	"brickyard/flash"
)

// TestHazard_PermCutBeforeImageOK_DegradesToTest: set_pending(permanent)
// writes magic, image_ok, swap_info; power lost before image_ok leaves a
// test request. The new image boots on trial and, unconfirmed, is
// reverted; activating again does not restore the permanent request.
func TestHazard_PermCutBeforeImageOK_DegradesToTest(t *testing.T) {
	for _, r := range rigs[:4] {
		for _, mode := range []flash.CutMode{flash.CutBefore, flash.CutTorn} {
			b := r.board(t, Options{Permanent: true})
			if err := b.Loader.Write(b, Secondary, r.image("2.0.0", 2)); err != nil {
				t.Fatal(err)
			}
			magicOp := b.Chip.Ops()
			if err := b.Chip.ArmCut(magicOp+1, mode, newRand(1)); err != nil {
				t.Fatal(err)
			}
			err := b.Loader.Activate(b, Secondary)
			if !isPowerLost(err) {
				t.Fatalf("%v: activate: %v, want power lost at image_ok", r, err)
			}
			if op := b.Chip.LastOp(); op.Addr != 0x30000-fromEndImageOK {
				t.Fatalf("%v: the cut hit %+v, not image_ok", r, op)
			}
			b.PowerOn()
			sec := trailerOf(t, b, Secondary)
			if mode == flash.CutTorn && sec.ImageOK != FlagUnset {
				// A torn image_ok decodes BAD (or SET if all its bits landed):
				// no test; that case is the next test's.
				continue
			}
			if sec.Magic != MagicGood || sec.ImageOK != FlagUnset {
				t.Fatalf("%v: secondary after the cut: %v", r, sec)
			}
			ops := b.Chip.Ops()
			if err := b.Loader.Activate(b, Secondary); err != nil || b.Chip.Ops() != ops {
				t.Fatalf("%v: activating again: %v, %d writes; want none (magic is GOOD)", r, err, b.Chip.Ops()-ops)
			}
			res := mustBoot(t, b)
			wantVersion(t, res, "2.0.0")
			if !res.Trial {
				t.Fatalf("%v: %+v: a degraded request must boot on trial", r, res)
			}
			if b.SecurityCounter != 1 {
				t.Errorf("%v: counter raised to %d on a trial boot", r, b.SecurityCounter)
			}
			res = mustBoot(t, b)
			wantVersion(t, res, "1.0.0")
			if !res.FellBack {
				t.Fatalf("%v: %+v: want the revert", r, res)
			}
		}
	}
}

// TestHazard_PermTornImageOK_NeverSwaps: a torn image_ok that decodes BAD
// matches neither row II nor III; the request stays on flash and is
// ignored until a new upload.
func TestHazard_PermTornImageOK_NeverSwaps(t *testing.T) {
	r := rigs[0]
	b := r.board(t, Options{Permanent: true})
	if err := b.Loader.Write(b, Secondary, r.image("2.0.0", 2)); err != nil {
		t.Fatal(err)
	}
	p, _ := b.Layout.Get(Secondary)
	if err := b.Chip.Program(p.End()-fromEndMagic, Magic[:]); err != nil {
		t.Fatal(err)
	}
	if err := b.Chip.Program(p.End()-fromEndImageOK, []byte{0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}); err != nil {
		t.Fatal(err)
	}
	res := mustBoot(t, b)
	wantVersion(t, res, "1.0.0")
	if res.FellBack || res.Trial {
		t.Fatalf("%+v", res)
	}
	if tr := trailerOf(t, b, Secondary); tr.Magic != MagicGood || tr.ImageOK != FlagBad {
		t.Fatalf("secondary: %v", tr)
	}
}

// corrupt returns a copy of img with one payload bit flipped.
func corrupt(img []byte) []byte {
	c := append([]byte(nil), img...)
	c[200] ^= 0x10
	return c
}

// TestHazard_InvalidSecondary_NeverBootedAndErased: a requested image that
// fails verification is never swapped in; the secondary slot is erased
// and primary image_ok set, so the next boot does not try again.
func TestHazard_InvalidSecondary_NeverBootedAndErased(t *testing.T) {
	for _, r := range []rig{rigs[0], rigs[3], rigs[4]} {
		spec := boardtest.Spec{Board: testBoard, Version: "2.0.0", PayloadSize: r.payload, Counter: 2}
		bad := map[string][]byte{
			"corrupt":         corrupt(boardtest.Image(spec)),
			"untrusted key":   boardtest.Image(boardtest.Spec{Board: testBoard, Version: "2.0.0", PayloadSize: r.payload, Counter: 2, Key: 1}),
			"wrong board":     boardtest.Image(boardtest.Spec{Board: "other", Version: "2.0.0", PayloadSize: r.payload, Counter: 2}),
			"counter too low": boardtest.Image(boardtest.Spec{Board: testBoard, Version: "2.0.0", PayloadSize: r.payload, Counter: 0}),
			"no image":        nil,
		}
		for name, img := range bad {
			for _, perm := range []bool{false, true} {
				b := r.board(t, Options{Permanent: perm})
				b.SecurityCounter = 1
				// Forget the factory confirmation (WriteImage erases the
				// trailer too) so that the model's own image_ok write shows.
				pp, _ := b.Layout.Get(Primary)
				if err := boards.WriteImage(b.Chip, pp, r.image("1.0.0", 1)); err != nil {
					t.Fatal(err)
				}
				if img != nil {
					if err := b.Loader.Write(b, Secondary, flash.NewBlob(img, r.erased)); err != nil {
						t.Fatal(err)
					}
				}
				if err := b.Loader.Activate(b, Secondary); err != nil {
					t.Fatal(err)
				}
				res := mustBoot(t, b)
				wantVersion(t, res, "1.0.0")
				if !res.FellBack || res.Trial || res.Reason == "" {
					t.Fatalf("%v %s: %+v: want a fallback with a reason", r, name, res)
				}
				sp, _ := b.Layout.Get(Secondary)
				from := 0
				if img == nil {
					from = sp.Size - 0x1000 // an empty slot only loses its trailer sector
				}
				if sec := slotBytes(t, b, Secondary)[from:]; !allErased(sec, r.erased) {
					t.Errorf("%v %s: secondary not erased", r, name)
				}
				if tr := trailerOf(t, b, Primary); tr.ImageOK != FlagSet {
					t.Errorf("%v %s: primary %v: image_ok not set", r, name, tr)
				}
				ops := b.Chip.Ops()
				res = mustBoot(t, b)
				wantVersion(t, res, "1.0.0")
				if res.FellBack || b.Chip.Ops() != ops {
					t.Errorf("%v %s: second boot %+v with %d writes: the request was retried", r, name, res, b.Chip.Ops()-ops)
				}
			}
		}
	}
}

// TestHazard_InvalidRevertTarget_KeepsTestImage: a revert whose target no
// longer verifies is refused like any request: the target is erased and
// primary image_ok set, so the test image stays for good.
func TestHazard_InvalidRevertTarget_KeepsTestImage(t *testing.T) {
	r := rigs[2] // NOR: the test corrupts programmed bytes in place
	b := r.pending(t, Options{})
	mustBoot(t, b) // trial of 2.0.0; secondary now holds 1.0.0
	sp, _ := b.Layout.Get(Secondary)
	if err := b.Chip.Program(sp.Offset+256, make([]byte, 8)); err != nil { // corrupt 1.0.0's payload
		t.Fatal(err)
	}
	res := mustBoot(t, b)
	wantVersion(t, res, "2.0.0")
	if res.Trial || res.FellBack || res.Reason == "" {
		t.Fatalf("%+v: want 2.0.0 kept, with a reason", res)
	}
	wantTrailer(t, "primary", trailerOf(t, b, Primary), MagicGood, FlagSet, FlagSet)
	if !allErased(slotBytes(t, b, Secondary), r.erased) {
		t.Error("the invalid revert target was not erased")
	}
}

// TestBoot_InvalidPrimary_Bricked: MCUboot does not boot a primary that
// fails validation and has nothing to fall back to.
func TestBoot_InvalidPrimary_Bricked(t *testing.T) {
	r := rigs[0]
	b := r.board(t, Options{})
	pp, _ := b.Layout.Get(Primary)
	if err := b.Chip.Erase(pp.Offset); err != nil {
		t.Fatal(err)
	}
	res, err := b.Loader.Boot(b)
	if err != nil || !res.Bricked || res.Reason == "" || b.Running != nil {
		t.Fatalf("%+v, %v: want bricked with a reason", res, err)
	}
}

func TestWrite_Refusals(t *testing.T) {
	r := rigs[0]
	b := r.board(t, Options{})
	img := r.image("2.0.0", 2)
	if err := b.Loader.Write(b, Primary, img); !errors.Is(err, boards.ErrSlotRunning) {
		t.Errorf("write primary: %v", err)
	}
	if err := b.Loader.Write(b, Scratch, img); !errors.Is(err, boards.ErrNoSuchSlot) {
		t.Errorf("write scratch: %v", err)
	}
	if err := b.Loader.Activate(b, Primary); !errors.Is(err, boards.ErrSlotRunning) {
		t.Errorf("activate primary: %v", err)
	}
	big := boardtest.Blob(boardtest.Spec{Board: testBoard, Version: "2.0.0", PayloadSize: 0x10000 - 432 - 64 - 96 + 8}, r.erased)
	if err := b.Loader.Write(b, Secondary, big); !errors.Is(err, boards.ErrTooLarge) {
		t.Errorf("write %d bytes: %v", big.Len(), err)
	}
	fits := boardtest.Blob(boardtest.Spec{Board: testBoard, Version: "2.0.0", PayloadSize: 0x10000 - 432 - 64 - 96, Counter: 2}, r.erased)
	if err := b.Loader.Write(b, Secondary, fits); err != nil {
		t.Errorf("write %d bytes: %v", fits.Len(), err)
	}
	if err := b.Loader.Activate(b, Secondary); err != nil {
		t.Fatal(err)
	}
	if res := mustBoot(t, b); !res.Trial {
		t.Fatalf("%+v", res)
	}
	if err := b.Loader.Write(b, Secondary, img); !errors.Is(err, ErrRevertTarget) {
		t.Errorf("write during trial: %v", err)
	}
	b.Running = nil
	if err := b.Loader.Confirm(b); !errors.Is(err, boards.ErrNotRunning) {
		t.Errorf("confirm while off: %v", err)
	}
}

func TestActivate_BadMagic_ErasesSlot(t *testing.T) {
	r := rigs[2]
	b := r.board(t, Options{})
	if err := b.Loader.Write(b, Secondary, r.image("2.0.0", 2)); err != nil {
		t.Fatal(err)
	}
	sp, _ := b.Layout.Get(Secondary)
	if err := b.Chip.Program(sp.End()-4, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Loader.Activate(b, Secondary); !errors.Is(err, ErrBadMagic) {
		t.Fatalf("activate: %v", err)
	}
	if !allErased(slotBytes(t, b, Secondary), r.erased) {
		t.Fatal("secondary not erased")
	}
}

func TestConfig_Errors(t *testing.T) {
	if _, err := New(Options{MaxImageSectors: -1}); err == nil {
		t.Error("negative MaxImageSectors accepted")
	}
	try := func(name string, g flash.Geometry, layout boards.Layout, opts Options) {
		t.Helper()
		c, err := flash.New(g, nil)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := New(opts)
		b := &boards.Board{ID: testBoard, Chip: c, Layout: layout, Loader: l, Keys: boardtest.Keyring()}
		if _, err := l.Boot(b); err == nil {
			t.Errorf("%s: booted", name)
		}
		if err := l.Provision(b, rigs[0].image("1.0.0", 1)); err == nil {
			t.Errorf("%s: provisioned", name)
		}
	}
	r := rigs[0]
	g := r.geometry()
	g16 := g
	g16.WriteUnit = 16
	try("write unit 16", g16, r.layout(), Options{})
	try("fewer max sectors than the slot has", g, r.layout(), Options{MaxImageSectors: 8})
	try("trailer larger than a sector", g, r.layout(), Options{MaxImageSectors: 200})
	noScratch := r.layout()[:3]
	try("no scratch", g, noScratch, Options{})
	uneven := r.layout()
	uneven[2].Size = 0x8000
	try("unequal slots", g, uneven, Options{})
	if l, _ := New(Options{MaxImageSectors: 128}); l.Options().MaxImageSectors != 128 {
		t.Error("options not kept")
	}
	// BOOT_MAX_IMG_SECTORS 128 with W = 8: 3120-byte trailer, fits 4 KiB.
	l, _ := New(Options{MaxImageSectors: 128})
	b, err := boardtest.Board(testBoard, g, r.layout(), l, r.image("1.0.0", 1))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := l.areas(b)
	if a.trailer != 3120 {
		t.Errorf("trailer %d, want 3120", a.trailer)
	}
}

// TestProvision_ConfirmedTrailer_BootsNone: the factory state is the image
// in primary with a confirmed trailer (GOOD, image_ok SET, copy_done SET),
// secondary and scratch erased; its boots write nothing and are not trials,
// and Confirm on it writes nothing.
func TestProvision_ConfirmedTrailer_BootsNone(t *testing.T) {
	for _, r := range rigs[:4] {
		b := r.board(t, Options{})
		wantTrailer(t, "primary", trailerOf(t, b, Primary), MagicGood, FlagSet, FlagSet)
		for _, p := range []string{Secondary, Scratch} {
			if !allErased(slotBytes(t, b, p), r.erased) {
				t.Errorf("%v: %s not erased", r, p)
			}
		}
		ops := b.Chip.Ops()
		res := mustBoot(t, b)
		wantVersion(t, res, "1.0.0")
		if res.Trial || res.FellBack || res.Reason != "" {
			t.Errorf("%v: %+v", r, res)
		}
		if err := b.Loader.Confirm(b); err != nil {
			t.Fatal(err)
		}
		if b.Chip.Ops() != ops {
			t.Errorf("%v: %d writes on a stable board", r, b.Chip.Ops()-ops)
		}
	}
}
