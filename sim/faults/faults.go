// Package faults is the fault plan of a fleet run: which devices lose power
// during a download, during the install's flash writes, during the trial
// boot or at some uptime; which run an application that fails its health
// check; which suffer network drops, delays and partitions; which get slow,
// truncated or corrupt downloads.
//
// A plan is a list of rules; each picks devices (a share of the fleet, or
// named devices, optionally of one board or wave) and says what happens to
// them. Assign turns a plan into each device's faults, deterministically
// from a seed: the same plan, fleet and seed give the same devices the same
// faults. A share selects exactly round(share × eligible devices) of them.
//
// The package is pure: no goroutines, no clock, no I/O.
package faults

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is what a rule does to the devices it picks.
type Kind string

const (
	PowerDuringDownload Kind = "power-during-download" // power lost while the image is downloading
	PowerDuringInstall  Kind = "power-during-install"  // power lost at one of the install's flash operations
	PowerDuringTrial    Kind = "power-during-trial"    // power lost during the new image's trial boot
	PowerAtUptime       Kind = "power-at-uptime"       // power lost once the device has been up for a while
	HealthFail          Kind = "health-fail"           // the new image's application fails its health check
	NetDrop             Kind = "net-drop"              // a share of Records lost during a window
	NetDelay            Kind = "net-delay"             // Records delayed during a window
	NetPartition        Kind = "net-partition"         // no connectivity during a window
	DownloadSlow        Kind = "download-slow"         // downloads at a limited rate
	DownloadTruncated   Kind = "download-truncated"    // downloads end early
	DownloadCorrupt     Kind = "download-corrupt"      // downloads arrive with a flipped byte

	// Protocol misbehaviour: what a device does wrong on the wire, for a
	// controller's robustness (docs/scenarios.md#misbehaving-devices).
	AnswerDelay     Kind = "answer-delay"     // answers (responses, Errors) held back by a drawn latency
	AnswerDrop      Kind = "answer-drop"      // answers never sent
	AnswerDuplicate Kind = "answer-duplicate" // answers sent twice
	MsgIDWrong      Kind = "msgid-wrong"      // answers with a msg_id no request had
	MsgIDReuse      Kind = "msgid-reuse"      // answers with the previous answer's msg_id
	NotifyRepeat    Kind = "notify-repeat"    // each Notify sent Count more times than asked
	LateComplete    Kind = "late-complete"    // OperationComplete held back until the device has rebooted
	RecordMalformed Kind = "record-malformed" // Records that are not protobuf
	RecordTruncated Kind = "record-truncated" // Records cut short
	RecordWrongTo   Kind = "record-wrong-to"  // Records addressed to another endpoint
	RecordOversized Kind = "record-oversized" // Records padded past Size bytes
	ConnChurn       Kind = "conn-churn"       // the session dropped Every so long, then reopened
	SlowConsumer    Kind = "slow-consumer"    // the device stops reading its session during a window
	ClockSkew       Kind = "clock-skew"       // the times the device reports are off by Skew

	// Traffic shapes that land once on a share of the fleet.
	ReconnectWave Kind = "reconnect-wave" // the network drops the session at a point of a window; the device comes back after TR-369's retry wait
	BootStorm     Kind = "boot-storm"     // the device is power-cycled at a point of a window, or in turn at Rate devices a second
)

var kinds = []Kind{PowerDuringDownload, PowerDuringInstall, PowerDuringTrial, PowerAtUptime, HealthFail,
	NetDrop, NetDelay, NetPartition, DownloadSlow, DownloadTruncated, DownloadCorrupt,
	AnswerDelay, AnswerDrop, AnswerDuplicate, MsgIDWrong, MsgIDReuse, NotifyRepeat, LateComplete,
	RecordMalformed, RecordTruncated, RecordWrongTo, RecordOversized, ConnChurn, SlowConsumer, ClockSkew, ReconnectWave, BootStorm}

// wire are the misbehaviours that act on the Records a device sends.
var wire = []Kind{AnswerDelay, AnswerDrop, AnswerDuplicate, MsgIDWrong, MsgIDReuse, NotifyRepeat, LateComplete,
	RecordMalformed, RecordTruncated, RecordWrongTo, RecordOversized}

// RealTimeOnly reports whether a kind needs a real session (the
// real-time runner): the connection misbehaviours.
func RealTimeOnly(k Kind) bool { return k == ConnChurn || k == SlowConsumer }

