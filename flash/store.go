package flash

// Storage: a chip's bytes are a table of chunks, a chunk a table of pages.
// A frozen page or chunk may be shared by any number of chips and Blobs and
// is never written again; a chip that writes into one first copies it. The
// chunk table itself is shared by clones and Blobs (Chip.topShared) and
// copied by the first chip that changes an entry.
//
// Invariants: a frozen chunk holds only frozen pages; a shared chunk table
// holds only frozen chunks.

const (
	// PageSize is the sharing granularity: a chip that changes one byte owns
	// a copy of that byte's 4 KiB page.
	PageSize   = 4096
	chunkPages = 64
	chunkSize  = PageSize * chunkPages
)

type page struct {
	frozen bool
	b      [PageSize]byte
}

type chunk struct {
	frozen bool
	pages  [chunkPages]*page
}

// Shared, frozen, never written: the all-erased page and chunk for each
// erased value.
var (
	erasedPageFF, erasedPage00   = filledPage(0xFF), filledPage(0x00)
	erasedChunkFF, erasedChunk00 = filledChunk(erasedPageFF), filledChunk(erasedPage00)
)

func filledPage(v byte) *page {
	p := &page{frozen: true}
	for i := range p.b {
		p.b[i] = v
	}
	return p
}

func filledChunk(p *page) *chunk {
	c := &chunk{frozen: true}
	for i := range c.pages {
		c.pages[i] = p
	}
	return c
}

func erasedPage(v byte) *page {
	if v == 0xFF {
		return erasedPageFF
	}
	return erasedPage00
}

func erasedChunk(v byte) *chunk {
	if v == 0xFF {
		return erasedChunkFF
	}
	return erasedChunk00
}

// Blob is immutable content that chips share: a factory flash image, a
// firmware image. Build it once and hand it to every chip that holds the
// same bytes.
type Blob struct {
	size   int
	pad    byte
	chunks []*chunk
}

// NewBlob copies data into shared pages. Bytes past len(data) in the last
// page are filled with pad (use the chip's erased value). All-0xFF and
// all-0x00 pages share the package's erased pages.
func NewBlob(data []byte, pad byte) *Blob {
	n := (len(data) + chunkSize - 1) / chunkSize
	b := &Blob{size: len(data), pad: pad, chunks: make([]*chunk, n)}
	for ci := range b.chunks {
		c := &chunk{frozen: true}
		for pi := range c.pages {
			off := ci*chunkSize + pi*PageSize
			p := &page{frozen: true}
			if off < len(data) {
				copied := copy(p.b[:], data[off:])
				for i := copied; i < PageSize; i++ {
					p.b[i] = pad
				}
			} else {
				for i := range p.b {
					p.b[i] = pad
				}
			}
			c.pages[pi] = dedupErased(p)
		}
		b.chunks[ci] = dedupChunk(c)
	}
	return b
}

// Len is the Blob's length in bytes.
func (b *Blob) Len() int { return b.size }

// ReadAt copies the Blob's bytes from off into buf; bytes past the end read
// as the padding.
func (b *Blob) ReadAt(buf []byte, off int) {
	for len(buf) > 0 && off < len(b.chunks)*chunkSize {
		n := copy(buf, b.page(off / PageSize).b[off%PageSize:])
		buf, off = buf[n:], off+n
	}
	for i := range buf {
		buf[i] = b.pad
	}
}

// page returns page i, which must lie inside the Blob's chunks.
func (b *Blob) page(i int) *page { return b.chunks[i/chunkPages].pages[i%chunkPages] }

func dedupErased(p *page) *page {
	for _, e := range []*page{erasedPageFF, erasedPage00} {
		if p.b == e.b {
			return e
		}
	}
	return p
}

func dedupChunk(c *chunk) *chunk {
	for _, e := range []*chunk{erasedChunkFF, erasedChunk00} {
		if c.pages == e.pages {
			return e
		}
	}
	return c
}
