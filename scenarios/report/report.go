// Package report is what a fleet run leaves behind: report.json (every
// device's final state and timeline summary, fleet counts by outcome, board
// and wave, USP request latency percentiles, durations) and report.html (one
// self-contained page drawn as inline SVG that opens offline).
//
// Determinism: a Report holds no maps that are written unordered and no
// wall-clock values unless the run was in real time (Wall is then set);
// WriteJSON writes the same bytes for equal Reports, so two virtual-time
// runs with the same seed give identical report.json files.
package report

import "time"

// Outcomes, in the order reports list them.
var Outcomes = []string{"updated", "rolled_back", "bricked", "download_failed", "install_failed", "unreachable", "pending", "aborted"}

// Report is one run.
type Report struct {
	Scenario string `json:"scenario"`
	Clock    string `json:"clock"` // "virtual" or "real"
	Seed     uint64 `json:"seed"`
	MTP      string `json:"mtp"` // WebSocket, MQTT, STOMP, inproc
	// Start and End of the run on the run's clock (virtual time for
	// virtual runs).
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Duration Seconds   `json:"duration_s"`
	// Wall is the wall-clock time the run took; only real-time runs set it
	// (a virtual run's report must not depend on the machine).
	Wall Seconds `json:"wall_s,omitempty"`
	// Interrupted: the run was stopped (Ctrl-C, --duration) before its
	// campaign ended; the report is what happened so far.
	Interrupted bool   `json:"interrupted,omitempty"`
	Aborted     string `json:"aborted,omitempty"` // why the campaign stopped early, if it did
	// AbortedAt is when the campaign's abort rule stopped it, since the
	// run's start; 0 when it did not.
	AbortedAt Seconds `json:"aborted_at_s,omitempty"`

	Devices  int     `json:"devices"`
	Outcomes []Count `json:"outcomes"` // by outcome, in Outcomes order, zero counts included
	ByBoard  []Group `json:"by_board"` // sorted by Name
	ByWave   []Wave  `json:"by_wave"`  // in wave order
	Latency  Latency `json:"latency"`  // USP request → response, as the measuring side saw it
	// LatencyByType splits Latency by the request's message type (Get,
	// Add, Operate, Notify, ...), sorted by type; LatencyOverTime by when
	// the request was sent, in time order. Both are omitted when the run
	// did not record them.
	LatencyByType   []TypedLatency `json:"latency_by_type,omitempty"`
	LatencyOverTime []LatencySlice `json:"latency_over_time,omitempty"`
	Messages        []Count        `json:"messages"` // USP messages by direction and type, e.g. "sent Get", "received GetResp"; sorted by Name
	Errors          []Count        `json:"errors,omitempty"`
	// Dropped: Records a transport received and did not deliver, by side
	// and cause ("agents queue-full", "controller too-large"; the causes
	// are mtp.DropCause's); sorted by Name. docs/mtp.md says when each
	// happens. A load test's counts are only as true as this is empty.
	Dropped  []Count  `json:"dropped,omitempty"`
	Progress []Sample `json:"progress"` // the rollout over time, for the chart

	Expectations []Expectation `json:"expectations,omitempty"`

	// Images are the firmware images of the run, by board and version,
	// with the format each is in.
	Images []Image `json:"images,omitempty"`

	// Analysis is computed from the rest by Analyze (Complete sets it).
	Analysis *Analysis `json:"analysis,omitempty"`
	// ByKind is the fleet's outcomes for its simulated devices and its
	// bench boards apart, side by side; Bench is every bench board. Both
	// only when the fleet has bench boards (docs/bench.md).
	ByKind []Group      `json:"by_kind,omitempty"`
	Bench  []BenchBoard `json:"bench,omitempty"`

	Fleet []Device `json:"fleet"` // every device, in endpoint-ID order
}

// BenchBoard is one real board of the fleet (or board-emu), and what its
// link did.
type BenchBoard struct {
	Name     string `json:"name"`
	Device   string `json:"device"` // its device's endpoint ID
	Profile  string `json:"profile"`
	Port     string `json:"port"`
	Emulated bool   `json:"emulated,omitempty"` // board-emu in this process
	Outcome  string `json:"outcome"`
	Offline  string `json:"offline,omitempty"` // why its link gave up, if it did
	// The link: requests, retries after a timeout, frames that failed
	// their checks, and payload bytes each way.
	Requests   uint64 `json:"requests"`
	Retries    uint64 `json:"retries"`
	BadFrames  uint64 `json:"bad_frames"`
	PayloadOut uint64 `json:"payload_out"`
	PayloadIn  uint64 `json:"payload_in"`
}

// Image is one firmware image a run used.
type Image struct {
	Board   string `json:"board"`
	Version string `json:"version"`
	Format  string `json:"format"`         // byfw, mcuboot, esp-app, fit
	File    string `json:"file,omitempty"` // the file it came from; "" when brickyard built it
	Bytes   int    `json:"bytes"`
	SHA256  string `json:"sha256"`
}

