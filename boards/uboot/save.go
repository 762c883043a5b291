package uboot

import (
	"fmt"

	"brickyard/boards"
	"brickyard/flash"
)

// envLoc is where the two copies live on a board's chip.
type envLoc struct {
	parts  [2]boards.Partition // copy 1, copy 2
	size   int                 // CONFIG_ENV_SIZE
	sector int                 // CONFIG_ENV_SECT_SIZE: the chip's erase sector
	region int                 // bytes a save erases: size rounded up to whole sectors
}

// locate finds the env partitions and checks that the chip can do what
// env/sf.c does: a single-byte program of a flags byte that is already
// programmed (0x01 → 0x00), which needs NOR semantics with write unit 1.
func (l *Loader) locate(b *boards.Board) (envLoc, error) {
	g := b.Chip.Geometry()
	switch {
	case g.WriteUnit != 1:
		return envLoc{}, fmt.Errorf("uboot-ab: write unit %d: the OBSOLETE flag is a one-byte program, the chip must be SPI NOR with write unit 1", g.WriteUnit)
	case g.Erased != 0xFF:
		return envLoc{}, fmt.Errorf("uboot-ab: erased value 0x%02x: ACTIVE/OBSOLETE flags need 0xFF-erased NOR", g.Erased)
	case g.Rewrite != flash.RewriteCombine:
		return envLoc{}, fmt.Errorf("uboot-ab: the chip forbids programming a written unit; the flags byte is rewritten 0x01 → 0x00 in place")
	}
	ps, err := b.Layout.Require(l.opt.Env1, l.opt.Env2)
	if err != nil {
		return envLoc{}, fmt.Errorf("uboot-ab: %w", err)
	}
	loc := envLoc{parts: [2]boards.Partition{ps[0], ps[1]}, size: l.opt.EnvSize, sector: g.SectorSize}
	loc.region = (loc.size + g.SectorSize - 1) / g.SectorSize * g.SectorSize
	for _, p := range ps {
		if p.Size < loc.region {
			return envLoc{}, fmt.Errorf("uboot-ab: partition %q has %d bytes, a %d-byte env on %d-byte sectors needs %d",
				p.Name, p.Size, loc.size, loc.sector, loc.region)
		}
	}
	return loc, nil
}

// read returns the bytes of copy 1 and copy 2 (reads are not operations).
func (loc envLoc) read(c boards.Flash) (c1, c2 []byte, err error) {
	buf := make([]byte, 2*loc.size)
	c1, c2 = buf[:loc.size], buf[loc.size:]
	if err := c.Read(loc.parts[0].Offset, c1); err != nil {
		return nil, nil, err
	}
	if err := c.Read(loc.parts[1].Offset, c2); err != nil {
		return nil, nil, err
	}
	return c1, c2, nil
}

// session is one run of U-Boot, or of fw_setenv: the environment in RAM
// and which copy it came from (gd->env_valid).
type session struct {
	chip boards.Flash
	loc  envLoc
	env  Env
	cur  Copy
}

// open loads the environment as env_sf_load does: read both copies,
// Select, and use the default environment when neither is good.
func (l *Loader) open(b *boards.Board) (*session, Selection, error) {
	loc, err := l.locate(b)
	if err != nil {
		return nil, Selection{}, err
	}
	c1, c2, err := loc.read(b.Chip)
	if err != nil {
		return nil, Selection{}, err
	}
	sel := Select(c1, c2)
	if sel.Copy == CopyNone {
		sel.Env = l.DefaultEnv()
	}
	return &session{chip: b.Chip, loc: loc, env: sel.Env.Clone(), cur: sel.Copy}, sel, nil
}

// saveenv writes the RAM environment as U-Boot's env/sf.c env_sf_save
// does with a redundant environment:
//
//  1. new = the copy not in use (copy 2 if copy 1 is in use, else copy 1);
//     if a sector is larger than the env, read the rest of new's sector
//  2. erase new's sectors, one operation each
//  3. program the whole new copy, flags ACTIVE (1), in one operation
//  4. if a sector is larger than the env, program the saved rest back
//  5. program the old copy's flags byte to OBSOLETE (0): one byte in place
//
// A cut after 3 and before 5 leaves two good copies flagged ACTIVE, and
// Select then takes copy 1 whichever is newer. A save that fails leaves
// the session's copy in use unchanged.
func (s *session) saveenv() error {
	env := s.env.Clone()
	env.Flags = FlagActive
	img, err := env.Encode(s.loc.size)
	if err != nil {
		return fmt.Errorf("uboot-ab: saveenv: %w", err)
	}
	newC, oldC := Copy1, Copy2
	if s.cur == Copy1 {
		newC, oldC = Copy2, Copy1
	}
	np, op := s.loc.parts[newC-1], s.loc.parts[oldC-1]
	var saved []byte
	if s.loc.sector > s.loc.size {
		saved = make([]byte, s.loc.sector-s.loc.size)
		if err := s.chip.Read(np.Offset+s.loc.size, saved); err != nil {
			return err
		}
	}
	for off := 0; off < s.loc.region; off += s.loc.sector {
		if err := s.chip.Erase(np.Offset + off); err != nil {
			return err
		}
	}
	if err := s.chip.Program(np.Offset, img); err != nil {
		return err
	}
	if saved != nil {
		if err := s.chip.Program(np.Offset+s.loc.size, saved); err != nil {
			return err
		}
	}
	if err := s.chip.Program(op.Offset+FlagsOffset, []byte{FlagObsolete}); err != nil {
		return err
	}
	s.cur = newC
	return nil
}
