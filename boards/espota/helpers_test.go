package espota_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"brickyard/boards"
	"brickyard/boards/boardtest"
	"brickyard/boards/espota"
	"brickyard/flash"
)

const (
	boardID  = "esp-test"
	sector   = 4 << 10
	slotSize = 64 << 10
	payload  = 20 << 10

	otadataOff = 0x4000
	ota0Off    = 0x10000
	ota1Off    = 0x20000
	factoryOff = 0x30000
)

// setup describes a test board.
type setup struct {
	writeUnit int
	erased    byte
	factory   bool // layout has a factory partition
	opts      espota.Options
}

var defaultSetup = setup{writeUnit: 4, erased: 0xFF}

func (s setup) geometry() flash.Geometry {
	return flash.Geometry{Size: 256 << 10, SectorSize: sector, WriteUnit: s.writeUnit, Erased: s.erased}
}

func (s setup) layout() boards.Layout {
	l := boards.Layout{
		{Name: "otadata", Offset: otadataOff, Size: 2 * sector},
		{Name: "ota_0", Offset: ota0Off, Size: slotSize},
		{Name: "ota_1", Offset: ota1Off, Size: slotSize},
	}
	if s.factory {
		l = append(l, boards.Partition{Name: "factory", Offset: factoryOff, Size: slotSize})
	}
	return l
}

// image is a signed test image for the board.
func (s setup) image(version string, counter uint32, flags uint32) *flash.Blob {
	return boardtest.Blob(boardtest.Spec{Board: boardID, Version: version, PayloadSize: payload, Counter: counter, Flags: flags}, s.erased)
}

// board is a provisioned board running version 1.0.0, booted once.
func (s setup) board(t testing.TB) *boards.Board {
	t.Helper()
	l, err := espota.New(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := boardtest.Board(boardID, s.geometry(), s.layout(), l, s.image("1.0.0", 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func otadata(t testing.TB, b *boards.Board) espota.Otadata {
	t.Helper()
	buf := make([]byte, 2*sector)
	if err := b.Chip.Read(otadataOff, buf); err != nil {
		t.Fatal(err)
	}
	o, err := espota.ParseOtadata(buf, sector)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// putEntry erases otadata sector i and programs e there.
func putEntry(t testing.TB, b *boards.Board, i int, e espota.Entry) {
	t.Helper()
	if err := b.Chip.Erase(otadataOff + i*sector); err != nil {
		t.Fatal(err)
	}
	if err := b.Chip.Program(otadataOff+i*sector, e.Encode()); err != nil {
		t.Fatal(err)
	}
}

func boot(t testing.TB, b *boards.Board) boards.Boot {
	t.Helper()
	r, err := b.Loader.Boot(b)
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	return r
}

func version(r boards.Boot) string { return r.Image.Version.String() }

// update writes img into ota_1 and activates it.
func update(t testing.TB, b *boards.Board, img *flash.Blob) {
	t.Helper()
	if err := b.Loader.Write(b, "ota_1", img); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := b.Loader.Activate(b, "ota_1"); err != nil {
		t.Fatalf("activate: %v", err)
	}
}

// corrupt clears one byte in the middle of a partition's image.
func corrupt(t testing.TB, b *boards.Board, off int) {
	t.Helper()
	p := make([]byte, b.Chip.Geometry().WriteUnit)
	if b.Chip.Geometry().Erased == 0x00 {
		p = bytes.Repeat([]byte{0xFF}, len(p))
	}
	if err := b.Chip.Program(off+payload/2, p); err != nil {
		t.Fatal(err)
	}
}

// cutUpdate runs the sweep's update (write the first slot not running,
// activate, boot, confirm, boot) on a clone of f with power cut at update
// operation k, and returns the clone powered on again.
func cutUpdate(t testing.TB, f *boards.Board, img *flash.Blob, k int, mode flash.CutMode, seed uint64) *boards.Board {
	t.Helper()
	b := f.Clone()
	slot := "ota_0"
	if b.Running.Slot == slot {
		slot = "ota_1"
	}
	if err := b.Chip.ArmCut(b.Chip.Ops()+uint64(k), mode, rand.New(rand.NewPCG(seed, uint64(k)))); err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { return b.Loader.Write(b, slot, img) },
		func() error { return b.Loader.Activate(b, slot) },
		func() error { _, err := b.Loader.Boot(b); return err },
		func() error { return b.Loader.Confirm(b) },
		func() error { _, err := b.Loader.Boot(b); return err },
	}
	var err error
	for _, s := range steps {
		if err = s(); err != nil {
			break
		}
	}
	if !errors.Is(err, flash.ErrPowerLost) {
		t.Fatalf("cut at op %d did not land: %v", k, err)
	}
	b.PowerOn()
	return b
}

// settle boots until a confirmed image runs, confirming healthy trials, and
// returns the version it runs.
func settle(t testing.TB, b *boards.Board) string {
	t.Helper()
	for range 8 {
		r := boot(t, b)
		switch {
		case r.Bricked:
			t.Fatalf("bricked: %s", r.Reason)
		case r.Trial && !r.Image.HealthFail():
			if err := b.Loader.Confirm(b); err != nil {
				t.Fatalf("confirm: %v", err)
			}
		case !r.Trial:
			return version(r)
		}
	}
	t.Fatal("no stable boot")
	return ""
}
