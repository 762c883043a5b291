// Package boards models a board: an emulated flash chip, its partition
// layout, a bootloader and its updater, and the signed images they handle.
//
// A Bootloader is a model of a real one (U-Boot A/B with bootcount, MCUboot
// swap, ESP-IDF OTA, a single bank): it keeps its real on-flash metadata in
// its real binary layout and performs, on Write, Activate, Boot and Confirm,
// the sequence of flash operations the real code performs, so that a power
// cut at any of them has the consequence it has on hardware.
//
// The life of an update, as every Bootloader implements it:
//
//	Write(slot, image)  the download's flash writes into an inactive slot
//	Activate(slot)      the updater's commit: boot slot on trial next time
//	Boot()              power-on or reset: the loader decides what runs,
//	                    with its own writes (counters, swaps, state changes)
//	Confirm()           the running image, healthy, marks itself good
//
// Rules every model keeps:
//
//   - An image is booted only after it verifies: its digest, its signature
//     by a key of the board's keyring, its board id, and its security counter
//     against the board's (image.Verify). A corrupted or wrongly signed image
//     is never booted.
//   - Boot never returns an error for a bad state on flash: it falls back, or
//     reports Bricked with the reason. It returns an error only when the
//     flash itself fails (power lost during the boot's own writes).
//   - Loaders hold configuration only; everything that survives a power cut
//     is on the chip or in Board.SecurityCounter (the board's one-time
//     programmable counter). Board.Running is RAM: PowerCut clears it.
//
// The package is pure: no goroutines, no clock, no I/O.
package boards
