package agents

import (
	"fmt"
	"io"
	"maps"
	"time"

	"brickyard/mtp/fdlimit"
	"brickyard/scenarios/report"
)

// Shard is the shard the Spec runs: k of n (1 of 1 for a whole fleet).
func (sp *Spec) Shard() (k, n int) { return sp.shardK, sp.shardN }

// Total is the number of devices of the whole fleet, every shard's.
func (sp *Spec) Total() int { return sp.total() }

// Sharded reports whether the Spec runs one shard of a larger fleet
// (--shard).
func (sp *Spec) Sharded() bool { return sp.f.Shard != "" }

// FitWorkers is how many processes the fleet needs so that each one's
// agents fit its open-file limit: 1 when the whole fleet fits this one.
func (sp *Spec) FitWorkers() int {
	if fdlimit.Check(sp.total(), filesPerAgent, fileReserve) == nil {
		return 1
	}
	soft, _, _ := fdlimit.Limit()
	p := fdlimit.Plan{Agents: sp.total(), PerAgent: filesPerAgent, Reserve: fileReserve + 64, Limit: int(min(soft, 1<<40))}
	if k := p.Shards(); k > 1 {
		return k
	}
	return 1
}

// ShardDevices are the devices of shard k of n: the ID and board of
// each, in fleet order (for a lost shard's rows).
func (sp *Spec) ShardDevices(k, n int) []report.Device {
	first, last := report.ShardRange(k, n, sp.total())
	format := idFormat(sp.idPattern)
	out := make([]report.Device, 0, max(0, last-first+1))
	at := 0
	for _, b := range sp.boards {
		for i := max(first, at+1); i <= min(last, at+b.count); i++ {
			out = append(out, report.Device{ID: fmt.Sprintf(format, i), Board: b.profile})
		}
		at += b.count
	}
	return out
}

// Where is where the controller (or its broker) is, as the summary says it.
func (sp *Spec) Where() string {
	switch sp.transport {
	case "websocket":
		return sp.wsURL.Redacted()
	case "mqtt":
		return sp.broker
	case "stomp":
		if sp.tls {
			return "tls://" + sp.broker
		}
		return "tcp://" + sp.broker
	}
	return ""
}

// ControllerID is the controller's endpoint ID.
func (sp *Spec) ControllerID() string { return sp.controllerID }

// ProgressWire is a Progress as data, for a worker to tell its parent.
type ProgressWire struct {
	Elapsed  time.Duration  `json:"elapsed"`
	Devices  int            `json:"devices"`
	Conn     map[string]int `json:"conn"`
	Outcomes map[string]int `json:"outcomes"`
	Phases   map[string]int `json:"phases"`
	Traffic  [8]int         `json:"traffic"` // in, out, requests, reconnects, dial fails, lost, no response, pending
	Final    bool           `json:"final,omitempty"`
}

// Wire is p as data.
func (p Progress) Wire() ProgressWire {
	t := p.Traffic
	return ProgressWire{Elapsed: p.Elapsed, Devices: p.Devices, Conn: p.Conn, Outcomes: p.Outcomes, Phases: p.Phases, Final: p.Final,
		Traffic: [8]int{t.in, t.out, t.requests, t.reconnects, t.dialFails, t.lost, t.noResponse, t.pending}}
}

// Progress is w as a Progress.
func (w ProgressWire) Progress() Progress {
	t := w.Traffic
	return Progress{Elapsed: w.Elapsed, Devices: w.Devices, Conn: w.Conn, Outcomes: w.Outcomes, Phases: w.Phases, Final: w.Final,
		Traffic: trafficStats{t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]}}
}

// SumProgress is the fleet made of the shards ps: counts added, the
// longest elapsed time, final when every shard is.
func SumProgress(ps []Progress) Progress {
	out := Progress{Conn: map[string]int{}, Outcomes: map[string]int{}, Phases: map[string]int{}, Final: len(ps) > 0}
	for _, p := range ps {
		out.Elapsed = max(out.Elapsed, p.Elapsed)
		out.Devices += p.Devices
		for _, m := range []struct{ to, from map[string]int }{{out.Conn, p.Conn}, {out.Outcomes, p.Outcomes}, {out.Phases, p.Phases}} {
			for k, v := range maps.All(m.from) {
				m.to[k] += v
			}
		}
		t, q := &out.Traffic, p.Traffic
		t.in, t.out, t.requests, t.reconnects = t.in+q.in, t.out+q.out, t.requests+q.requests, t.reconnects+q.reconnects
		t.dialFails, t.lost, t.noResponse, t.pending = t.dialFails+q.dialFails, t.lost+q.lost, t.noResponse+q.noResponse, t.pending+q.pending
		out.Final = out.Final && p.Final
	}
	return out
}

// WriteMergedSummary writes the end-of-run summary of a fleet run in
// shards: the merged report r and the shards' last progress summed.
func WriteMergedSummary(w io.Writer, r *report.Report, p Progress, sp *Spec) error {
	return writeSummary(w, r, p.Traffic, sp.Where(), sp.controllerID)
}