// Latency distributions of answer-delay.
const (
	DistFixed     = "fixed"     // always Delay
	DistUniform   = "uniform"   // uniform in [Delay, MaxDelay]
	DistLogNormal = "lognormal" // median Delay, shape Sigma, at most MaxDelay when set
)

// MaxOversize bounds record-oversized's Size: the padding is allocated per
// Record.
const MaxOversize = 64 << 20

// Rule picks devices and gives them one fault.
type Rule struct {
	Kind    Kind     `yaml:"kind"`
	Share   float64  `yaml:"share"`   // fraction of the eligible devices, 0..1
	Devices []string `yaml:"devices"` // or these endpoint IDs (then Share is ignored)
	Board   string   `yaml:"board"`   // only devices of this board profile
	Wave    int      `yaml:"wave"`    // only devices of this wave (0: any)

	Torn bool `yaml:"torn"` // power cuts: tear the flash operation instead of cutting before it

	// Windows (network faults) and uptimes (power-at-uptime): an interval
	// after the run (or the device) starts; the fault lands at a uniformly
	// drawn point of [After, After+Within] for power, and lasts Duration for
	// network windows.
	After    time.Duration `yaml:"after"`
	Within   time.Duration `yaml:"within"`
	Duration time.Duration `yaml:"duration"`

	Drop  float64       `yaml:"drop"`  // net-drop: probability a Record is lost
	Delay time.Duration `yaml:"delay"` // net-delay: added latency

	Rate int `yaml:"rate"` // download-slow: bytes per second; boot-storm, reconnect-wave: devices per second

	// Misbehaviour: Chance is the probability per Record (0: every one);
	// answer-delay draws from Dist (fixed, uniform, lognormal) with
	// Delay, MaxDelay and Sigma, and sends a Tail share of the answers
	// TailDelay late instead; notify-repeat sends Count copies more;
	// record-oversized pads to Size bytes; record-wrong-to writes To
	// (default proto::brickyard-nobody); conn-churn drops the session
	// Every so long.
	Chance    float64       `yaml:"chance"`
	Dist      string        `yaml:"dist"`
	MaxDelay  time.Duration `yaml:"max_delay"`
	Sigma     float64       `yaml:"sigma"`
	Tail      float64       `yaml:"tail"`
	TailDelay time.Duration `yaml:"tail_delay"`
	Count     int           `yaml:"count"`
	Size      int           `yaml:"size"`
	To        string        `yaml:"to"`
	Every     time.Duration `yaml:"every"`
	Skew      time.Duration `yaml:"skew"` // clock-skew: added to every time the device reports (negative: behind)
}

// Validate reports the first thing wrong with r.
func (r Rule) Validate() error {
	if !slices.Contains(kinds, r.Kind) {
		return fmt.Errorf("fault kind %q: want one of %v", r.Kind, kinds)
	}
	// The ranges are written !(lo < x && x <= hi) so that NaN, which
	// fails every comparison, fails them too.
	switch {
	case len(r.Devices) == 0 && !(r.Share > 0 && r.Share <= 1):
		return fmt.Errorf("%s: share %v: want a fraction in (0, 1], or devices", r.Kind, r.Share)
	case r.After < 0 || r.Within < 0 || r.Duration < 0 || r.Delay < 0:
		return fmt.Errorf("%s: durations must not be negative", r.Kind)
	case r.After > maxSpan || r.Within > maxSpan || r.Duration > maxSpan || r.Delay > maxSpan:
		return fmt.Errorf("%s: durations must be at most %v", r.Kind, maxSpan)
	case r.Kind == NetDrop && !(r.Drop > 0 && r.Drop <= 1):
		return fmt.Errorf("%s: drop %v: want a probability in (0, 1]", r.Kind, r.Drop)
	case r.Kind == NetDelay && r.Delay == 0:
		return fmt.Errorf("%s: needs a delay", r.Kind)
	case (r.Kind == NetDrop || r.Kind == NetDelay || r.Kind == NetPartition) && r.Duration == 0:
		return fmt.Errorf("%s: needs a duration", r.Kind)
	case r.Kind == DownloadSlow && r.Rate <= 0:
		return fmt.Errorf("%s: needs a rate in bytes per second", r.Kind)
	case r.Wave < 0:
		return fmt.Errorf("%s: wave %d", r.Kind, r.Wave)
	}
	return r.validateMisbehaviour()
}

