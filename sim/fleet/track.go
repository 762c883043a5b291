package fleet

import (
	"slices"
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
	version string
	conn    string
	outcome string
	steps   []step // the compact timeline: milestones only
	boots   uint32
	phase   phase
}

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
// trial, commit / rollback / brick, and the power cuts that explain them);
// connections, notifications and the like are left out to keep it small.
var milestones = []device.EventKind{
	device.EvDownloadStart, device.EvDownloaded, device.EvDownloadFailed, device.EvValidationFailed,
	device.EvInstall, device.EvInstalled, device.EvInstallFailed, device.EvActivate, device.EvActivateFailed,
	device.EvReboot, device.EvTrial, device.EvHealthFail, device.EvConfirmed, device.EvUpdated,
	device.EvRolledBack, device.EvBricked, device.EvPowerCut,
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
	return track{phase: phOff, conn: ConnDisconnected, outcome: Pending}
}

// event folds one device event into t.
func (t *track) event(e device.Event) {
	if k := slices.Index(milestones, e.Kind); k >= 0 {
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
		if v := field(e.Detail, "version="); v != "" {
			t.version = v
		}
		if strings.HasSuffix(e.Detail, " trial") {
			t.phase = phTrial
		}
	case device.EvBricked:
		t.phase, t.outcome = phDead, Bricked
	case device.EvPowerCut:
		switch {
		case t.outcome == Bricked:
		case strings.HasPrefix(e.Detail, "phase=install"):
			t.outcome = InstallFailed
		case t.phase == phDownloading && t.outcome == Pending:
			t.outcome = DownloadFailed // the download died with the power
		}
		t.phase = phOff
	case device.EvDownloadStart:
		t.phase = phDownloading
	case device.EvDownloaded, device.EvInstall:
		t.phase = phInstalling
	case device.EvInstalled, device.EvActivatePending:
		t.phase = phInstalled
	case device.EvDownloadFailed, device.EvValidationFailed:
		t.phase, t.outcome = phIdle, DownloadFailed
	case device.EvInstallFailed:
		t.phase, t.outcome = phIdle, InstallFailed
	case device.EvActivate, device.EvReboot:
		t.phase = phRebooting
	case device.EvTrial:
		t.phase = phTrial
	case device.EvConfirmed, device.EvUpdated:
		t.phase, t.outcome = phIdle, Updated
	case device.EvRolledBack:
		t.outcome = RolledBack
	case device.EvConnected:
		t.conn = ConnConnected
	case device.EvDisconnected:
		t.conn = ConnDisconnected
	}
}

func (t *track) record(id, board string) index.Device {
	return index.Device{ID: id, Board: board, Version: t.version, Phase: t.phase.String(), Conn: t.conn, Outcome: t.outcome, Boots: t.boots}
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
