package device

import (
	"fmt"
	"time"

	"brickyard/sim/faults"
)

// Output is what the shell must do after an input. Apply it in this order:
//
//  1. Send Records on the MTP session, in order. The device only emits
//     Records while the session is up (between Connected and Disconnected);
//     what it produces meanwhile waits in the device (at most 32 Records,
//     the oldest dropped first) until the next Connected.
//  2. If Disconnect: close the MTP session, after the Records are sent (a
//     DisconnectRecord, R-MTP.7, is then the last of them).
//  3. If Reboot is not zero, the device has no power from now on: drop
//     every timer and download of the device, then call PowerOn at Reboot.
//     If Dead, the device is bricked: it answers nothing and sets nothing;
//     PowerOn boots it again (and finds it bricked again).
//  4. Otherwise set the Timers (a timer replaces the earlier one of the
//     same ID; a zero At cancels it), cancel the CancelFetches and start
//     the Fetches.
//  5. If Connect: open the MTP session (sending the binding's Connect
//     Record, R-MTP.6), then call Connected, or Disconnected if it failed.
//
// Flash writes are never an effect to apply: the core has done them on the
// board before returning (persist before acknowledge). Events are for
// reports and logs only, in the order things happened.
type Output struct {
	Records       []Record
	Disconnect    bool
	Reboot        time.Time
	Dead          bool
	Timers        []Timer
	CancelFetches []FetchID
	Fetches       []Fetch
	Connect       bool
	// Redial (with Disconnect and Connect) says the session closes because
	// a controller moved it: the next one goes where Device.Target says,
	// at once rather than after a retry wait.
	Redial bool
	Events []Event
}

// Record is one encoded USP Record to send.
type Record struct {
	To   string // the recipient's Endpoint ID (the Record's to_id)
	Data []byte
}

// TimerID names a timer of the device. The named ones are singletons; an
// Activate() time window gets an ID of its own.
type TimerID uint64

// The device's timers.
const (
	TimerModel     TimerID = iota + 1 // the data model's next Tick: Notify retries, subscription TimeToLive
	TimerTrial                        // the end of a new image's trial period
	TimerPeriodic                     // the next Periodic! event
	TimerReconnect                    // the next attempt to open the MTP session
	TimerOnBoard                      // the next OnBoardRequest (OnBoardingRestartTime)
	TimerSession                      // the E2E sessions' next retransmission, acknowledgement or expiry
	timerWindow    TimerID = 1 << 32  // + n: an Activate() time window opens
)

func (id TimerID) String() string {
	switch id {
	case TimerModel:
		return "model"
	case TimerTrial:
		return "trial"
	case TimerPeriodic:
		return "periodic"
	case TimerReconnect:
		return "reconnect"
	case TimerOnBoard:
		return "onboard"
	case TimerSession:
		return "session"
	}
	if id > timerVendor {
		return fmt.Sprintf("vendor-%d", uint64(id-timerVendor))
	}
	if id > timerWindow {
		return fmt.Sprintf("window-%d", uint64(id-timerWindow))
	}
	return fmt.Sprintf("timer-%d", uint64(id))
}

// Timer asks the shell to call Device.Timer(At, ID) at At (a zero At
// cancels the timer ID). A timer that fires late, or after a reboot, is
// harmless: the device ignores timers it no longer expects.
type Timer struct {
	ID TimerID
	At time.Time
}

// FetchID names a download the device asked for.
type FetchID uint64

// Fetch asks the shell to download URL (HTTP Basic authentication with
// Username and Password when Username is not empty) and then call
// Device.FetchDone with the bytes or the error. The fault fields are the
// device's download faults for the shell to apply to this transfer.
type Fetch struct {
	ID                 FetchID
	URL                string
	Username, Password string
	SizeHint           uint64 // Download()'s FileSize, 0: unknown
	MaxSize            int    // the target slot's size: a larger image cannot be installed

	Rate     int         // bytes per second, 0: unlimited
	Truncate float64     // deliver only this fraction of the bytes (0: all)
	Corrupt  bool        // flip a byte of what is delivered
	PowerCut *faults.Cut // call PowerCut once this fraction of the bytes has arrived
}

// EventKind names what happened, for reports.
type EventKind string

// Event kinds.
const (
	EvPowerOn          EventKind = "power-on"
	EvBoot             EventKind = "boot"
	EvBricked          EventKind = "bricked"
	EvPowerCut         EventKind = "power-cut"
	EvConnected        EventKind = "connected"
	EvDisconnected     EventKind = "disconnected"
	EvBootNotify       EventKind = "boot-notify"
	EvDownloadStart    EventKind = "download-start"
	EvDownloaded       EventKind = "downloaded"
	EvDownloadFailed   EventKind = "download-failed"
	EvValidationFailed EventKind = "validation-failed"
	EvInstall          EventKind = "install"
	EvInstalled        EventKind = "installed"
	EvInstallFailed    EventKind = "install-failed"
	EvActivatePending  EventKind = "activate-pending"
	EvActivate         EventKind = "activate"
	EvActivateFailed   EventKind = "activate-failed"
	EvCanceled         EventKind = "canceled"
	EvReboot           EventKind = "reboot"
	EvTrial            EventKind = "trial"
	EvConfirmed        EventKind = "confirmed"
	EvHealthFail       EventKind = "health-fail"
	EvTrialEnd         EventKind = "trial-end"
	EvRolledBack       EventKind = "rolled-back"
	EvUpdated          EventKind = "updated"
	EvOnBoardRequest   EventKind = "onboard-request"
	EvRetarget         EventKind = "retarget"
	EvUserPrompt       EventKind = "user-prompt"
)

// Event is one thing that happened to the device.
type Event struct {
	At     time.Time
	Kind   EventKind
	Detail string
}

func (e Event) String() string {
	if e.Detail == "" {
		return e.At.UTC().Format(time.RFC3339) + " " + string(e.Kind)
	}
	return e.At.UTC().Format(time.RFC3339) + " " + string(e.Kind) + " " + e.Detail
}