// validateMisbehaviour checks the fields of the misbehaviour kinds.
func (r Rule) validateMisbehaviour() error {
	switch {
	case r.Chance != 0 && !(r.Chance > 0 && r.Chance <= 1):
		return fmt.Errorf("%s: chance %v: want a probability in (0, 1] (0 or none: every Record)", r.Kind, r.Chance)
	case r.MaxDelay < 0 || r.TailDelay < 0 || r.Every < 0:
		return fmt.Errorf("%s: durations must not be negative", r.Kind)
	case r.MaxDelay > maxSpan || r.TailDelay > maxSpan || r.Every > maxSpan:
		return fmt.Errorf("%s: durations must be at most %v", r.Kind, maxSpan)
	case r.Tail != 0 && !(r.Tail > 0 && r.Tail <= 1):
		return fmt.Errorf("%s: tail %v: want a share in (0, 1]", r.Kind, r.Tail)
	case r.Tail > 0 && r.TailDelay == 0:
		return fmt.Errorf("%s: tail needs a tail_delay", r.Kind)
	}
	switch r.Kind {
	case AnswerDelay:
		switch r.Dist {
		case "", DistFixed:
			if r.Delay == 0 {
				return fmt.Errorf("%s: needs a delay", r.Kind)
			}
		case DistUniform:
			if !(r.MaxDelay > r.Delay) {
				return fmt.Errorf("%s: uniform: needs max_delay above delay", r.Kind)
			}
		case DistLogNormal:
			if r.Delay == 0 || !(r.Sigma > 0 && r.Sigma <= 10) {
				return fmt.Errorf("%s: lognormal: needs a delay (the median) and a sigma in (0, 10]", r.Kind)
			}
		default:
			return fmt.Errorf("%s: dist %q: want fixed, uniform or lognormal", r.Kind, r.Dist)
		}
	case NotifyRepeat:
		if r.Count < 1 || r.Count > 100 {
			return fmt.Errorf("%s: count %d: want 1 to 100 copies more", r.Kind, r.Count)
		}
	case RecordOversized:
		if r.Size < 1 || r.Size > MaxOversize {
			return fmt.Errorf("%s: size %d: want 1 to %d bytes", r.Kind, r.Size, MaxOversize)
		}
	case RecordWrongTo:
		if strings.ContainsAny(r.To, " \t\r\n") {
			return fmt.Errorf("%s: to %q: not an endpoint ID", r.Kind, r.To)
		}
	case ConnChurn:
		if r.Every < time.Second {
			return fmt.Errorf("%s: every %v: want at least 1s", r.Kind, r.Every)
		}
	case SlowConsumer:
		if r.Duration == 0 {
			return fmt.Errorf("%s: needs a duration", r.Kind)
		}
	case ClockSkew:
		if r.Skew == 0 || r.Skew < -maxSpan || r.Skew > maxSpan {
			return fmt.Errorf("%s: skew %v: want a non-zero offset of at most a year either way", r.Kind, r.Skew)
		}
	case ReconnectWave, BootStorm:
		if r.Rate < 0 || r.Rate > 1_000_000 {
			return fmt.Errorf("%s: rate %d: want 1 to 1000000 devices a second (or none: a point of [after, after+within] each)", r.Kind, r.Rate)
		}
		if r.Rate > 0 && r.Within > 0 {
			return fmt.Errorf("%s: rate or within, not both", r.Kind)
		}
	}
	return nil
}

// maxSpan bounds every duration of a rule: a year of simulated time is
// longer than any run, and sums of spans stay far from overflowing.
const maxSpan = 365 * 24 * time.Hour

// Plan is a fleet's fault plan.
type Plan []Rule

// Validate checks every rule.
func (p Plan) Validate() error {
	var errs []error
	for i, r := range p {
		if err := r.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("fault %d: %w", i+1, err))
		}
	}
	return errors.Join(errs...)
}

// Device is what Assign needs to know of a device.
type Device struct {
	ID    string
	Board string
	Wave  int
}

// Window is a span of a device's network trouble, from the run's start.
type Window struct {
	Kind       Kind
	Start, End time.Duration
	Drop       float64
	Delay      time.Duration
}

