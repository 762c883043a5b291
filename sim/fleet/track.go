package fleet

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"brickyard/sim/device"
	"brickyard/sim/index"
)

// Outcomes a device ends a campaign in (index.Device.Outcome).
const (
	Pending        = "pending"
	Updated        = "updated"
	RolledBack     = "rolled_back"
	Bricked        = "bricked"
	DownloadFailed = "download_failed"
	InstallFailed  = "install_failed"
	Unreachable    = "unreachable" // set by Finish: still pending at the end
)

// Connection states (index.Device.Conn).
const (
	ConnConnected    = "connected"
	ConnConnecting   = "connecting"
	ConnDisconnected = "disconnected"
)

// track is what the runner keeps of a device for the index and reports,
// derived from its core's events. It is a small struct, no map.
type track struct {
	version string // running version, as last booted
	target  string // the version last asked for, when the run's target is not given; "?" until known
	conn    string
	last    result // what the latest attempt at the target came to: the history
	steps   []step // the compact timeline: milestones only
	extra   *trackExtra
	boots   uint32
	phase   phase
	mark    bool // the next Connected is the first after a boot: a milestone
}

// trackExtra is what only some devices have: power cuts and a brick's
// reason, for reports (nil for the rest).
type trackExtra struct {
	cuts  []cutEvent
	brick string
}

// maxCuts bounds the power cuts kept per device (the last ones).
const maxCuts = 8

// cutEvent is one power cut, as the device's power-cut event told it.
type cutEvent struct {
	at     int64 // Unix nanoseconds
	phase  string
	kind   string // the flash operation: program or erase; empty when none was hit
	addr   int
	hasOps bool
}

// result is the history part of an outcome: how the latest attempt at the
// target ended, as the device's events told it.
type result uint8

const (
	resNone           result = iota // no attempt, or one under way
	resUpdated                      // the target ran for good (confirmed, or booted outside a trial)
	resRolledBack                   // the target was activated and the device came back on another image
	resDownloadFailed               // the download (transfer or validation) failed, or power was lost during it
	resInstallFailed                // writing the slot failed, or power was lost during it
)

// phase is what a device is doing (index.Device.Phase), as a small code.
type phase uint8

const (
	phOff phase = iota
	phBooting
	phIdle
	phTrial
	phDead
	phDownloading
	phInstalling
	phInstalled
	phRebooting
)

var phaseNames = [...]string{
	phOff: "off", phBooting: "booting", phIdle: "idle", phTrial: "trial", phDead: "dead",
	phDownloading: "downloading", phInstalling: "installing", phInstalled: "installed", phRebooting: "rebooting",
}

func (p phase) String() string { return phaseNames[p] }

// step is one milestone of a device's timeline: when, and which of
// milestones.
type step struct {
	at   int64 // Unix nanoseconds
	kind uint8
}

// milestones are the events a timeline keeps (download, install, reboot,
// boot, trial, commit / rollback / brick, and the power cuts that explain
// them, and the first connection after each boot); later connections,
// notifications and the like are left out to keep it small.
var milestones = []device.EventKind{
	device.EvDownloadStart, device.EvDownloaded, device.EvDownloadFailed, device.EvValidationFailed,
	device.EvInstall, device.EvInstalled, device.EvInstallFailed, device.EvActivate, device.EvActivateFailed,
	device.EvReboot, device.EvTrial, device.EvHealthFail, device.EvConfirmed, device.EvUpdated,
	device.EvRolledBack, device.EvBricked, device.EvPowerCut, device.EvBoot, device.EvConnected,
}

// maxSteps bounds a timeline; a device that keeps failing keeps its last
// maxSteps milestones.
const maxSteps = 32

// Step is one milestone of a device's timeline.
type Step struct {
	At   time.Time
	Kind device.EventKind
}

func (t *track) timeline() []Step {
	out := make([]Step, len(t.steps))
	for i, s := range t.steps {
		out[i] = Step{At: time.Unix(0, s.at).UTC(), Kind: milestones[s.kind]}
	}
	return out
}

func newTrack() track {
	return track{phase: phOff, conn: ConnDisconnected}
}

