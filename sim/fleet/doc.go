// Package fleet runs many simulated devices (brickyard/sim/device cores)
// against one controller: the shells around the pure device cores.
//
// # Virtual time (Virtual)
//
// Virtual is the deterministic runner. It starts no goroutines: the
// goroutine that calls Run / RunUntil drives every device core, the
// controller (Controller) and the fleet index from one vtime.Scheduler and
// one seeded generator. There is no network, no clock and no I/O besides
// the optional event-log writer. The same Config (and the same seed) gives
// the same event log, byte for byte.
//
// Event ordering: events run in order of virtual time; events of the same
// time in the order they were scheduled (vtime's rule). Each device Output
// is applied in the order device.Output documents: Records are put on the
// link first, then Disconnect, then Reboot/Dead (which drops every timer,
// download and pending delivery of the device's power generation), then
// Timers, CancelFetches and Fetches, then Connect. Records on one link
// direction keep their order (a later Record is never delivered before an
// earlier one). A device's event-log lines are its Output.Events in order,
// plus the runner's own lines: link-up (before the events of the Connected
// it leads to), link-fail, link-down and power-off (after the events of
// the Output that caused them), net-drop (a Record lost to a fault window).
// The controller learns of a closed session after the Records the agent
// sent before closing it. A device's PowerAtUptime cut happens once per
// run, that long after the first boot that comes up.
//
// # Real time (Real)
//
// Real runs one goroutine per device: that goroutine alone owns its device
// core, its MTP session (mtp.Conn, opened with an mtp.Dialer) and its
// timers (from an injected Clock). A session's reader goroutine is a child
// of the device goroutine, which waits for it. Real.Run(ctx) blocks; the
// caller owns the goroutine that calls it; Run returns only after every
// goroutine it started has ended.
//
// The fault plan's network windows count from Run's start and act on the
// device's side of its session: net-drop loses a Record (either way) with
// the window's probability, net-delay holds Records back in order,
// net-partition loses every Record and fails new sessions until it ends
// (logged as net-drop and link-fail partition). Power cuts and download
// faults act as in virtual time.
//
// # Outcomes
//
// Every device ends a firmware campaign in one named outcome: its firmware
// state at the end, measured against the campaign's target version for it
// (BoardGroup.Target; when a group gives none, the version in the header
// of the last image the device downloaded, or unknown while none has
// arrived). The operations that led there are history, kept apart
// (Timeline, Cuts); they only say why a device that is not on its target
// is not. In this order:
//
//   - bricked: nothing bootable; its last boot found no image.
//   - updated: it runs the target, not on trial, and its flash boots the
//     target again at the next power-on, not on trial (NextBoot on a copy
//     of its board).
//   - rolled_back, download_failed, install_failed: it runs another image
//     (or the target still on trial, or with its flash set to boot another
//     one), and its latest attempt at the target ended that way: the
//     target was activated and the device came back on another image (or
//     it ran the target and now runs another); the transfer or the image's
//     validation failed, or power was lost during the download; writing
//     the slot failed, or power was lost during it. A new download starts
//     a new attempt.
//   - pending: none of these: no attempt yet, one under way, or the
//     target on trial. Callers name what pending means at the end of a run
//     (Finish makes it Unreachable).
//
// Outcome and Record read this from the device's core and board; the
// fleet index and Virtual.Count follow it as the device's events tell it
// while the run goes (a device that is off is shown as it last ran). The
// index (brickyard/sim/index) follows each device's board, version, phase,
// connection state, outcome and boot count.
package fleet
