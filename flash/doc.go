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
// writes its own. A chip's memory is its own differences plus a small
// chunk table.
//
// A Chip is not safe for concurrent use; it starts no goroutines, reads no
// clock and does no I/O.
package flash
