package mcuboot

import (
	"encoding/binary"
	"fmt"

	"brickyard/boards"
)

// copyChunk is the size of boot_copy_region's buffer: a copy of n bytes is
// ceil(n/1024) program operations.
const copyChunk = 1024

// areas is a board's three flash areas and the trailer geometry derived
// from them and the chip.
type areas struct {
	c             boards.Flash
	pri, sec, scr boards.Partition
	ss, wu        int  // sector size, write unit (BOOT_WRITE_SZ)
	erased        byte // the chip's erased value
	sectors       int  // sectors per slot
	maxSectors    int  // BOOT_MAX_IMG_SECTORS
	trailer       int  // slot trailer: maxSectors × 3 × wu + InfoSize
	scrTrailer    int  // scratch trailer: 3 × wu + InfoSize

	// Scratch buffers, reused by one areas' writes and copies: a Flash
	// keeps none of what it is handed, and buffers handed through the
	// interface would otherwise each be a heap allocation.
	copyBuf [copyChunk]byte
	unitBuf [2 * MaxAlign]byte
}

// areas resolves and checks the board's layout for this model.
func (l *Loader) areas(b *boards.Board) (*areas, error) {
	ps, err := b.Layout.Require(Primary, Secondary, Scratch)
	if err != nil {
		return nil, err
	}
	g := b.Chip.Geometry()
	a := &areas{c: b.Chip, pri: ps[0], sec: ps[1], scr: ps[2], ss: g.SectorSize, wu: g.WriteUnit, erased: g.Erased}
	a.sectors = a.pri.Size / a.ss
	a.maxSectors = l.opts.MaxImageSectors
	if a.maxSectors == 0 {
		a.maxSectors = a.sectors
	}
	a.trailer = a.maxSectors*States*a.wu + InfoSize
	a.scrTrailer = States*a.wu + InfoSize
	switch {
	case a.wu > MaxAlign:
		return nil, fmt.Errorf("mcuboot-swap: write unit %d exceeds BOOT_MAX_ALIGN %d", a.wu, MaxAlign)
	case a.pri.Size != a.sec.Size:
		return nil, fmt.Errorf("mcuboot-swap: %q is %d bytes, %q %d: swap using scratch wants equal slots", Primary, a.pri.Size, Secondary, a.sec.Size)
	case a.pri.Size%a.ss != 0 || a.scr.Size%a.ss != 0 || a.pri.Offset%a.ss != 0 || a.sec.Offset%a.ss != 0 || a.scr.Offset%a.ss != 0:
		return nil, fmt.Errorf("mcuboot-swap: slots and scratch must be aligned to %d-byte sectors", a.ss)
	case a.scr.Size < a.ss:
		return nil, fmt.Errorf("mcuboot-swap: scratch (%d bytes) is smaller than a sector (%d)", a.scr.Size, a.ss)
	case a.sectors > a.maxSectors:
		return nil, fmt.Errorf("mcuboot-swap: slots have %d sectors, more than MaxImageSectors %d", a.sectors, a.maxSectors)
	case a.trailer > a.ss:
		return nil, fmt.Errorf("mcuboot-swap: a %d-byte trailer (%d sectors × 3 × %d + %d) does not fit the last %d-byte sector",
			a.trailer, a.maxSectors, a.wu, InfoSize, a.ss)
	}
	return a, nil
}

// maxImage is the largest image a slot takes: everything below the trailer.
func (a *areas) maxImage() int { return a.pri.Size - a.trailer }

// statusAddr is the chip address of status record (region, state) of
// area p (a slot, or scratch, whose status area holds one region).
func (a *areas) statusAddr(p boards.Partition, region, state int) int {
	t := a.trailer
	if p == a.scr {
		t = a.scrTrailer
	}
	return p.End() - t + (region*States+state)*a.wu
}

func (a *areas) readTrailer(p boards.Partition) (Trailer, error) { return ReadTrailer(a.c, p) }