// Faults are one device's faults. The fractions are drawn per device so
// that, for instance, install cuts land all over the install.
type Faults struct {
	PowerDuringDownload *Cut          // where in the download (Fraction of the bytes)
	PowerDuringInstall  *Cut          // which install operation (Fraction of them)
	PowerDuringTrial    *Cut          // which trial-boot operation (Fraction of them)
	PowerAtUptime       time.Duration // 0: none
	PowerAtUptimeTorn   bool
	HealthFail          bool
	Net                 []Window
	DownloadRate        int     // bytes per second, 0: unlimited
	DownloadTruncate    float64 // fraction of the image delivered, 0: all
	DownloadCorrupt     bool
	// Misbehave are the device's wire misbehaviours, in the plan's
	// order (sim/misbehave applies them); Churn its conn-churn period;
	// Slow its slow-consumer windows.
	Misbehave []Behaviour
	Churn     time.Duration
	Slow      []Window
	// Drops (reconnect-wave) and Cycles (boot-storm) are when the network
	// drops the device's session and when its power is cycled, from the
	// run's start, in order.
	Drops  []time.Duration
	Cycles []time.Duration
	// Skew (clock-skew) is added to every time the device reports.
	Skew time.Duration
}

// Behaviour is one wire misbehaviour of a device: a Rule's kind and
// parameters.
type Behaviour struct {
	Kind      Kind
	Chance    float64 // per Record; 0: every one
	Dist      string
	Delay     time.Duration
	MaxDelay  time.Duration
	Sigma     float64
	Tail      float64
	TailDelay time.Duration
	Count     int
	Size      int
	To        string
}

// Cut is where a power cut lands within a phase.
type Cut struct {
	Fraction float64 // 0 ≤ Fraction < 1
	Torn     bool
}

// Any reports whether the device has any fault.
func (f Faults) Any() bool {
	return f.PowerDuringDownload != nil || f.PowerDuringInstall != nil || f.PowerDuringTrial != nil ||
		f.PowerAtUptime > 0 || f.HealthFail || len(f.Net) > 0 || f.DownloadRate > 0 || f.DownloadTruncate > 0 || f.DownloadCorrupt ||
		len(f.Misbehave) > 0 || f.Churn > 0 || len(f.Slow) > 0 || len(f.Drops) > 0 || len(f.Cycles) > 0 || f.Skew != 0
}

// Assign gives each device of fleet its faults under plan p, from seed.
// The result is indexed like fleet.
func Assign(p Plan, fleet []Device, seed uint64) ([]Faults, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	out := make([]Faults, len(fleet))
	for ri, r := range p {
		for rank, i := range pick(r, ri, fleet, seed) {
			rng := rand.New(rand.NewPCG(seed^uint64(ri+1)*0x9e3779b97f4a7c15, hash(fleet[i].ID)))
			apply(&out[i], r, rng, rank)
		}
	}
	return out, nil
}

// pick returns the indexes of the devices rule r selects: the named ones,
// or exactly round(share × eligible) eligible ones, those with the lowest
// hash of (seed, rule, id).
func pick(r Rule, ri int, fleet []Device, seed uint64) []int {
	var eligible []int
	for i, d := range fleet {
		if (r.Board == "" || d.Board == r.Board) && (r.Wave == 0 || d.Wave == r.Wave) {
			if len(r.Devices) == 0 || slices.Contains(r.Devices, d.ID) {
				eligible = append(eligible, i)
			}
		}
	}
	if len(r.Devices) > 0 {
		return eligible
	}
	n := min(len(eligible), max(0, int(r.Share*float64(len(eligible))+0.5)))
	key := func(i int) uint64 { return hash(fmt.Sprintf("%d/%d/%s", seed, ri, fleet[i].ID)) }
	slices.SortFunc(eligible, func(a, b int) int {
		ka, kb := key(a), key(b)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return a - b
	})
	chosen := eligible[:n]
	slices.Sort(chosen)
	return chosen
}

func insertSorted(ds []time.Duration, d time.Duration) []time.Duration {
	i, _ := slices.BinarySearch(ds, d)
	return slices.Insert(ds, i, d)
}