// Seconds is a duration written as (fractional) seconds.
type Seconds float64

// Count is one named number.
type Count struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

// Group is the outcome counts of one board profile (or other grouping).
type Group struct {
	Name     string  `json:"name"`
	Devices  int     `json:"devices"`
	Outcomes []Count `json:"outcomes"` // in Outcomes order, zero counts included
}

// Wave is one campaign wave.
type Wave struct {
	Wave     int     `json:"wave"` // 1-based
	Name     string  `json:"name,omitempty"`
	Devices  int     `json:"devices"`
	Start    Seconds `json:"start_s"`         // since the run's start; 0 and Started false when it never began
	End      Seconds `json:"end_s,omitempty"` // when its last device reached an outcome
	Started  bool    `json:"started"`
	Failures float64 `json:"failure_rate"` // failed / devices, at the time the wave ended (or was aborted)
	Aborted  bool    `json:"aborted,omitempty"`
	Outcomes []Count `json:"outcomes"` // in Outcomes order, zero counts included
}

// Latency is a distribution of request → response times.
type Latency struct {
	Count   int      `json:"count"`
	P50     Seconds  `json:"p50_s"`
	P90     Seconds  `json:"p90_s"`
	P99     Seconds  `json:"p99_s"`
	Max     Seconds  `json:"max_s"`
	Buckets []Bucket `json:"buckets"` // histogram, ascending Le; the last bucket's Le is +Inf written as 0 with Inf true
}

// Bucket is one histogram bucket: Count observations ≤ Le (not cumulative).
type Bucket struct {
	Le    Seconds `json:"le_s"`
	Inf   bool    `json:"inf,omitempty"`
	Count int     `json:"count"`
}

// Sample is the fleet's outcome counts at one moment of the run.
type Sample struct {
	At       Seconds `json:"at_s"` // since the run's start
	Outcomes []Count `json:"outcomes"`
}

// Expectation is one checked expectation of the scenario.
type Expectation struct {
	Expr  string  `json:"expr"`  // as written, e.g. "updated >= 0.99"
	Value float64 `json:"value"` // the left-hand side's value in this run
	OK    bool    `json:"ok"`
}

// Device is one device's final state.
type Device struct {
	ID      string `json:"id"`
	Board   string `json:"board"`
	Wave    int    `json:"wave,omitempty"`
	Outcome string `json:"outcome"` // what happened to the device (the runner's truth)
	// Seen is what the controller concluded from USP alone (a controller
	// cannot tell a bricked device from an unreachable one); empty when
	// the controller is not brickyard's.
	Seen    string `json:"seen,omitempty"`
	Version string `json:"version"` // running firmware version at the end
	// Target is the version the outcome is measured against (docs/report.md).
	Target string `json:"target,omitempty"`
	Boots  uint32 `json:"boots"`
	Faults string `json:"faults,omitempty"` // the fault plan's faults for it, short form
	// Cuts are the power cuts it went through, oldest first (at most 8).
	Cuts []Cut `json:"cuts,omitempty"`
	// Brick is why its last boot found nothing bootable, as the bootloader
	// said; empty unless it is bricked.
	Brick string `json:"brick,omitempty"`
	// Offline is why a bench board's link gave up; empty otherwise.
	Offline  string `json:"offline,omitempty"`
	Timeline []Step `json:"timeline"` // the compact timeline: download, install, reboot, boot, trial, commit / rollback / brick
}

// Cut is one power cut a device went through.
type Cut struct {
	At Seconds `json:"at_s"` // since the run's start
	// Phase: download, install, activate, boot (the trial boot's own
	// writes), confirm, or power-switch (the switch at another moment).
	Phase string `json:"phase"`
	// Op is the flash operation it landed on, "program" or "erase", with
	// its address (hexadecimal) and partition; all empty for a cut between
	// operations.
	Op        string `json:"op,omitempty"`
	Addr      string `json:"addr,omitempty"`
	Partition string `json:"partition,omitempty"`
}

// TypedLatency is the latency of one request type.
type TypedLatency struct {
	Type    string  `json:"type"`
	Latency Latency `json:"latency"`
}

// LatencySlice is the latency of the requests sent in one span of the run.
type LatencySlice struct {
	At    Seconds `json:"at_s"`    // the span's start, since the run's start
	Width Seconds `json:"width_s"` // its length
	Count int     `json:"count"`
	P50   Seconds `json:"p50_s"`
	P90   Seconds `json:"p90_s"`
	P99   Seconds `json:"p99_s"`
	Max   Seconds `json:"max_s"`
}

// Step is one entry of a device timeline.
type Step struct {
	At     Seconds `json:"at_s"` // since the run's start
	Kind   string  `json:"kind"`
	Detail string  `json:"detail,omitempty"`
}
