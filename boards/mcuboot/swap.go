package mcuboot

import (
	"fmt"

	"brickyard/boards"
	"brickyard/boards/image/formats"
	"brickyard/flash"
)

// swap is one swap in progress (struct boot_status): its type, the bytes
// to swap, and the next step.
type swap struct {
	typ    SwapType
	size   uint32 // swap_size: the larger image, header to end of signature
	region int    // next region, in swap order (0 = highest addressed)
	state  int    // records of that region already written (0-2)
}

// run is swap_run: the slots are cut into regions of as many sectors as
// scratch holds, from the sector holding byte swap_size−1 downwards, and
// each region from s.region on is swapped, resuming region s.region at
// s.state.
func (a *areas) run(s *swap) error {
	last := max(0, (int(s.size)+a.ss-1)/a.ss-1)
	per := a.scr.Size / a.ss
	for k := 0; last >= 0; k++ {
		first := max(0, last-per+1)
		if k >= s.region {
			if k > s.region {
				s.region, s.state = k, 0
			}
			if err := a.swapRegion(s, first*a.ss, (last-first+1)*a.ss); err != nil {
				return err
			}
		}
		last = first - 1
	}
	return nil
}

// swapRegion is boot_swap_sectors for the region at slot offset off of sz
// bytes, from step s.state:
//
//	state 0: erase scratch; [first region: scratch trailer init; unless
//	         the region holds the trailer: erase the primary trailer
//	         sector, primary trailer init, erase scratch again];
//	         copy secondary → scratch; record 1
//	state 1: erase the secondary region; copy primary → secondary;
//	         [first region not holding the trailer: erase the secondary
//	         trailer sector]; record 2
//	state 2: erase the primary region; copy scratch → primary; [region
//	         holding the trailer: copy records 1-2 from scratch, then
//	         image_ok (if SET in scratch), swap_info, swap_size, magic
//	         into the primary trailer]; record 3; [erase scratch's last
//	         sector, its trailer]
//
// When the region holds the trailer the copies stop below it, and the
// first two records go to scratch, whose trailer stands in for the
// primary's until state 2 rebuilds it.
func (a *areas) swapRegion(s *swap, off, sz int) error {
	copySz := sz
	if off+sz > a.pri.Size-a.ss { // the region holds the trailer sector
		copySz -= a.trailer
	}
	useScratch := s.region == 0 && copySz != sz
	rec := a.pri
	if useScratch {
		rec = a.scr
	}
	if s.state == 0 {
		if err := a.erase(a.scr, 0, a.scr.Size); err != nil {
			return err
		}
		if s.region == 0 {
			if err := a.statusInit(a.scr, s); err != nil {
				return err
			}
			if !useScratch {
				if err := a.eraseTrailerSectors(a.pri); err != nil {
					return err
				}
				if err := a.statusInit(a.pri, s); err != nil {
					return err
				}
				if err := a.erase(a.scr, 0, a.scr.Size); err != nil {
					return err
				}
			}
		}
		if err := a.copyRegion(a.sec, off, a.scr, 0, copySz); err != nil {
			return err
		}
		if err := a.writeStatus(rec, s.region, 0); err != nil {
			return err
		}
		s.state = 1
	}
	if s.state == 1 {
		if err := a.erase(a.sec, off, sz); err != nil {
			return err
		}
		if err := a.copyRegion(a.pri, off, a.sec, off, copySz); err != nil {
			return err
		}
		if s.region == 0 && !useScratch {
			if err := a.eraseTrailerSectors(a.sec); err != nil {
				return err
			}
		}
		if err := a.writeStatus(rec, s.region, 1); err != nil {
			return err
		}
		s.state = 2
	}
	if err := a.erase(a.pri, off, sz); err != nil {
		return err
	}
	if err := a.copyRegion(a.scr, 0, a.pri, off, copySz); err != nil {
		return err
	}
	if useScratch {
		if err := a.moveTrailer(s, off+copySz); err != nil {
			return err
		}
	}
	if err := a.writeStatus(a.pri, s.region, 2); err != nil {
		return err
	}
	if useScratch {
		// Only scratch's last sector, which holds its trailer: erasing
		// all of scratch upwards would, cut after its first sector, leave
		// a GOOD scratch trailer pointing at records 1-2 of region 0 with
		// region 0's data gone, and the resumed step 2 would copy erased
		// bytes into primary.
		if err := a.eraseTrailerSectors(a.scr); err != nil {
			return err
		}
	}
	s.region, s.state = s.region+1, 0
	return nil
}

