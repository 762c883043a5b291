package flash

// Program writes data at addr as one operation. addr and len(data) must be
// multiples of the write unit. See the package comment for what programming
// does to bytes that are not erased and what a cut does.
func (c *Chip) Program(addr int, data []byte) error {
	if err := c.check(OpProgram, addr, len(data), c.g.WriteUnit); err != nil {
		return err
	}
	mode := c.begin(OpProgram, addr, len(data))
	if mode == CutBefore {
		return c.powerLoss()
	}
	if c.g.Rewrite == RewriteForbid && !c.isErased(addr, len(data)) {
		return c.fail(mode, ErrNotErased)
	}
	if mode == CutTorn {
		c.tornProgram(addr, data)
		return c.powerLoss()
	}
	c.programBytes(addr, data)
	if mode == CutAfter {
		return c.powerLoss()
	}
	return nil
}

// ProgramBlob programs n bytes of b, from offset off, at addr, as one
// operation: the same as Program with those bytes, except that a whole
// erased page programmed from a page-aligned part of b shares b's page
// instead of copying it, and 64 such pages in a row share b's chunk. This
// is how thousands of chips hold one firmware image once.
func (c *Chip) ProgramBlob(addr int, b *Blob, off, n int) error {
	if err := c.check(OpProgram, addr, n, c.g.WriteUnit); err != nil {
		return err
	}
	if b == nil || off < 0 || off > len(b.chunks)*chunkSize-n {
		return &OpError{OpProgram, addr, n, ErrOutOfRange}
	}
	mode := c.begin(OpProgram, addr, n)
	if mode == CutBefore {
		return c.powerLoss()
	}
	if c.g.Rewrite == RewriteForbid && !c.isErased(addr, n) {
		return c.fail(mode, ErrNotErased)
	}
	if mode == CutTorn {
		buf := make([]byte, n)
		b.ReadAt(buf, off)
		c.tornProgram(addr, buf)
		return c.powerLoss()
	}
	erased := erasedPage(c.g.Erased)
	for done := 0; done < n; {
		a, so := addr+done, off+done
		m := min(PageSize-a%PageSize, PageSize-so%PageSize, n-done)
		pi, src := a/PageSize, b.page(so/PageSize)
		if m == PageSize && c.pageAt(pi) == erased {
			c.writableChunk(pi / chunkPages).pages[pi%chunkPages] = src
			if (a-so)%chunkSize == 0 {
				c.collapse(pi/chunkPages, b, so/chunkSize)
			}
		} else {
			c.programBytes(a, src.b[so%PageSize:so%PageSize+m])
		}
		done += m
	}
	if mode == CutAfter {
		return c.powerLoss()
	}
	return nil
}

// collapse shares b's chunk bci as chip chunk ci when every page matches.
func (c *Chip) collapse(ci int, b *Blob, bci int) {
	if bci < len(b.chunks) && c.top[ci] != b.chunks[bci] && c.top[ci].pages == b.chunks[bci].pages {
		c.setChunk(ci, b.chunks[bci])
	}
}

// Erase sets the sector starting at addr to the erased value, as one
// operation. A sector past its endurance fails with ErrWornOut and keeps
// its content.
func (c *Chip) Erase(addr int) error {
	if err := c.check(OpErase, addr, c.g.SectorSize, c.g.SectorSize); err != nil {
		return err
	}
	mode := c.begin(OpErase, addr, c.g.SectorSize)
	if mode == CutBefore {
		return c.powerLoss()
	}
	s := addr / c.g.SectorSize
	if c.g.Endurance > 0 && c.wear != nil && c.wear.get(s) >= c.g.Endurance {
		return c.fail(mode, ErrWornOut)
	}
	c.writableWear().inc(s)
	if mode == CutTorn {
		c.tornErase(addr, c.g.SectorSize)
		return c.powerLoss()
	}
	c.eraseRange(addr, c.g.SectorSize)
	if mode == CutAfter {
		return c.powerLoss()
	}
	return nil
}

// fail reports err for the current operation, which the chip refused and
// which changed nothing. A cut armed for it still takes the power: the
// caller sees ErrPowerLost, as it would from the same cut on an operation
// that was accepted.
func (c *Chip) fail(mode CutMode, err error) error {
	if mode != 0 {
		return c.powerLoss()
	}
	op := c.LastOp()
	return &OpError{op.Kind, op.Addr, op.Len, err}
}

func (c *Chip) programBytes(addr int, data []byte) {
	erased := erasedPage(c.g.Erased)
	for len(data) > 0 {
		o := addr % PageSize
		n := min(len(data), PageSize-o)
		if n == PageSize && c.pageAt(addr/PageSize) == erased {
			// Programming a whole erased page yields the data itself.
			p := &page{}
			copy(p.b[:], data)
			pi := addr / PageSize
			c.writableChunk(pi / chunkPages).pages[pi%chunkPages] = p
			data, addr = data[n:], addr+n
			continue
		}
		p := c.writablePage(addr / PageSize)
		if c.g.Erased == 0xFF {
			for i, v := range data[:n] {
				p.b[o+i] &= v
			}
		} else {
			for i, v := range data[:n] {
				p.b[o+i] |= v
			}
		}
		data, addr = data[n:], addr+n
	}
}

func (c *Chip) eraseRange(addr, n int) {
	for n > 0 {
		switch {
		case addr%chunkSize == 0 && n >= chunkSize:
			c.setChunk(addr/chunkSize, erasedChunk(c.g.Erased))
			addr, n = addr+chunkSize, n-chunkSize
		case addr%PageSize == 0 && n >= PageSize:
			pi := addr / PageSize
			c.writableChunk(pi / chunkPages).pages[pi%chunkPages] = erasedPage(c.g.Erased)
			addr, n = addr+PageSize, n-PageSize
		default: // a sector smaller than a page
			p := c.writablePage(addr / PageSize)
			m := min(n, PageSize-addr%PageSize)
			for i := range m {
				p.b[addr%PageSize+i] = c.g.Erased
			}
			addr, n = addr+m, n-m
		}
	}
}

func (c *Chip) isErased(addr, n int) bool {
	erased := erasedPage(c.g.Erased)
	for n > 0 {
		p := c.pageAt(addr / PageSize)
		m := min(n, PageSize-addr%PageSize)
		if p != erased {
			for _, v := range p.b[addr%PageSize : addr%PageSize+m] {
				if v != c.g.Erased {
					return false
				}
			}
		}
		addr, n = addr+m, n-m
	}
	return true
}
