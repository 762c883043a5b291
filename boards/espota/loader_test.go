package espota_test

import (
	"errors"
	"testing"

	"brickyard/boards"
	"brickyard/boards/boardtest"
	"brickyard/boards/espota"
	"brickyard/boards/image"
	"brickyard/flash"
)

func TestLoader_NameAndSlots(t *testing.T) {
	var l espota.Loader
	if l.Name() != "esp-ota" {
		t.Errorf("Name() = %q", l.Name())
	}
	if s := l.Slots(); len(s) != 2 || s[0] != "ota_0" || s[1] != "ota_1" {
		t.Errorf("Slots() = %q", s)
	}
}

func TestProvision_FirstBootIsNotTrial(t *testing.T) {
	for _, c := range []struct {
		name     string
		s        setup
		slot     string
		sector0  espota.Entry
		bootOps  uint64 // flash operations of the first boot
		erasedS0 bool
	}{
		{"Seq1Valid", defaultSetup, "ota_0", espota.NewEntry(1, espota.StateValid), 0, false},
		{"FactoryStateWritesSeq1OnFirstBoot", setup{writeUnit: 4, erased: 0xFF, opts: espota.Options{FactoryState: true}},
			"ota_0", espota.NewEntry(1, espota.StateValid), 2, false},
		{"FactoryPartitionBootsFactory", setup{writeUnit: 4, erased: 0xFF, factory: true}, "factory", espota.Entry{}, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, _ := espota.New(c.s.opts)
			c0, err := flash.New(c.s.geometry(), nil)
			if err != nil {
				t.Fatal(err)
			}
			b := &boards.Board{ID: boardID, Chip: c0, Layout: c.s.layout(), Loader: l, Keys: boardtest.Keyring()}
			if err := l.Provision(b, c.s.image("1.0.0", 1, 0)); err != nil {
				t.Fatal(err)
			}
			before := b.Chip.Ops()
			r := boot(t, b)
			if r.Slot != c.slot || r.Trial || r.FellBack || r.Bricked || version(r) != "1.0.0" {
				t.Fatalf("first boot %+v, want %s not trial", r, c.slot)
			}
			if got := b.Chip.Ops() - before; got != c.bootOps {
				t.Errorf("first boot: %d flash ops, want %d", got, c.bootOps)
			}
			o := otadata(t, b)
			if c.erasedS0 {
				if o[0].Seq != 0xFFFFFFFF || o[1].Seq != 0xFFFFFFFF {
					t.Errorf("otadata %v, want erased", o)
				}
			} else if o[0] != c.sector0 || o[1].Seq != 0xFFFFFFFF {
				t.Errorf("otadata %v, want sector 0 %v and sector 1 erased", o, c.sector0)
			}
			before = b.Chip.Ops()
			if r := boot(t, b); r.Slot != c.slot || r.Trial || b.Chip.Ops() != before {
				t.Errorf("second boot %+v with %d ops, want %s and no writes", r, b.Chip.Ops()-before, c.slot)
			}
		})
	}
}

func TestProvision_LayoutErrors(t *testing.T) {
	s := defaultSetup
	c, _ := flash.New(s.geometry(), nil)
	for name, l := range map[string]boards.Layout{
		"NoOta1":           s.layout()[:2],
		"OtadataOneSector": {{Name: "otadata", Offset: otadataOff, Size: sector}, s.layout()[1], s.layout()[2]},
	} {
		b := &boards.Board{ID: boardID, Chip: c, Layout: l, Loader: &espota.Loader{}, Keys: boardtest.Keyring()}
		if err := b.Loader.Provision(b, s.image("1.0.0", 1, 0)); err == nil {
			t.Errorf("%s: Provision succeeded", name)
		}
	}
}

