package single_test

import (
	"errors"
	"testing"

	"brickyard/boards"
	"brickyard/boards/boardtest"
	"brickyard/boards/image"
	"brickyard/boards/single"
	"brickyard/flash"
)

var geom = flash.Geometry{Size: 128 << 10, SectorSize: 4096, WriteUnit: 4, Erased: 0xFF}

func board(t *testing.T) *boards.Board {
	t.Helper()
	b, err := boardtest.Board("sim-single", geom, boards.Layout{{Name: single.Slot, Size: 64 << 10}}, single.Loader{},
		boardtest.Blob(boardtest.Spec{Board: "sim-single", Version: "1.0.0", PayloadSize: 5000, Counter: 1}, 0xFF))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSingleBank_UpdateInPlace(t *testing.T) {
	b := board(t)
	img := boardtest.Blob(boardtest.Spec{Board: "sim-single", Version: "2.0.0", PayloadSize: 7000, Counter: 2}, 0xFF)
	if err := b.Loader.Write(b, single.Slot, img); err != nil {
		t.Fatal(err)
	}
	if err := b.Loader.Activate(b, single.Slot); err != nil {
		t.Fatal(err)
	}
	r, err := b.Loader.Boot(b)
	if err != nil || r.Bricked || r.Trial || r.Image.Version.String() != "2.0.0" {
		t.Fatalf("boot %+v %v", r, err)
	}
	if err := b.Loader.Confirm(b); err != nil || b.SecurityCounter != 2 {
		t.Fatalf("confirm: %v, counter %d", err, b.SecurityCounter)
	}
}

// A corrupted or wrongly signed image is never booted.
func TestSingleBank_NeverBootsABadImage(t *testing.T) {
	cases := map[string]*flash.Blob{
		"untrusted key": boardtest.Blob(boardtest.Spec{Board: "sim-single", Version: "2.0.0", PayloadSize: 100, Key: 1}, 0xFF),
		"other board":   boardtest.Blob(boardtest.Spec{Board: "other", Version: "2.0.0", PayloadSize: 100}, 0xFF),
		"downgrade":     boardtest.Blob(boardtest.Spec{Board: "sim-single", Version: "0.9.0", PayloadSize: 100, Counter: 0}, 0xFF),
		"corrupted": func() *flash.Blob {
			raw := boardtest.Image(boardtest.Spec{Board: "sim-single", Version: "2.0.0", PayloadSize: 100})
			raw[image.HeaderSize+5] ^= 0x40
			return flash.NewBlob(raw, 0xFF)
		}(),
	}
	for name, img := range cases {
		b := board(t)
		b.SecurityCounter = 1
		if err := b.Loader.Write(b, single.Slot, img); err != nil {
			t.Fatal(err)
		}
		r, err := b.Loader.Boot(b)
		if err != nil || !r.Bricked || r.Reason == "" || b.Running != nil {
			t.Errorf("%s: boot %+v %v, want bricked with a reason", name, r, err)
		}
	}
}

func TestSingleBank_BadCalls(t *testing.T) {
	b := board(t)
	if err := b.Loader.Write(b, "B", nil); !errors.Is(err, boards.ErrNoSuchSlot) {
		t.Errorf("write to B: %v", err)
	}
	big := boardtest.Blob(boardtest.Spec{Board: "sim-single", Version: "2.0.0", PayloadSize: 70 << 10}, 0xFF)
	if err := b.Loader.Write(b, single.Slot, big); !errors.Is(err, boards.ErrTooLarge) {
		t.Errorf("oversized write: %v", err)
	}
	b.PowerCut()
	if err := b.Loader.Confirm(b); !errors.Is(err, boards.ErrNotRunning) {
		t.Errorf("confirm while off: %v", err)
	}
	if _, err := b.Loader.Boot(b); !errors.Is(err, flash.ErrPowerLost) {
		t.Errorf("boot while off: %v", err)
	}
}