// readStatus decodes the status records of p.
func (a *areas) readStatus(p boards.Partition) (Status, error) {
	n := a.maxSectors * States
	if p == a.scr {
		n = States
	}
	buf := make([]byte, n*a.wu)
	if err := a.c.Read(a.statusAddr(p, 0, 0), buf); err != nil {
		return Status{}, err
	}
	return DecodeStatus(buf, a.wu, n, a.erased)
}

// writeTrailer is boot_write_trailer: data padded with the erased value to
// a multiple of the write unit, programmed at p.End()−fromEnd in one
// operation.
func (a *areas) writeTrailer(p boards.Partition, fromEnd int, data []byte) error {
	n := (len(data) + a.wu - 1) / a.wu * a.wu
	buf := a.unitBuf[:0]
	if n > len(a.unitBuf) {
		buf = make([]byte, 0, n)
	}
	buf = buf[:n]
	copy(buf, data)
	for i := len(data); i < n; i++ {
		buf[i] = a.erased
	}
	return a.c.Program(p.End()-fromEnd, buf)
}

func (a *areas) writeMagic(p boards.Partition) error {
	return a.writeTrailer(p, fromEndMagic, Magic[:])
}
func (a *areas) writeImageOK(p boards.Partition) error {
	return a.writeTrailer(p, fromEndImageOK, []byte{flagSetValue})
}
func (a *areas) writeCopyDone(p boards.Partition) error {
	return a.writeTrailer(p, fromEndCopyDone, []byte{flagSetValue})
}

// writeSwapInfo writes swap_info = image number 0 << 4 | t.
func (a *areas) writeSwapInfo(p boards.Partition, t SwapType) error {
	return a.writeTrailer(p, fromEndSwapInfo, []byte{byte(t) & 0x0F})
}

func (a *areas) writeSwapSize(p boards.Partition, n uint32) error {
	return a.writeTrailer(p, fromEndSwapSize, binary.LittleEndian.AppendUint32(nil, n))
}

// writeStatus is boot_write_status: one write unit whose first byte is
// the record's value (state+1), at record (region, state) of p.
func (a *areas) writeStatus(p boards.Partition, region, state int) error {
	buf := a.unitBuf[:a.wu] // wu ≤ MaxAlign (areas checks)
	for i := range buf {
		buf[i] = a.erased
	}
	buf[0] = byte(state + 1)
	return a.c.Program(a.statusAddr(p, region, state), buf)
}

// erase erases n bytes of p from off, one sector at a time, upwards.
func (a *areas) erase(p boards.Partition, off, n int) error {
	for s := off; s < off+n; s += a.ss {
		if err := a.c.Erase(p.Offset + s); err != nil {
			return err
		}
	}
	return nil
}

// eraseTrailerSectors is swap_erase_trailer_sectors: the area's last
// sector, which holds its whole trailer (areas checks that it fits).
func (a *areas) eraseTrailerSectors(p boards.Partition) error {
	return a.erase(p, p.Size-a.ss, a.ss)
}

// copyRegion is boot_copy_region: read and program n bytes in chunks of
// copyChunk, each chunk one program operation.
func (a *areas) copyRegion(src boards.Partition, srcOff int, dst boards.Partition, dstOff, n int) error {
	buf := a.copyBuf[:]
	for done := 0; done < n; {
		m := min(copyChunk, n-done)
		if err := a.c.Read(src.Offset+srcOff+done, buf[:m]); err != nil {
			return err
		}
		if err := a.c.Program(dst.Offset+dstOff+done, buf[:m]); err != nil {
			return err
		}
		done += m
	}
	return nil
}

// isErased reports whether n bytes of p at off hold the erased value.
func (a *areas) isErased(p boards.Partition, off, n int) (bool, error) {
	buf := make([]byte, n)
	if err := a.c.Read(p.Offset+off, buf); err != nil {
		return false, err
	}
	return allErased(buf, a.erased), nil
}
