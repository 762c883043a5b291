package fleet

import (
	"strings"

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
	phase   string
	conn    string
	outcome string
	boots   uint32
}

func newTrack() track {
	return track{phase: "off", conn: ConnDisconnected, outcome: Pending}
}

// event folds one device event into t.
func (t *track) event(e device.Event) {
	switch e.Kind {
	case device.EvPowerOn:
		t.phase = "booting"
	case device.EvBoot:
		t.boots++
		t.phase = "idle"
		if v := field(e.Detail, "version="); v != "" {
			t.version = v
		}
		if strings.HasSuffix(e.Detail, " trial") {
			t.phase = "trial"
		}
	case device.EvBricked:
		t.phase, t.outcome = "dead", Bricked
	case device.EvPowerCut:
		t.phase = "off"
		if strings.HasPrefix(e.Detail, "phase=install") && t.outcome != Bricked {
			t.outcome = InstallFailed
		}
	case device.EvDownloadStart:
		t.phase = "downloading"
	case device.EvDownloaded, device.EvInstall:
		t.phase = "installing"
	case device.EvInstalled, device.EvActivatePending:
		t.phase = "installed"
	case device.EvDownloadFailed, device.EvValidationFailed:
		t.phase, t.outcome = "idle", DownloadFailed
	case device.EvInstallFailed:
		t.phase, t.outcome = "idle", InstallFailed
	case device.EvActivate, device.EvReboot:
		t.phase = "rebooting"
	case device.EvTrial:
		t.phase = "trial"
	case device.EvConfirmed, device.EvUpdated:
		t.phase, t.outcome = "idle", Updated
	case device.EvRolledBack:
		t.outcome = RolledBack
	case device.EvConnected:
		t.conn = ConnConnected
	case device.EvDisconnected:
		t.conn = ConnDisconnected
	}
}

func (t *track) record(id, board string) index.Device {
	return index.Device{ID: id, Board: board, Version: t.version, Phase: t.phase, Conn: t.conn, Outcome: t.outcome, Boots: t.boots}
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
