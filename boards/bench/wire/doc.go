// Package wire is the bench link protocol's encoding, version 1: frames
// on a UART shared with a board's boot log, and the payloads of its
// operations. docs/bench-protocol.md is the specification; this package
// and the C codec in boards/bench/c are its two implementations, tested
// against each other.
//
// A frame on the wire is
//
//	0x00  0xA5  COBS(header ‖ payload ‖ CRC-32)  0x00
//
// header = version (1), type, flags, seq, payload length (u16 LE); the
// CRC-32 (IEEE, LE) covers header and payload. COBS leaves no 0x00 inside
// the frame, so the delimiters resynchronise after line noise, and
// everything that is not a frame is the board's console text (Splitter).
//
// The package is pure: no goroutines, no I/O, no clock.
package wire