// moveTrailer rebuilds the primary trailer from scratch's after the
// region holding it was copied: the first region's records 1 and 2 (one
// program of two write units at statusOff, the start of the primary
// status area), then image_ok if scratch has it SET, swap_info unless
// NONE, swap_size, and the magic last.
func (a *areas) moveTrailer(s *swap, statusOff int) error {
	if err := a.copyRegion(a.scr, a.scr.Size-a.scrTrailer, a.pri, statusOff, (States-1)*a.wu); err != nil {
		return err
	}
	st, err := a.readTrailer(a.scr)
	if err != nil {
		return err
	}
	if st.ImageOK == FlagSet {
		if err := a.writeImageOK(a.pri); err != nil {
			return err
		}
	}
	if st.SwapType != SwapNone {
		if err := a.writeSwapInfo(a.pri, st.SwapType); err != nil {
			return err
		}
	}
	if err := a.writeSwapSize(a.pri, s.size); err != nil {
		return err
	}
	return a.writeMagic(a.pri)
}

// statusInit is swap_status_init on area p: swap_info (unless NONE),
// image_ok if the secondary trailer has it SET, swap_size, then the magic.
func (a *areas) statusInit(part boards.Partition, s *swap) error {
	if s.typ != SwapNone {
		if err := a.writeSwapInfo(part, s.typ); err != nil {
			return err
		}
	}
	st, err := a.readTrailer(a.sec)
	if err != nil {
		return err
	}
	if st.ImageOK == FlagSet {
		if err := a.writeImageOK(part); err != nil {
			return err
		}
	}
	if err := a.writeSwapSize(part, s.size); err != nil {
		return err
	}
	return a.writeMagic(part)
}

// finish is what boot_perform_update and boot_complete_partial_swap write
// after the data is swapped: image_ok (PERM and REVERT, only if UNSET),
// then copy_done (every upgrade). image_ok comes first: a cut between the
// two must not leave the REVERT row's state behind.
func (a *areas) finish(t SwapType) error {
	pt, err := a.readTrailer(a.pri)
	if err != nil {
		return err
	}
	if (t == SwapPerm || t == SwapRevert) && pt.ImageOK == FlagUnset {
		if err := a.writeImageOK(a.pri); err != nil {
			return err
		}
	}
	if t.IsUpgrade() && pt.CopyDone != FlagSet {
		return a.writeCopyDone(a.pri)
	}
	return nil
}

// swapSize is the size a new swap moves: the larger of the two images
// (boot_read_image_size: header to the end of the signature), 0 for a
// slot whose header does not parse, at most the slot below its trailer.
func (a *areas) swapSize() (uint32, error) {
	n := 0
	for _, p := range []boards.Partition{a.pri, a.sec} {
		m, err := a.imageSize(p)
		if err != nil {
			return 0, err
		}
		n = max(n, m)
	}
	return uint32(min(n, a.maxImage())), nil
}

// imageSize reads the header at the start of p and returns the image's
// size as boot_read_image_size does, in whatever format the slot holds
// (formats.Extent: an MCUboot image to the end of its TLVs), or 0 when
// no header parses.
func (a *areas) imageSize(p boards.Partition) (int, error) {
	n, ok := formats.Extent(chipReader{a.c, p}, int64(p.Size))
	if !a.c.Powered() {
		return 0, flash.ErrPowerLost
	}
	if !ok {
		return 0, nil
	}
	return int(n), nil
}

// chipReader reads a partition of a chip as an io.ReaderAt.
type chipReader struct {
	c interface {
		Read(addr int, buf []byte) error
	}
	p boards.Partition
}

func (r chipReader) ReadAt(buf []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(buf)) > int64(r.p.Size) {
		return 0, fmt.Errorf("read at %d+%d outside %q: %w", off, len(buf), r.p.Name, flash.ErrOutOfRange)
	}
	if err := r.c.Read(r.p.Offset+int(off), buf); err != nil {
		return 0, err
	}
	return len(buf), nil
}