func TestWrite_Refusals(t *testing.T) {
	s := defaultSetup
	b := s.board(t)
	img := s.image("2.0.0", 1, 0)
	if err := b.Loader.Write(b, "ota_0", img); !errors.Is(err, boards.ErrSlotRunning) {
		t.Errorf("write running slot: %v, want ErrSlotRunning", err)
	}
	if err := b.Loader.Write(b, "factory", img); !errors.Is(err, boards.ErrNoSuchSlot) {
		t.Errorf("write factory: %v, want ErrNoSuchSlot", err)
	}
	update(t, b, img)
	if r := boot(t, b); !r.Trial || r.Slot != "ota_1" {
		t.Fatalf("trial boot %+v", r)
	}
	ops := b.Chip.Ops()
	if err := b.Loader.Write(b, "ota_0", s.image("3.0.0", 1, 0)); !errors.Is(err, espota.ErrPendingVerify) {
		t.Errorf("write while PENDING_VERIFY: %v, want ErrPendingVerify", err)
	}
	if b.Chip.Ops() != ops {
		t.Error("a refused write touched the flash")
	}
	if err := b.Loader.Confirm(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Loader.Write(b, "ota_0", s.image("3.0.0", 1, 0)); err != nil {
		t.Errorf("write after confirm: %v", err)
	}
	b.PowerCut()
	b.PowerOn()
	if err := b.Loader.Write(b, "ota_0", img); !errors.Is(err, boards.ErrNotRunning) {
		t.Errorf("write while off: %v, want ErrNotRunning", err)
	}
}

func TestActivate_WritesNewEntryIntoOtherSector(t *testing.T) {
	s := defaultSetup
	b := s.board(t)
	if err := b.Loader.Write(b, "ota_1", s.image("2.0.0", 1, 0)); err != nil {
		t.Fatal(err)
	}
	ops := b.Chip.Ops()
	if err := b.Loader.Activate(b, "ota_1"); err != nil {
		t.Fatal(err)
	}
	if n := b.Chip.Ops() - ops; n != 2 {
		t.Errorf("activate: %d ops, want erase + program", n)
	}
	if op := b.Chip.LastOp(); op.Kind != flash.OpProgram || op.Addr != otadataOff+sector || op.Len != espota.EntrySize {
		t.Errorf("last op %+v, want a 32-byte program at sector 1", op)
	}
	o := otadata(t, b)
	if o[0] != espota.NewEntry(1, espota.StateValid) || o[1] != espota.NewEntry(2, espota.StateNew) {
		t.Errorf("otadata %v", o)
	}
}

func TestActivate_RefusesImagesThatDoNotVerify(t *testing.T) {
	s := defaultSetup
	for _, c := range []struct {
		name string
		img  *flash.Blob
		want error
	}{
		{"UntrustedKey", boardtest.Blob(boardtest.Spec{Board: boardID, Version: "2.0.0", PayloadSize: payload, Counter: 1, Key: 1}, 0xFF), image.ErrUnknownKey},
		{"OtherBoard", boardtest.Blob(boardtest.Spec{Board: "other", Version: "2.0.0", PayloadSize: payload, Counter: 1}, 0xFF), image.ErrWrongBoard},
		{"Downgrade", s.image("2.0.0", 0, 0), image.ErrDowngrade},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := s.board(t)
			b.SecurityCounter = 1
			if err := b.Loader.Write(b, "ota_1", c.img); err != nil {
				t.Fatal(err)
			}
			ops := b.Chip.Ops()
			err := b.Loader.Activate(b, "ota_1")
			if !errors.Is(err, espota.ErrValidateFailed) || !errors.Is(err, c.want) {
				t.Errorf("activate: %v, want ErrValidateFailed and %v", err, c.want)
			}
			if b.Chip.Ops() != ops {
				t.Error("a refused activate touched the otadata")
			}
		})
	}
	t.Run("Corrupt", func(t *testing.T) {
		b := s.board(t)
		if err := b.Loader.Write(b, "ota_1", s.image("2.0.0", 1, 0)); err != nil {
			t.Fatal(err)
		}
		corrupt(t, b, ota1Off)
		if err := b.Loader.Activate(b, "ota_1"); !errors.Is(err, image.ErrDigestMismatch) {
			t.Errorf("activate: %v, want ErrDigestMismatch", err)
		}
	})
}

// With no valid entry (factory running), set_boot_partition(ota_k) writes
// seq k+1 into sector 0.
func TestActivate_NoValidEntryWritesSector0(t *testing.T) {
	s := setup{writeUnit: 4, erased: 0xFF, factory: true}
	b := s.board(t)
	if err := b.Loader.Write(b, "ota_1", s.image("2.0.0", 1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := b.Loader.Activate(b, "ota_1"); err != nil {
		t.Fatal(err)
	}
	o := otadata(t, b)
	if o[0] != espota.NewEntry(2, espota.StateNew) || o[1].Seq != 0xFFFFFFFF {
		t.Fatalf("otadata %v, want sector 0 seq 2 NEW", o)
	}
	if r := boot(t, b); r.Slot != "ota_1" || !r.Trial {
		t.Errorf("boot %+v, want trial of ota_1", r)
	}
}

// esp_rewrite_ota_data for the active entry's own slot writes the same seq
// into the other sector; sector 0 keeps winning the tie.
func TestActivate_OwnSlotWritesSameSeq(t *testing.T) {
	s := defaultSetup
	b := s.board(t)
	if err := b.Loader.Activate(b, "ota_0"); err != nil {
		t.Fatal(err)
	}
	o := otadata(t, b)
	if o[0] != espota.NewEntry(1, espota.StateValid) || o[1] != espota.NewEntry(1, espota.StateNew) {
		t.Fatalf("otadata %v, want seq 1 in both sectors", o)
	}
	if r := boot(t, b); r.Slot != "ota_0" || r.Trial || r.FellBack {
		t.Errorf("boot %+v, want ota_0, no trial", r)
	}
}

func TestConfirm_Errors(t *testing.T) {
	b := setup{writeUnit: 4, erased: 0xFF, factory: true}.board(t)
	if err := b.Loader.Confirm(b); !errors.Is(err, espota.ErrNoActiveEntry) {
		t.Errorf("confirm on factory: %v, want ErrNoActiveEntry", err)
	}
	b.Running = nil
	if err := b.Loader.Confirm(b); !errors.Is(err, boards.ErrNotRunning) {
		t.Errorf("confirm while off: %v, want ErrNotRunning", err)
	}
}

// Mark-valid of an entry already VALID writes nothing.
func TestConfirm_ValidIsNoOp(t *testing.T) {
	b := defaultSetup.board(t)
	ops := b.Chip.Ops()
	if err := b.Loader.Confirm(b); err != nil {
		t.Fatal(err)
	}
	if b.Chip.Ops() != ops {
		t.Errorf("confirm of a VALID entry: %d ops", b.Chip.Ops()-ops)
	}
}
