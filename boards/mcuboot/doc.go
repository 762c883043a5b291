// Package mcuboot models MCUboot with swap using scratch ("mcuboot-swap"):
// partitions "primary" and "secondary" of equal size and "scratch" of at
// least one sector, MCUboot's image trailer at the end of each slot, its
// swap-type decision table, its status-record swap and its resumption
// after power loss. Images are brickyard's own signed format (package
// image), not MCUboot's header; sizes come from its header.
//
// # Trailer (BOOT_MAX_ALIGN 8; W = the chip's write unit, at most 8)
//
//	slot end − 16   magic, 16 bytes (Magic)
//	slot end − 24   image_ok   1 byte padded to 8: 0x01 SET, erased UNSET, else BAD
//	slot end − 32   copy_done  same
//	slot end − 40   swap_info  bits 0-3 swap type, 4-7 image number
//	slot end − 48   swap_size  u32 LE padded to 8
//	below           status: MaxImageSectors × 3 records of W bytes
//
// MaxImageSectors (BOOT_MAX_IMG_SECTORS) defaults to the slot's sector
// count; the whole trailer must fit the slot's last sector. Scratch has
// the same layout with a status area of one region (3 records). Record
// (region k, state s) sits k×3W + s×W above the start of the status area,
// regions numbered in swap order (0 = the highest region, swapped first),
// as swap_scratch.c writes them. "Erased" is the chip's erased value,
// 0xFF or 0x00. Every trailer write is one program of W-padded bytes
// (magic: 16 bytes; swap_size: 4 bytes padded to W).
//
// # Flash operations per method
//
//	Provision  WriteImage(primary); primary image_ok, copy_done, magic;
//	           erase the sectors of secondary and scratch not yet erased
//	Write      WriteImage(secondary): erase every sector, the trailer
//	           included, then program the image (refused while the
//	           primary is on trial)
//	Activate   set_pending: secondary magic, [Permanent: image_ok = 1],
//	           swap_info = TEST or PERM; nothing if the magic is GOOD;
//	           a BAD magic erases the slot
//	Confirm    set_confirmed: primary image_ok = 1 if magic GOOD and
//	           image_ok UNSET; then the board's security counter is raised
//	Boot       see Loader.Boot: resume, or decide, verify, swap, finish
//
// A swap (TEST, PERM or REVERT alike) moves the sectors holding the larger
// image, in regions of as many sectors as scratch holds, highest first.
// For each region: erase scratch → copy secondary → scratch → record 1 →
// erase secondary → copy primary → secondary → record 2 → erase primary →
// copy scratch → primary → record 3. Copies are programs of 1024-byte
// chunks (boot_copy_region's buffer); erases are one operation per sector.
// The first region also initialises the trailers (swap_info, image_ok
// from the secondary, swap_size, magic): in scratch, and in a freshly
// erased primary trailer sector when the region does not reach it. When
// it does (the image reaches the last sector), copies stop below the
// trailer, records 1-2 go to scratch, and after the copy back the primary
// trailer is rebuilt from scratch's before record 3; scratch's last
// sector, its trailer, is then erased (only that sector: see swapRegion).
// After the last region: image_ok = 1 (PERM, REVERT; if UNSET), then
// copy_done = 1.
//
//	end state  primary trailer              secondary trailer
//	TEST       GOOD, image_ok UNSET, SET    erased
//	PERM       GOOD, image_ok SET, SET      erased
//	REVERT     GOOD, image_ok SET, SET      erased
//	refused    image_ok SET (if UNSET)      slot erased (an empty one: its trailer sector)
//
// # Hazards the model reproduces
//
//   - PERM degrades to TEST: set_pending(permanent) writes the magic, then
//     image_ok. A cut between the two leaves magic GOOD and image_ok UNSET:
//     row II, a test swap, and a revert at the next reset unless the image
//     confirms. Activating again does not repair it (the magic is GOOD).
//   - No swap to an invalid image: a requested secondary that does not
//     verify is never booted; it is erased and primary image_ok is set so
//     the request is not retried (a REVERT whose target is invalid keeps
//     the test image for good).
//   - Resumption: a cut anywhere in a swap is finished at the next boot
//     from the first record not written; every step erases its
//     destination first and its source is untouched until the next record,
//     so steps repeat safely and the end state equals an uninterrupted
//     run's (byte for byte after a cut before an operation). A torn record counts as written (its step had finished). A
//     torn trailer flag decodes BAD: a BAD copy_done or image_ok ends the
//     trial without a confirm (the test image stays), as on hardware.
//
// The package is pure: no goroutines, no clock, no I/O.
package mcuboot
