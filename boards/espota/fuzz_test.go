package espota_test

import (
	"bytes"
	"slices"
	"testing"

	"brickyard/boards/espota"
)

// otadataImage is an 8 KiB otadata partition (two 4 KiB sectors) holding
// a and b, the rest erased.
func otadataImage(a, b espota.Entry) []byte {
	img := bytes.Repeat([]byte{0xFF}, 2*sector)
	copy(img, a.Encode())
	copy(img[sector:], b.Encode())
	return img
}

// FuzzParseOtadata: any 8 KiB of otadata (shorter inputs are the two
// entries back to back) gives a selection without panicking, and the
// selection keeps the rules.
func FuzzParseOtadata(f *testing.F) {
	e := espota.NewEntry
	erased := espota.Entry{Seq: 0xFFFFFFFF, State: espota.StateUndefined, CRC: 0xFFFFFFFF}
	for i := range erased.Label {
		erased.Label[i] = 0xFF
	}
	f.Add(otadataImage(erased, erased), false)
	f.Add(otadataImage(e(1, espota.StateValid), erased), false)
	f.Add(otadataImage(e(1, espota.StateValid), e(2, espota.StateNew)), true)
	f.Add(otadataImage(e(3, espota.StateNew), e(2, espota.StatePendingVerify)), false)
	f.Add(otadataImage(e(5, espota.StateAborted), e(4, espota.StateInvalid)), true)
	f.Add(append(e(0, espota.StateUndefined).Encode(), e(2, espota.State(9)).Encode()...), true)
	f.Add(bytes.Repeat([]byte{0}, 2*sector), false)
	f.Fuzz(func(t *testing.T, data []byte, factory bool) {
		img := bytes.Repeat([]byte{0xFF}, 2*sector)
		if len(data) >= len(img) {
			copy(img, data)
		} else {
			copy(img[:espota.EntrySize], data)
			if len(data) > espota.EntrySize {
				copy(img[sector:sector+espota.EntrySize], data[espota.EntrySize:])
			}
		}
		o, err := espota.ParseOtadata(img, sector)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range o {
			if !bytes.Equal(e.Encode(), img[i*sector:i*sector+espota.EntrySize]) {
				t.Fatalf("entry %d does not encode back to its bytes", i)
			}
		}
		p := o.Plan(factory)
		if a := p.Active; a >= 0 {
			if !p.Otadata[a].Valid() {
				t.Fatalf("active entry %v is not valid", p.Otadata[a])
			}
			if other := p.Otadata[1-a]; other.Valid() && other.Seq > p.Otadata[a].Seq {
				t.Fatalf("active %v loses to %v", p.Otadata[a], other)
			}
			if p.Order[0] != p.Otadata[a].Slot() {
				t.Fatalf("order %v does not start at the active slot %d", p.Order, p.Otadata[a].Slot())
			}
		}
		if len(p.Order) == 0 || len(p.Order) > 3 {
			t.Fatalf("order %v", p.Order)
		}
		seen := map[int]bool{}
		for _, i := range p.Order {
			if i < espota.FactoryIndex || i > 1 || seen[i] || (i == espota.FactoryIndex && !factory) {
				t.Fatalf("order %v (factory %v)", p.Order, factory)
			}
			seen[i] = true
		}
		if len(p.Order) != 2+btoi(factory) {
			t.Fatalf("order %v leaves a partition out", p.Order)
		}
		for i := range 2 {
			changed := p.Otadata[i] != p.Read[i]
			if changed != slices.Contains(p.Rewrites, i) {
				t.Fatalf("sector %d changed %v but rewrites %v", i, changed, p.Rewrites)
			}
			if p.Otadata[i].State == espota.StatePendingVerify && i != p.Active {
				t.Fatalf("sector %d left PENDING_VERIFY without being selected", i)
			}
			if changed && (p.Otadata[i].Seq != p.Read[i].Seq || p.Otadata[i].CRC != p.Read[i].CRC) {
				t.Fatalf("boot rewrite changes seq or crc of sector %d", i)
			}
		}
		if p.Trial() && p.Read[p.Active].State != espota.StateNew {
			t.Fatalf("trial of an entry read as %s", p.Read[p.Active].State)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
