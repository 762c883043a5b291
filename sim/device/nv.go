package device

import (
	"encoding/binary"
	"strings"
)

// nvState is the device's non-volatile store: what survives a reboot or a
// power cut besides the chip. It stands for the configuration partition
// (or EEPROM) of a real device, but is kept in the Device, not on the
// emulated chip: its writes are not flash operations, cost no wear and are
// never torn. Each field is written at the moment its value changes,
// except model: while the device runs, the persistent part of its data
// model is the live Model's, and model is taken from it (a dm Snapshot) at
// the moment the device goes off — a reboot (restart) or a power loss
// (powerLost), the only ways out of On. model is read only by the next
// boot (start), so taking it then rather than after every input that
// changed the model keeps exactly what the model held at the cut, and
// spares every running device a second copy of its persistent state.
type nvState struct {
	model []byte // the data model's persistent part (dm Snapshot) as of the last power-off; nil: factory defaults
	seq   uint64 // with model nil: the Notify msg_id counter to carry over a factory reset

	good      imageID // the image that last ran for good (booted outside a trial, or confirmed)
	target    int     // FirmwareImage row (1-based) activated and not yet settled; 0: none
	targetVer string  // the version it holds

	cause, reason, key string // the next Boot!'s Cause, Reason, CommandKey; cause "": unplanned (power loss)
	failLog            string // why the image on trial gave up, for its BootFailureLog
	booted             bool   // the device has booted before (else the next Boot! is a first boot)
	firstUse           int64  // Unix seconds of the first boot: DeviceInfo.FirstUseDate
	bootReq            bool   // a controller wrote BootFirmwareImage: the next Reboot() activates it
}

// notifySeq reads the Notify msg_id counter of a dm Snapshot (format
// version 1, documented in usp/dm/snapshot.go: "BYDM" 0x01 uvarint(seq) …).
func notifySeq(snap []byte) uint64 {
	rest, ok := strings.CutPrefix(string(snap), snapMagic)
	if !ok {
		return 0
	}
	v, n := binary.Uvarint([]byte(rest))
	if n <= 0 {
		return 0
	}
	return v
}

// seqSnapshot is an empty dm Snapshot that holds only the msg_id counter:
// restored into a fresh model, it keeps msg_ids from being reused after a
// factory reset.
func seqSnapshot(seq uint64) []byte {
	b := binary.AppendUvarint([]byte(snapMagic), seq)
	return append(b, 0, 0, 0, 0) // root row: no values, no counters, no rows; no pending Notify
}

const snapMagic = "BYDM\x01"

// imageID tells images apart for FirmwareUpdated: the slot running and the
// version of its image.
type imageID struct{ slot, version string }

// bootInfo is the Boot! of the current boot.
type bootInfo struct {
	cause, reason, key string
	fwUpdated          bool
}

// restartReq is a reboot a command asked for: it happens once the
// command's response has been sent.
type restartReq struct {
	cause, reason, key string
	factory            bool
}
