// Package emu is board-emu: the reference firmware of a bench board, over
// a simulated board of any profile. It is what brickyard's bench tests run
// against, and the executable specification of docs/bench-protocol.md for
// whoever writes a real board's test firmware.
//
// An Emu behaves as a board on a UART does:
//
//   - it is off until its power line is on; at power-on and at every reset
//     it prints its bootloader's boot log (U-Boot, MCUboot or ESP-IDF
//     style), runs the bootloader model's Boot with its flash writes, and
//     then its link comes up with a Hello;
//   - every byte it sends and receives takes the time it takes on a UART
//     at the configured baud rate (ten bits a byte), in both directions;
//   - its flash operations take time (EraseTime, ProgramTime): a power
//     line dropped during one tears it, and the line dropped at any moment
//     stops the board there, mid-frame if it was sending;
//   - its rig (wire.CapCut) cuts its power at an operation the host arms,
//     exactly, with the torn bits of the seeds it is given, and reports the
//     operation in a Cut event; the board then stays off until its power
//     line is cycled.
//
// Its lines (power, reset, boot mode) are periph gpio pins it watches
// (Lines; in one process, Wire connects a host's output to them), or calls
// of SetPower, Reset and SetBootMode (ControlHandler serves them in
// pdudaemon's URL form, for an emulator in another process).
//
// One Emu runs on one port (Serve) and owns the goroutines it starts:
// the supervisor (Serve's own), the receiver, the firmware of the current
// boot, and one watcher per line; Serve returns after all of them end.
package emu
