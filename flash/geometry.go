package flash

import "fmt"

// RewritePolicy says what programming a unit that is not erased does.
type RewritePolicy uint8

const (
	// RewriteCombine is NOR behaviour: the unit is programmed again, bits
	// only move away from the erased value (flag bytes 0xFF→0x01→0x00).
	RewriteCombine RewritePolicy = iota
	// RewriteForbid is ECC-protected MCU flash: the program fails with
	// ErrNotErased and changes nothing.
	RewriteForbid
)

// Geometry describes a chip.
type Geometry struct {
	Size       int           // total bytes, a multiple of SectorSize
	SectorSize int           // erase unit in bytes: a power of two, at least 256
	WriteUnit  int           // program granularity: 1, 2, 4, 8, 16 or 32 bytes
	Erased     byte          // the erased value: 0xFF or 0x00
	Rewrite    RewritePolicy // programming a unit that is not erased
	Endurance  uint32        // erase cycles a sector survives; 0 means unlimited
}

// Validate reports the first thing wrong with g.
func (g Geometry) Validate() error {
	switch {
	case g.SectorSize < 256 || g.SectorSize&(g.SectorSize-1) != 0:
		return fmt.Errorf("flash: sector size %d: want a power of two ≥ 256", g.SectorSize)
	case g.Size <= 0 || g.Size%g.SectorSize != 0:
		return fmt.Errorf("flash: size %d: want a positive multiple of the sector size %d", g.Size, g.SectorSize)
	case g.Size > 1<<30:
		return fmt.Errorf("flash: size %d: larger than 1 GiB", g.Size)
	case g.WriteUnit < 1 || g.WriteUnit > 32 || g.WriteUnit&(g.WriteUnit-1) != 0:
		return fmt.Errorf("flash: write unit %d: want 1, 2, 4, 8, 16 or 32", g.WriteUnit)
	case g.Erased != 0xFF && g.Erased != 0x00:
		return fmt.Errorf("flash: erased value 0x%02x: want 0xFF or 0x00", g.Erased)
	case g.Rewrite > RewriteForbid:
		return fmt.Errorf("flash: unknown rewrite policy %d", g.Rewrite)
	}
	return nil
}

// Sectors is the number of erase sectors.
func (g Geometry) Sectors() int { return g.Size / g.SectorSize }

// program combines data into old the way the chip programs: bits move only
// away from the erased value.
func (g Geometry) program(old, data byte) byte {
	if g.Erased == 0xFF {
		return old & data
	}
	return old | data
}
