package mcuboot

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"brickyard/boards"
	"brickyard/boards/boardtest"
	"brickyard/flash"
)

const testBoard = "mcu-test"

// Payload sizes: small images end in slot sector 5, so the swap never
// reaches the trailer sector; large ones end in the last sector, so the
// first region carries the trailer through scratch.
const (
	smallPayload = 20 << 10
	largePayload = 62 << 10
)

// rig is a chip geometry and layout under test: a 256 KiB chip of 4 KiB
// sectors, 64 KiB slots, scratch of one or more sectors.
type rig struct {
	name    string
	wu      int
	erased  byte
	scratch int // sectors
	payload int // bytes of the images' payloads
}

func (r rig) String() string {
	return fmt.Sprintf("W%d/erased%02X/scratch%d/payload%dK", r.wu, r.erased, r.scratch, r.payload>>10)
}

func (r rig) geometry() flash.Geometry {
	g := flash.Geometry{Size: 256 << 10, SectorSize: 4 << 10, WriteUnit: r.wu, Erased: r.erased}
	if r.wu == 8 {
		g.Rewrite = flash.RewriteForbid // ECC'd MCU flash: no program over programmed units
	}
	return g
}

func (r rig) layout() boards.Layout {
	return boards.Layout{
		{Name: "mcuboot", Offset: 0, Size: 0x10000},
		{Name: Primary, Offset: 0x10000, Size: 0x10000},
		{Name: Secondary, Offset: 0x20000, Size: 0x10000},
		{Name: Scratch, Offset: 0x30000, Size: r.scratch * 0x1000},
	}
}

// image is a signed test image for the rig's board.
func (r rig) image(version string, counter uint32) *flash.Blob {
	return boardtest.Blob(boardtest.Spec{Board: testBoard, Version: version, PayloadSize: r.payload, Counter: counter}, r.erased)
}

// board is a provisioned board running v1.0.0.
func (r rig) board(t testing.TB, opts Options) *boards.Board {
	t.Helper()
	l, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := boardtest.Board(testBoard, r.geometry(), r.layout(), l, r.image("1.0.0", 1))
	if err != nil {
		t.Fatalf("%v: %v", r, err)
	}
	return b
}

// pending is a board with v2.0.0 written to secondary and activated.
func (r rig) pending(t testing.TB, opts Options) *boards.Board {
	t.Helper()
	b := r.board(t, opts)
	if err := b.Loader.Write(b, Secondary, r.image("2.0.0", 2)); err != nil {
		t.Fatal(err)
	}
	if err := b.Loader.Activate(b, Secondary); err != nil {
		t.Fatal(err)
	}
	return b
}

var rigs = []rig{
	{wu: 8, erased: 0xFF, scratch: 1, payload: smallPayload},
	{wu: 8, erased: 0x00, scratch: 1, payload: smallPayload},
	{wu: 1, erased: 0xFF, scratch: 1, payload: smallPayload},
	{wu: 1, erased: 0x00, scratch: 1, payload: smallPayload},
	{wu: 8, erased: 0xFF, scratch: 1, payload: largePayload},
	{wu: 8, erased: 0x00, scratch: 1, payload: largePayload},
	{wu: 1, erased: 0xFF, scratch: 1, payload: largePayload},
	{wu: 1, erased: 0x00, scratch: 1, payload: largePayload},
	{wu: 8, erased: 0xFF, scratch: 2, payload: largePayload},
	{wu: 1, erased: 0x00, scratch: 3, payload: smallPayload},
}

func mustBoot(t testing.TB, b *boards.Board) boards.Boot {
	t.Helper()
	b.Running = nil
	r, err := b.Loader.Boot(b)
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	return r
}

func trailerOf(t testing.TB, b *boards.Board, name string) Trailer {
	t.Helper()
	p, _ := b.Layout.Get(name)
	tr, err := ReadTrailer(b.Chip, p)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func slotBytes(t testing.TB, b *boards.Board, name string) []byte {
	t.Helper()
	p, _ := b.Layout.Get(name)
	buf := make([]byte, p.Size)
	if err := b.Chip.Read(p.Offset, buf); err != nil {
		t.Fatal(err)
	}
	return buf
}

func isPowerLost(err error) bool { return errors.Is(err, flash.ErrPowerLost) }

// wantTrailer checks a trailer's three states.
func wantTrailer(t testing.TB, what string, got Trailer, magic MagicState, imageOK, copyDone Flag) {
	t.Helper()
	if got.Magic != magic || got.ImageOK != imageOK || got.CopyDone != copyDone {
		t.Errorf("%s trailer: %v; want magic=%s image_ok=%s copy_done=%s", what, got, magic, imageOK, copyDone)
	}
}

func wantVersion(t testing.TB, r boards.Boot, v string) {
	t.Helper()
	if r.Bricked || r.Image.Version.String() != v {
		t.Fatalf("booted %+v, want version %s", r, v)
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6d63)) }

// sweepRigs are the rigs the exhaustive tests cover: all of them, or
// under -short or the race detector (several times slower) two small ones
// and one large, on both erased values and write units.
func sweepRigs() []rig {
	if testing.Short() || raceEnabled {
		return []rig{rigs[0], rigs[3], rigs[6]}
	}
	return rigs
}

// sweepModes are the cut modes of the exhaustive tests: before, and torn
// with three seeds (one under -short or the race detector).
func sweepModes() []cutMode {
	if testing.Short() || raceEnabled {
		return cutModes[:2]
	}
	return cutModes
}
