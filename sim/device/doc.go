// Package device is brickyard's simulated device: a USP Agent with the
// TR-181 Device:2 data model, bound to a board (flash chip, partition
// layout, bootloader), written as a pure core. A Device takes one input at
// a time and returns an Output saying what must happen next; it starts no
// goroutines, reads no clock (every input carries now), does no I/O and
// keeps no global state. Its randomness (Notify retry and reconnect jitter,
// torn flash bits) comes from a generator seeded by Config.Seed, so the
// same inputs give the same outputs, byte for byte. A Device is not safe
// for concurrent use: one shell (a device goroutine, or the virtual-time
// runner) owns it.
//
// # The loop
//
// The shell owns the MTP session, the timers and the downloads:
//
//	out := d.PowerOn(now)                 // boot; asks to connect
//	for {
//		apply(out)                        // see Output for the order
//		out = d.Connected(now)            // the MTP session is up
//		out = d.Receive(now, record)      // a Record from the controller
//		out = d.Timer(now, id)            // a timer the device set is due
//		out = d.FetchDone(now, id, b, err)// a download it asked for ended
//		out = d.Disconnected(now)         // the session was lost
//		out = d.PowerCut(now)             // the fault plan cuts power
//	}
//
// # The firmware life cycle
//
// FirmwareImage.{i} rows are the bootloader's slots (Loader.Slots), numbered
// from 1. Download() fetches an image through the shell (Output.Fetches),
// checks the CheckSum, verifies the image against the board's keyring,
// board id and security counter, and writes it through Loader.Write: the
// row goes Downloading → Validating → Available, or DownloadFailed,
// ValidationFailed, InstallationFailed. OperationComplete and
// TransferComplete! follow. Activation (AutoActivate, Activate() in a time
// window, or BootFirmwareImage + Reboot()) calls Loader.Activate, sends
// OperationComplete, then a DisconnectRecord, and reboots. A new image
// booted on trial confirms itself (Loader.Confirm) when it exchanges its
// first Record with a controller, unless its application fails its health
// check; otherwise it resets when Config.TrialPeriod ends and the
// bootloader falls back: the row becomes ActivationFailed with a
// BootFailureLog, BootFirmwareImage is left as it was, and Boot! says
// FirmwareUpdated=false.
//
// # Power loss
//
// Every flash operation is done inside the input that causes it, before
// its Output is returned: whatever a Record in that Output acknowledges is
// already on the chip. A power cut (PowerCut, or a fault of Config.Faults
// landing on a flash operation of the install or of the trial boot) loses
// the RAM: the data model's non-persistent state, the running commands
// (their Request rows), the MTP session, the timers and downloads. What
// survives is the chip (with whatever the cut left on it) and the device's
// non-volatile store: the persistent part of the data model (a dm
// Snapshot: Controllers, their BootParameters and MTPs, persistent
// subscriptions, FirmwareImage rows, BootFirmwareImage) and the facts the
// next Boot! needs (cause, command key, the image being activated). That
// store is kept in the Device, not on the emulated chip: its writes are
// not flash operations and are never torn.
package device
