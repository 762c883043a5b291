// Package flash emulates a NOR flash chip: its geometry, its program and
// erase semantics, its wear, and what a power cut leaves behind.
//
// # Semantics
//
//   - Erase works on whole sectors and sets every byte to the erased value
//     (0xFF, or 0x00 on some MCU flash).
//   - Program moves bits away from the erased value only: on 0xFF flash the
//     new byte is old AND data, on 0x00 flash old OR data. Programming a unit
//     that is not erased does what Geometry.Rewrite says: combine as above
//     (NOR), or fail with ErrNotErased (ECC-protected MCU flash).
//   - Program addresses and lengths are multiples of the write unit.
//   - Each Program or Erase call is one operation. Ops counts them; reads
//     are not operations.
//
// # Power loss
//
// A cut is armed for one operation index (ArmCut). When that operation
// starts, power is lost:
//
//   - CutBefore: the operation does nothing.
//   - CutAfter: the operation completes, then power is lost.
//   - CutTorn: a program leaves a prefix of its write units written and the
//     next unit partly programmed (a random subset of its bit transitions);
//     an erase leaves its sector indeterminate (old head and a programmed
//     tail, as NOR's pre-program phase does, or a mix of erased and
//     programmed bytes). The torn bits come from the generator passed to
//     ArmCut, so the same seed gives the same bytes.
//
// After a cut every call returns ErrPowerLost until PowerOn. Nothing else is
// volatile: bytes that were written stay written.
//
// # Storage
//
// Content lives in 4 KiB pages grouped in chunks of 64 pages. Pages and
// chunks are shared copy-on-write: a Blob (a factory image, a downloaded
// firmware image) is stored once, and every chip created from it or
// programmed from it with ProgramBlob points at the same pages until it
// writes its own.
//
// A chip's tables are shared the same way, so that the chips of a fleet,
// cloned from one provisioned board, cost almost nothing until they write:
//
//   - The chunk table (8 bytes per 256 KiB) is shared by a Clone, by a
//     Snapshot and with the Blob a chip was made from when that Blob covers
//     the whole chip; the chip copies it when it first changes a chunk.
//   - Wear is created at the first erase and kept as runs of consecutive
//     sectors with the same count: an install that erases an image's
//     sectors in order leaves one or two runs, however large the image. A
//     Clone shares it until either chip erases. A chip whose erases are so
//     scattered that its runs would outgrow 4 bytes per sector, or number
//     more than 512, switches to a count per sector.
//
// A chip is therefore one 96-byte struct, plus its own chunk table once it
// writes, plus about 100 bytes of wear once it erases, plus the pages and
// chunks it wrote itself. An 8 MiB chip of 4 KiB sectors made from a
// factory Blob, or cloned, takes 96 bytes; one that erased and programmed
// its two 4 MiB banks from image Blobs sector by sector takes 448 bytes
// (BenchmarkMemoryPerChip).
//
// What chips write themselves they can share too: Chip.Share hands a
// chip's own pages and chunks to a Pool, which keeps one frozen copy of
// each content (weakly: a copy no chip holds is collected). The devices
// of a fleet that install the same image, or whose bootloader swaps it
// into the same slot, then hold one copy between them instead of one
// each; a power-cut study's fleet needs a fifth of the memory it did.
//
// A Chip is not safe for concurrent use; it starts no goroutines, reads no
// clock and does no I/O.
package flash
