package flash

import "fmt"

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
type Chip struct {
	g    Geometry
	top  []*chunk
	wear []uint32 // erase count per sector; nil until the first erase
	ops  uint64   // operations started
	last Op       // the most recent operation started
	cut  cutPlan
	off  bool // power lost: every call fails until PowerOn
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
	c := &Chip{g: g, top: make([]*chunk, (g.Size+chunkSize-1)/chunkSize)}
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

// LastOp is the most recent program or erase operation started.
func (c *Chip) LastOp() Op { return c.last }

// Wear is the number of erases sector s has had.
func (c *Chip) Wear(s int) uint32 {
	if c.wear == nil || s < 0 || s >= len(c.wear) {
		return 0
	}
	return c.wear[s]
}

// Powered reports whether the chip has power.
func (c *Chip) Powered() bool { return !c.off }

// PowerOn restores power after a cut and disarms any pending cut.
func (c *Chip) PowerOn() { c.off, c.cut = false, cutPlan{} }

// Clone returns an independent chip with the same content, wear, operation
// count and power state; the two share their pages copy-on-write. An armed
// cut is not copied.
func (c *Chip) Clone() *Chip {
	c.freeze()
	n := &Chip{g: c.g, top: append([]*chunk(nil), c.top...), ops: c.ops, last: c.last, off: c.off}
	if c.wear != nil {
		n.wear = append([]uint32(nil), c.wear...)
	}
	return n
}

// Snapshot returns the chip's content as a Blob, sharing its pages.
func (c *Chip) Snapshot() *Blob {
	c.freeze()
	return &Blob{size: c.g.Size, pad: c.g.Erased, chunks: append([]*chunk(nil), c.top...)}
}

func (c *Chip) freeze() {
	for _, ch := range c.top {
		if ch.frozen {
			continue
		}
		for _, p := range ch.pages {
			p.frozen = true
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

// writableChunk returns chunk ci, copied first if it is shared.
func (c *Chip) writableChunk(ci int) *chunk {
	ch := c.top[ci]
	if ch.frozen {
		ch = &chunk{pages: ch.pages}
		c.top[ci] = ch
	}
	return ch
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
