package bench

import (
	"bytes"
	"crypto/sha256"

	"brickyard/boards/bench/wire"
)

// mirror is brickyard's copy of a bench board's flash, sector by sector,
// so that reading a slot does not read it over the line every time.
//
//   - A sector is unknown until it is read, erased or programmed over the
//     link (after being erased or read).
//   - Writes the board makes itself (its bootloader's at a boot, a
//     Confirm's) make every known sector suspect; a suspect sector is
//     checked with the board's Hash before it is used, and read again if it
//     differs. A boot that reports no flash operation (wire.CapBootOps) keeps
//     the suspicions as they were.
//   - An operation a power cut interrupted makes its sectors unknown.
type mirror struct {
	ss      int
	erased  []byte   // one erased sector, shared: never written
	sec     [][]byte // nil: unknown
	suspect []bool
	saved   []bool // suspicions before the last reset (keep)
}

func newMirror(size, sector int, erased byte) *mirror {
	n := size / sector
	return &mirror{ss: sector, erased: bytes.Repeat([]byte{erased}, sector), sec: make([][]byte, n), suspect: make([]bool, n)}
}

// known reports whether sector s is known and trusted.
func (m *mirror) known(s int) bool { return m.sec[s] != nil && !m.suspect[s] }

// writable returns sector s's own buffer, copying a shared erased one.
func (m *mirror) writable(s int) []byte {
	if &m.sec[s][0] == &m.erased[0] {
		m.sec[s] = bytes.Clone(m.erased)
	}
	return m.sec[s]
}

func (m *mirror) setErased(s int) {
	m.sec[s], m.suspect[s] = m.erased, false
}

// program applies a program of data at addr to the known sectors, as
// the flash combines bits (erased 0xFF: AND; 0x00: OR). A suspect sector
// is changed and stays suspect: its check later tells.
func (m *mirror) program(addr int, data []byte) {
	for len(data) > 0 {
		s, o := addr/m.ss, addr%m.ss
		n := min(len(data), m.ss-o)
		if m.sec[s] != nil {
			b := m.writable(s)
			if m.erased[0] == 0xFF {
				for i, v := range data[:n] {
					b[o+i] &= v
				}
			} else {
				for i, v := range data[:n] {
					b[o+i] |= v
				}
			}
		}
		addr, data = addr+n, data[n:]
	}
}

// forget makes the sectors of [addr, addr+n) unknown.
func (m *mirror) forget(addr, n int) {
	if n <= 0 {
		return
	}
	for s := addr / m.ss; s <= (addr+n-1)/m.ss && s < len(m.sec); s++ {
		m.sec[s], m.suspect[s] = nil, false
	}
}

// suspectAll marks every known sector suspect, remembering the marks of
// before for keep.
func (m *mirror) suspectAll() {
	m.saved = append(m.saved[:0], m.suspect...)
	for s := range m.sec {
		if m.sec[s] != nil {
			m.suspect[s] = true
		}
	}
}

// keep restores the suspicions of before the last suspectAll: nothing was
// written since.
func (m *mirror) keep() {
	if len(m.saved) == len(m.suspect) {
		copy(m.suspect, m.saved)
	}
}

func digest(b []byte) [wire.DigestLen]byte {
	sum := sha256.Sum256(b)
	var d [wire.DigestLen]byte
	copy(d[:], sum[:])
	return d
}
