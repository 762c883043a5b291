package boards

import (
	"fmt"
	"sort"
)

// Partition is a named region of the chip.
type Partition struct {
	Name   string
	Offset int
	Size   int
}

// End is the first byte past the partition.
func (p Partition) End() int { return p.Offset + p.Size }

// Layout is a chip's partition table.
type Layout []Partition

// Get returns the partition called name.
func (l Layout) Get(name string) (Partition, bool) {
	for _, p := range l {
		if p.Name == name {
			return p, true
		}
	}
	return Partition{}, false
}

// At returns the partition holding addr.
func (l Layout) At(addr int) (Partition, bool) {
	for _, p := range l {
		if addr >= p.Offset && addr < p.End() {
			return p, true
		}
	}
	return Partition{}, false
}

// Validate checks that partitions are named once, sector-aligned, inside a
// chip of chipSize bytes, and do not overlap.
func (l Layout) Validate(chipSize, sectorSize int) error {
	seen := map[string]bool{}
	sorted := append(Layout(nil), l...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Offset < sorted[j].Offset })
	for i, p := range sorted {
		switch {
		case p.Name == "":
			return fmt.Errorf("partition at 0x%x has no name", p.Offset)
		case seen[p.Name]:
			return fmt.Errorf("partition %q appears twice", p.Name)
		case p.Size <= 0 || p.Offset < 0 || p.End() > chipSize:
			return fmt.Errorf("partition %q (0x%x+0x%x) is outside the %d-byte chip", p.Name, p.Offset, p.Size, chipSize)
		case p.Offset%sectorSize != 0 || p.Size%sectorSize != 0:
			return fmt.Errorf("partition %q (0x%x+0x%x) is not aligned to %d-byte sectors", p.Name, p.Offset, p.Size, sectorSize)
		case i > 0 && sorted[i-1].End() > p.Offset:
			return fmt.Errorf("partitions %q and %q overlap", sorted[i-1].Name, p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}

// Require returns the named partitions, or an error naming the first one
// missing; bootloader models call it to find their regions.
func (l Layout) Require(names ...string) ([]Partition, error) {
	out := make([]Partition, len(names))
	for i, n := range names {
		p, ok := l.Get(n)
		if !ok {
			return nil, fmt.Errorf("layout has no %q partition", n)
		}
		out[i] = p
	}
	return out, nil
}
