package fleet

import "time"

// Observer sees a real-time fleet's sessions and traffic from the devices'
// side, for a caller that reports on a controller it does not own
// (`brickyard fleet`): which Records each device received and sent, when
// its sessions came up, failed to open or ended. It is optional: the zero
// Observer, and any nil field, costs one comparison per call site.
//
// The functions are called on the device goroutines: concurrently for
// different devices, in order for one device. They must return quickly and
// must not block (the device waits for them), and must neither keep nor
// modify rec: it is the buffer the transport handed over or the one the
// device sent, shared with the device core.
type Observer struct {
	// Record is called with each Record a device takes from its session
	// (in true), before the device core handles it, and with each Record
	// the device sent (in false), once the transport took it. The
	// binding's Connect Record, which the transport sends itself inside
	// Dial, is not among them.
	Record func(id string, in bool, rec []byte, at time.Time)
	// Link is called when a device's session comes up (LinkUp, err nil),
	// when an attempt to open one fails (LinkFail, err the dialer's
	// error; the device retries after the TR-369 retry wait), and when a
	// session ends (LinkDown: err is the session's error when the peer or
	// the network ended it, nil when the device closed it: a reboot,
	// a DisconnectRecord, the end of the run).
	Link func(id string, ev LinkEvent, err error, at time.Time)
	// Event is called with each line of the event log, as the log has
	// it (kind "power-cut", detail "phase=install op=3 …"), also when the
	// fleet keeps no log.
	Event func(id, kind, detail string, at time.Time)
}

// LinkEvent is what happened to a device's MTP session (Observer.Link).
type LinkEvent uint8

// Link events.
const (
	LinkUp   LinkEvent = iota + 1 // the session is up
	LinkFail                      // an attempt to open it failed
	LinkDown                      // the session ended
)

func (e LinkEvent) String() string {
	switch e {
	case LinkUp:
		return "link-up"
	case LinkFail:
		return "link-fail"
	case LinkDown:
		return "link-down"
	}
	return "link-?"
}

func (o *Observer) record(id string, in bool, rec []byte, at time.Time) {
	if o.Record != nil {
		o.Record(id, in, rec, at)
	}
}

func (o *Observer) event(id, kind, detail string, at time.Time) {
	if o.Event != nil {
		o.Event(id, kind, detail, at)
	}
}

func (o *Observer) link(id string, ev LinkEvent, err error, at time.Time) {
	if o.Link != nil {
		o.Link(id, ev, err, at)
	}
}