// event folds one device event into t. fixed reports whether the run gives
// the device's target (BoardGroup.Target); without one, the target is the
// version of the last image the device was asked to download.
func (t *track) event(e device.Event, fixed bool) {
	if k := slices.Index(milestones, e.Kind); k >= 0 && (e.Kind != device.EvConnected || t.mark) {
		if len(t.steps) == maxSteps {
			t.steps = append(t.steps[:0], t.steps[1:]...)
		}
		t.steps = append(t.steps, step{at: e.At.UnixNano(), kind: uint8(k)})
	}
	switch e.Kind {
	case device.EvPowerOn:
		t.phase = phBooting
	case device.EvBoot:
		t.boots++
		t.phase = phIdle
		t.mark = true
		if v := field(e.Detail, "version="); v != "" {
			t.version = v
		}
		if strings.HasSuffix(e.Detail, " trial") {
			t.phase = phTrial
		}
	case device.EvBricked:
		t.phase = phDead
		t.more().brick = strings.Clone(e.Detail)
	case device.EvPowerCut:
		t.cut(e)
		switch {
		case strings.HasPrefix(e.Detail, "phase=install"):
			t.last = resInstallFailed
		case t.phase == phDownloading:
			t.last = resDownloadFailed // the download died with the power
		}
		t.phase = phOff
	case device.EvDownloadStart:
		t.phase = phDownloading
		t.last = resNone // a new attempt
		if !fixed {
			t.target = "?"
		}
	case device.EvDownloaded:
		t.phase = phInstalling
		if v := field(e.Detail, "version="); v != "" && !fixed {
			t.target = v
		}
	case device.EvInstall:
		t.phase = phInstalling
		if v := field(e.Detail, "version="); v != "" && !fixed {
			t.target = v
		}
	case device.EvInstalled, device.EvActivatePending:
		t.phase = phInstalled
	case device.EvDownloadFailed, device.EvValidationFailed:
		t.phase, t.last = phIdle, resDownloadFailed
	case device.EvInstallFailed:
		t.phase, t.last = phIdle, resInstallFailed
	case device.EvActivate, device.EvReboot:
		t.phase = phRebooting
	case device.EvTrial:
		t.phase = phTrial
	case device.EvConfirmed, device.EvUpdated:
		t.phase, t.last = phIdle, resUpdated
	case device.EvRolledBack:
		t.last = resRolledBack
	case device.EvConnected:
		t.conn = ConnConnected
		t.mark = false
	case device.EvDisconnected:
		t.conn = ConnDisconnected
	}
}

func (t *track) more() *trackExtra {
	if t.extra == nil {
		t.extra = &trackExtra{}
	}
	return t.extra
}

// cut keeps a power cut: "phase=install op=12 erase@0x10000", or
// "phase=power-switch" (the fault plan's switch: during a download, or at
// an uptime).
func (t *track) cut(e device.Event) {
	c := cutEvent{at: e.At.UnixNano(), phase: field(e.Detail, "phase=")}
	if i := strings.IndexByte(c.phase, ':'); i >= 0 {
		c.phase = c.phase[:i]
	}
	if c.phase == "power-switch" && t.phase == phDownloading {
		c.phase = "download"
	}
	if op := field(e.Detail, " op="); op != "" {
		rest := e.Detail[strings.Index(e.Detail, " op=")+len(" op=")+len(op):]
		if kind, addr, ok := strings.Cut(strings.TrimSpace(rest), "@0x"); ok {
			if a, err := strconv.ParseInt(addr, 16, 64); err == nil {
				c.kind, c.addr, c.hasOps = strings.Clone(kind), int(a), true
			}
		}
	}
	x := t.more()
	if len(x.cuts) == maxCuts {
		x.cuts = append(x.cuts[:0], x.cuts[1:]...)
	}
	x.cuts = append(x.cuts, c)
}

// outcome is the device's outcome by the rule of the package comment:
// its firmware now (fw) against the target, with the history (t.last)
// saying why a device does not run the target. target is the run's target
// for the device, or "" to use the one its downloads gave (t.target).
func (t *track) outcome(fw device.Firmware, target string) string {
	target = t.targetOf(target)
	switch {
	case fw.Power == device.Dead:
		return Bricked
	case target != "" && target != "?" && fw.Power == device.On && fw.Version == target:
		if fw.Trial {
			return Pending // the target on trial: not settled yet
		}
		return Updated
	}
	switch t.last {
	case resRolledBack, resUpdated: // resUpdated: it ran the target, and runs another now
		return RolledBack
	case resDownloadFailed:
		return DownloadFailed
	case resInstallFailed:
		return InstallFailed
	}
	return Pending
}

// targetOf is the device's target: the run's (target), or else the one its
// downloads gave.
func (t *track) targetOf(target string) string {
	if target == "" {
		return t.target
	}
	return target
}

// mirror is the device's firmware as its events told it: what the fleet
// index and progress show while the run goes (the device core itself is
// read only at the end, see Virtual.Outcome).
func (t *track) mirror() device.Firmware {
	switch t.phase {
	case phDead:
		return device.Firmware{Power: device.Dead}
	case phOff, phBooting, phRebooting:
		// Off, or about to be: what it ran last stands until it boots.
		return device.Firmware{Power: device.On, Version: t.version}
	}
	return device.Firmware{Power: device.On, Version: t.version, Trial: t.phase == phTrial}
}

func (t *track) record(id, board, target string) index.Device {
	return index.Device{ID: id, Board: board, Version: t.version, Phase: t.phase.String(), Conn: t.conn,
		Outcome: t.outcome(t.mirror(), target), Boots: t.boots}
}

// field returns the value after key in a space-separated detail.
func field(s, key string) string {
	i := strings.Index(s, key)
	if i < 0 {
		return ""
	}
	s = s[i+len(key):]
	if j := strings.IndexByte(s, ' '); j >= 0 {
		s = s[:j]
	}
	return strings.Clone(s)
}
