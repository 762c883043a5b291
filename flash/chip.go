package flash

import (
	"fmt"
	"slices"
)

// OpKind names a flash operation.
type OpKind uint8

const (
	OpRead OpKind = iota
	OpProgram
	OpErase
)

func (k OpKind) String() string {
	switch k {
	case OpRead:
		return "read"
	case OpProgram:
		return "program"
	case OpErase:
		return "erase"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// Op is one program or erase operation, as the chip saw it.
type Op struct {
	Index uint64 // 0 for the chip's first operation
	Kind  OpKind
	Addr  int
	Len   int
}

// Chip is an emulated flash chip. The zero value is not usable; call New.
// What a chip costs in memory is in the package comment (Storage).
type Chip struct {
	g    Geometry
	top  []*chunk   // the chunk table; shared with clones and Blobs while topShared
	wear *wearTable // erase counts; nil until the first erase, shared while frozen
	cut  *cutPlan   // nil: no cut armed
	ops  uint64     // operations started

	// The most recent operation started, which has index ops-1. A chip is
	// at most 1 GiB, so its addresses and lengths fit 32 bits.
	lastAddr, lastLen uint32
	lastKind          OpKind

	off       bool // power lost: every call fails until PowerOn
	topShared bool // top is shared: copy it before changing an entry
}

// New returns a chip whose content is base (nil: all erased). The chip
// shares base's pages until it writes its own.
func New(g Geometry, base *Blob) (*Chip, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if base != nil && base.size > g.Size {
		return nil, fmt.Errorf("flash: base content of %d bytes does not fit a %d-byte chip", base.size, g.Size)
	}
	n := (g.Size + chunkSize - 1) / chunkSize
	if base != nil && len(base.chunks) == n {
		// base covers every chunk: share its chunk table too.
		return &Chip{g: g, top: base.chunks, topShared: true}, nil
	}
	c := &Chip{g: g, top: make([]*chunk, n)}
	for i := range c.top {
		if base != nil && i < len(base.chunks) {
			c.top[i] = base.chunks[i]
		} else {
			c.top[i] = erasedChunk(g.Erased)
		}
	}
	return c, nil
}

// Geometry returns the chip's geometry.
func (c *Chip) Geometry() Geometry { return c.g }

// Ops is the number of program and erase operations started so far,
// including one cut by a power loss; the next operation has index Ops().
func (c *Chip) Ops() uint64 { return c.ops }

// LastOp is the most recent program or erase operation started (the zero
// Op before the first).
func (c *Chip) LastOp() Op {
	if c.ops == 0 {
		return Op{}
	}
	return Op{Index: c.ops - 1, Kind: c.lastKind, Addr: int(c.lastAddr), Len: int(c.lastLen)}
}

// Wear is the number of erases sector s has had, including erases cut by a
// torn or after cut; 0 for a sector the chip does not have.
func (c *Chip) Wear(s int) uint32 {
	if c.wear == nil || s < 0 || s >= c.g.Sectors() {
		return 0
	}
	return c.wear.get(s)
}

// Powered reports whether the chip has power.
func (c *Chip) Powered() bool { return !c.off }

// PowerOn restores power after a cut and disarms any pending cut.
func (c *Chip) PowerOn() { c.off, c.cut = false, nil }

// Clone returns an independent chip with the same content, wear, operation
// count, last operation and power state; the two share their pages, chunk
// table and wear table copy-on-write, so a clone costs one Chip until it
// writes. An armed cut is not copied.
func (c *Chip) Clone() *Chip {
	c.freeze()
	if c.wear != nil && !c.wear.frozen { // a frozen table may be shared: never written again
		c.wear.frozen = true
	}
	n := *c
	n.cut = nil
	return &n
}

// Snapshot returns the chip's content as a Blob, sharing its pages and its
// chunk table.
func (c *Chip) Snapshot() *Blob {
	c.freeze()
	return &Blob{size: c.g.Size, pad: c.g.Erased, chunks: c.top}
}

// freeze makes every chunk and page frozen and the chunk table shared, so
// that they can be handed to a clone or a Blob.
func (c *Chip) freeze() {
	c.topShared = true
	for _, ch := range c.top {
		if ch.frozen {
			continue
		}
		for _, p := range ch.pages {
			if !p.frozen { // a frozen page may be shared: never written again
				p.frozen = true
			}
		}
		ch.frozen = true
	}
}

// Read copies len(buf) bytes at addr into buf. Reads are not operations:
// they neither count nor trigger a cut, but fail while power is lost.
func (c *Chip) Read(addr int, buf []byte) error {
	if err := c.check(OpRead, addr, len(buf), 1); err != nil {
		return err
	}
	for len(buf) > 0 {
		n := copy(buf, c.pageAt(addr / PageSize).b[addr%PageSize:])
		buf, addr = buf[n:], addr+n
	}
	return nil
}

// check validates power, bounds and alignment for an operation.
func (c *Chip) check(k OpKind, addr, n, align int) error {
	switch {
	case c.off:
		return &OpError{k, addr, n, ErrPowerLost}
	case addr < 0 || n < 0 || addr > c.g.Size-n:
		return &OpError{k, addr, n, ErrOutOfRange}
	case addr%align != 0 || n%align != 0:
		return &OpError{k, addr, n, ErrUnaligned}
	}
	return nil
}

func (c *Chip) pageAt(i int) *page { return c.top[i/chunkPages].pages[i%chunkPages] }

// setChunk makes ch chunk ci, copying the chunk table first if it is
// shared.
func (c *Chip) setChunk(ci int, ch *chunk) {
	if c.topShared {
		c.top = slices.Clone(c.top)
		c.topShared = false
	}
	c.top[ci] = ch
}

// writableChunk returns chunk ci, copied first if it is shared. (A shared
// chunk table holds only frozen chunks, so an unfrozen chunk is in a table
// of the chip's own.)
func (c *Chip) writableChunk(ci int) *chunk {
	ch := c.top[ci]
	if ch.frozen {
		ch = &chunk{pages: ch.pages}
		c.setChunk(ci, ch)
	}
	return ch
}

// writableWear returns the chip's wear table, created or copied first if
// it has none or shares it.
func (c *Chip) writableWear() *wearTable {
	switch {
	case c.wear == nil:
		c.wear = newWearTable(c.g.Sectors())
	case c.wear.frozen:
		c.wear = c.wear.copy()
	}
	return c.wear
}

// writablePage returns page i, copied first if it is shared.
func (c *Chip) writablePage(i int) *page {
	ch := c.writableChunk(i / chunkPages)
	p := ch.pages[i%chunkPages]
	if p.frozen {
		p = &page{b: p.b}
		ch.pages[i%chunkPages] = p
	}
	return p
}
