package uboot_test

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"brickyard/boards"
	"brickyard/boards/boardtest"
	"brickyard/boards/uboot"
	"brickyard/flash"
)

const (
	boardID     = "sim-nor"
	envSize     = uboot.DefaultEnvSize
	payloadSize = 20 << 10 // ~20 KiB images
)

// norGeometry is a small SPI NOR: 512 KiB, 4 KiB sectors, byte writes.
var norGeometry = flash.Geometry{Size: 512 << 10, SectorSize: 4 << 10, WriteUnit: 1, Erased: 0xFF}

// norLayout: the two env copies (two sectors each), then 64 KiB slots.
func norLayout() boards.Layout {
	return boards.Layout{
		{Name: "env1", Offset: 0x00000, Size: 0x2000},
		{Name: "env2", Offset: 0x02000, Size: 0x2000},
		{Name: "A", Offset: 0x10000, Size: 0x10000},
		{Name: "B", Offset: 0x20000, Size: 0x10000},
	}
}

// bigSectorGeometry has 64 KiB sectors, larger than the env: saveenv then
// saves and restores the rest of the sector, as env/sf.c does.
var bigSectorGeometry = flash.Geometry{Size: 512 << 10, SectorSize: 64 << 10, WriteUnit: 1, Erased: 0xFF}

func bigSectorLayout() boards.Layout {
	return boards.Layout{
		{Name: "env1", Offset: 0x00000, Size: 0x10000},
		{Name: "env2", Offset: 0x10000, Size: 0x10000},
		{Name: "A", Offset: 0x20000, Size: 0x10000},
		{Name: "B", Offset: 0x30000, Size: 0x10000},
	}
}

func spec(version string) boardtest.Spec {
	return boardtest.Spec{Board: boardID, Version: version, PayloadSize: payloadSize}
}

func blob(s boardtest.Spec) *flash.Blob { return boardtest.Blob(s, 0xFF) }

func newLoader(t testing.TB, o uboot.Options) *uboot.Loader {
	t.Helper()
	l, err := uboot.New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return l
}

// newBoard is a provisioned board running 1.0.0 from A.
func newBoard(t testing.TB, o uboot.Options) (*boards.Board, *uboot.Loader) {
	t.Helper()
	l := newLoader(t, o)
	b, err := boardtest.Board(boardID, norGeometry, norLayout(), l, blob(spec("1.0.0")))
	if err != nil {
		t.Fatalf("board: %v", err)
	}
	return b, l
}

func mustBoot(t testing.TB, b *boards.Board) boards.Boot {
	t.Helper()
	b.Running = nil
	r, err := b.Loader.Boot(b)
	if err != nil {
		t.Fatalf("Boot: %v", err)
	}
	return r
}

func loadEnv(t testing.TB, l *uboot.Loader, b *boards.Board) uboot.Selection {
	t.Helper()
	sel, err := l.LoadEnv(b)
	if err != nil {
		t.Fatalf("LoadEnv: %v", err)
	}
	return sel
}

// rawCopy builds a copy of size bytes holding data (no padding added by
// the caller: the rest is 0xFF) and flags, with a correct CRC.
func rawCopy(flags byte, data string, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = 0xFF
	}
	copy(b[uboot.HeaderSize:], data)
	b[uboot.FlagsOffset] = flags
	binary.LittleEndian.PutUint32(b, crc32.ChecksumIEEE(b[uboot.HeaderSize:]))
	return b
}

// part returns a partition of the board's layout.
func part(t testing.TB, b *boards.Board, name string) boards.Partition {
	t.Helper()
	p, ok := b.Layout.Get(name)
	if !ok {
		t.Fatalf("no partition %q", name)
	}
	return p
}

// readPart reads n bytes at the start of a partition.
func readPart(t testing.TB, b *boards.Board, name string, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	if err := b.Chip.Read(part(t, b, name).Offset, buf); err != nil {
		t.Fatal(err)
	}
	return buf
}

// overwrite replaces the first len(data) bytes of a partition (erasing its
// sectors first), as a test's hand on the chip, not a modelled operation.
func overwrite(t testing.TB, b *boards.Board, name string, data []byte) {
	t.Helper()
	p := part(t, b, name)
	ss := b.Chip.Geometry().SectorSize
	for off := 0; off < len(data); off += ss {
		if err := b.Chip.Erase(p.Offset + off); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Chip.Program(p.Offset, data); err != nil {
		t.Fatal(err)
	}
}

// corrupt clears the bits of one byte of a partition (programming 0x00).
func corrupt(t testing.TB, b *boards.Board, name string, off int) {
	t.Helper()
	if err := b.Chip.Program(part(t, b, name).Offset+off, []byte{0x00}); err != nil {
		t.Fatal(err)
	}
}

// update writes version into B and activates it.
func update(t testing.TB, b *boards.Board, img *flash.Blob) {
	t.Helper()
	if err := b.Loader.Write(b, uboot.SlotB, img); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := b.Loader.Activate(b, uboot.SlotB); err != nil {
		t.Fatalf("Activate: %v", err)
	}
}
