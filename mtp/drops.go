package mtp

import (
	"sync/atomic"
)

// DropCause says why a transport did not deliver a Record it received.
type DropCause uint8

// Why Records are dropped. Every transport counts what it drops under one
// of these (Drops); docs/mtp.md says, per MTP, when each can happen.
const (
	// DropTooLarge: longer than the transport's MaxRecordSize.
	DropTooLarge DropCause = iota
	// DropQueueFull: a receive queue was full and the transport could not
	// push back on the sender (a controller's per-agent queue behind one
	// broker connection, a QoS 0 MQTT burst).
	DropQueueFull
	// DropMalformed: not a USP Record, or not in the binding's form (a
	// wrong content type, a WebSocket text frame).
	DropMalformed
	// DropForeign: a Record addressed to another endpoint.
	DropForeign
	// DropNoSession: nowhere to deliver it, or no way to answer it (a
	// STOMP Record from an agent with no session and no reply-to-dest).
	DropNoSession
	numDropCauses
)

var dropNames = [numDropCauses]string{"too-large", "queue-full", "malformed", "foreign", "no-session"}

// String is the cause as reports and metrics name it ("queue-full").
func (c DropCause) String() string {
	if c < numDropCauses {
		return dropNames[c]
	}
	return "unknown"
}

// DropCauses lists every cause, in order.
func DropCauses() []DropCause {
	out := make([]DropCause, numDropCauses)
	for i := range out {
		out[i] = DropCause(i)
	}
	return out
}

// Drops counts the Records one side of a run (its agents, or its
// controller) received and did not deliver, by cause. A run makes one per
// side and gives it to every transport of that side (each binding's
// Config.Drops); the report and the metrics read it. It is safe for
// concurrent use; a nil *Drops counts nothing.
//
// Warn, if set, is called once per cause, at the first drop of that cause
// (from the transport's goroutine; it must not block): a flood of drops
// names its cause once instead of flooding the log.
type Drops struct {
	Warn func(c DropCause, endpoint, detail string)

	n      [numDropCauses]atomic.Uint64
	warned [numDropCauses]atomic.Bool
}

// Add counts one Record dropped by endpoint (the local endpoint ID, or ""
// when unknown) for cause c; detail says what it was, for the warning.
func (d *Drops) Add(c DropCause, endpoint, detail string) {
	if d == nil || c >= numDropCauses {
		return
	}
	d.n[c].Add(1)
	if d.Warn != nil && !d.warned[c].Load() && d.warned[c].CompareAndSwap(false, true) {
		d.Warn(c, endpoint, detail)
	}
}

// Count is how many Records were dropped for cause c.
func (d *Drops) Count(c DropCause) uint64 {
	if d == nil || c >= numDropCauses {
		return 0
	}
	return d.n[c].Load()
}

// Total is how many Records were dropped for any cause.
func (d *Drops) Total() uint64 {
	var t uint64
	for c := range numDropCauses {
		t += d.Count(c)
	}
	return t
}

// Counts is the non-zero counts by cause name.
func (d *Drops) Counts() map[string]uint64 {
	out := map[string]uint64{}
	for c := range numDropCauses {
		if n := d.Count(c); n > 0 {
			out[c.String()] = n
		}
	}
	return out
}