// apply gives one device rule r's fault; rank is the device's place among
// the rule's devices (from 0), for the faults that land in turn.
func apply(f *Faults, r Rule, rng *rand.Rand, rank int) {
	at := func() time.Duration {
		if r.Within <= 0 {
			return r.After
		}
		return r.After + time.Duration(rng.Int64N(int64(r.Within)+1))
	}
	switch r.Kind {
	case PowerDuringDownload:
		f.PowerDuringDownload = &Cut{Fraction: rng.Float64(), Torn: r.Torn}
	case PowerDuringInstall:
		f.PowerDuringInstall = &Cut{Fraction: rng.Float64(), Torn: r.Torn}
	case PowerDuringTrial:
		f.PowerDuringTrial = &Cut{Fraction: rng.Float64(), Torn: r.Torn}
	case PowerAtUptime:
		f.PowerAtUptime, f.PowerAtUptimeTorn = max(at(), time.Second), r.Torn
	case HealthFail:
		f.HealthFail = true
	case NetDrop, NetDelay, NetPartition:
		start := at()
		f.Net = append(f.Net, Window{Kind: r.Kind, Start: start, End: start + r.Duration, Drop: r.Drop, Delay: r.Delay})
	case DownloadSlow:
		f.DownloadRate = r.Rate
	case ReconnectWave, BootStorm:
		at := at()
		if r.Rate > 0 { // in turn, the rule's k-th device k/Rate seconds after After
			at = r.After + time.Duration(float64(rank)/float64(r.Rate)*float64(time.Second))
		}
		if r.Kind == ReconnectWave {
			f.Drops = insertSorted(f.Drops, at)
		} else {
			f.Cycles = insertSorted(f.Cycles, at)
		}
	case DownloadTruncated:
		f.DownloadTruncate = 0.05 + 0.9*rng.Float64()
	case DownloadCorrupt:
		f.DownloadCorrupt = true
	case ConnChurn:
		f.Churn = r.Every
	case ClockSkew:
		f.Skew = r.Skew
	case SlowConsumer:
		start := at()
		f.Slow = append(f.Slow, Window{Kind: r.Kind, Start: start, End: start + r.Duration})
	default:
		if slices.Contains(wire, r.Kind) {
			f.Misbehave = append(f.Misbehave, Behaviour{Kind: r.Kind, Chance: r.Chance, Dist: r.Dist, Delay: r.Delay,
				MaxDelay: r.MaxDelay, Sigma: r.Sigma, Tail: r.Tail, TailDelay: r.TailDelay, Count: r.Count, Size: r.Size, To: r.To})
		}
	}
}

func hash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	// FNV-1a barely moves the high bits for a change in the last bytes, and
	// endpoint IDs differ only there: without this finalizer (splitmix64's)
	// the lowest hashes would cluster on the highest-numbered devices.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// String is the faults in short form, as reports write them:
// "power-during-install@0.42/torn health-fail net-drop@1m0s+30s".
func (f Faults) String() string {
	var parts []string
	cut := func(name string, c *Cut) {
		if c != nil {
			s := name + "@" + strconv.FormatFloat(c.Fraction, 'f', 2, 64)
			if c.Torn {
				s += "/torn"
			}
			parts = append(parts, s)
		}
	}
	cut(string(PowerDuringDownload), f.PowerDuringDownload)
	cut(string(PowerDuringInstall), f.PowerDuringInstall)
	cut(string(PowerDuringTrial), f.PowerDuringTrial)
	if f.PowerAtUptime > 0 {
		parts = append(parts, string(PowerAtUptime)+"@"+f.PowerAtUptime.String())
	}
	if f.HealthFail {
		parts = append(parts, string(HealthFail))
	}
	for _, w := range f.Net {
		parts = append(parts, string(w.Kind)+"@"+w.Start.String()+"+"+(w.End-w.Start).String())
	}
	if f.DownloadRate > 0 {
		parts = append(parts, string(DownloadSlow)+"@"+strconv.Itoa(f.DownloadRate)+"B/s")
	}
	if f.DownloadTruncate > 0 {
		parts = append(parts, string(DownloadTruncated)+"@"+strconv.FormatFloat(f.DownloadTruncate, 'f', 2, 64))
	}
	if f.DownloadCorrupt {
		parts = append(parts, string(DownloadCorrupt))
	}
	for _, b := range f.Misbehave {
		s := string(b.Kind)
		if b.Chance > 0 && b.Chance < 1 {
			s += "@" + strconv.FormatFloat(b.Chance, 'f', -1, 64)
		}
		parts = append(parts, s)
	}
	if f.Churn > 0 {
		parts = append(parts, string(ConnChurn)+"@"+f.Churn.String())
	}
	for _, w := range f.Slow {
		parts = append(parts, string(SlowConsumer)+"@"+w.Start.String()+"+"+(w.End-w.Start).String())
	}
	for _, d := range f.Drops {
		parts = append(parts, string(ReconnectWave)+"@"+d.String())
	}
	for _, d := range f.Cycles {
		parts = append(parts, string(BootStorm)+"@"+d.String())
	}
	if f.Skew != 0 {
		parts = append(parts, string(ClockSkew)+"@"+f.Skew.String())
	}
	return strings.Join(parts, " ")
}
