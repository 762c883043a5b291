// Package metrics exposes a fleet run as Prometheus metrics: fleet-index
// gauges (devices by phase, outcome, connection state, version and board,
// and the fleet's boot count), USP traffic counters, the USP request
// latency histogram and the campaign's per-wave progress. It serves both
// `brickyard run` (embedded controller and simulated fleet) and
// `brickyard fleet` (simulated fleet against a foreign controller).
//
// A Metrics owns its own prometheus.Registry; nothing is registered on the
// global default registry, so several runs (or tests) in one process never
// collide.
//
// # Who updates what
//
// The fleet-index gauges are kept current by Follow, which watches a
// brickyard/sim/index.Index and recounts it after each change (at most one
// recount per recount interval, see WithRecountInterval). Every scrape sees
// the gauges of one consistent index snapshot. The counters, the histogram
// and the campaign gauges are updated by the callers through Message, Error,
// Reconnect, Latency, Campaign and Aborted.
//
// # Cardinality
//
// No metric has one series per device. Label values that come from callers
// or from the devices (USP message type, USP error code, campaign wave,
// firmware version, board, phase, outcome, connection state) are capped at
// LabelLimit distinct values per metric; whatever does not fit is counted
// under the value Other. For the counters the first LabelLimit values seen
// are kept for the life of the Metrics; for the index gauges each recount
// keeps the LabelLimit-1 most common values and sums the rest under Other.
// Label values are also made valid UTF-8 and cut to MaxLabelLen bytes, and
// an empty value is reported as "unknown", so a misbehaving foreign
// controller can neither blow up the registry nor break a scrape.
//
// # Concurrency and cost
//
// Every method is safe for concurrent use. Message, Error, Reconnect and
// Latency do not allocate and take no lock once a label value has been
// seen: the child counters are cached in a copy-on-write map read through
// an atomic pointer.
package metrics

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name of the package.
const Namespace = "brickyard"

// LabelLimit is the most distinct values one caller- or device-supplied
// label takes per metric (Other excluded).
const LabelLimit = 64

// MaxLabelLen is the longest label value, in bytes; longer values are cut.
const MaxLabelLen = 64

// Other is the label value that collects everything beyond LabelLimit.
const Other = "other"

// Directions of a USP message, for Message.
const (
	Sent     = "sent"
	Received = "received"
)

// DefaultRecountInterval is how long Follow waits after an index change
// before recounting, so that a burst of changes costs one recount.
const DefaultRecountInterval = 250 * time.Millisecond

// latencyBuckets are the upper bounds, in seconds, of the USP request
// duration histogram: from a millisecond (in-process MTP) to five minutes
// (an Operate that downloads and installs firmware). Read only.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Option configures New.
type Option func(*config)

type config struct {
	recount           time.Duration
	role              string
	version, revision string
}

// Roles of the side that holds a Metrics, the role label of the USP
// traffic series: "sent" is sent by the agents in a fleet's metrics
// (RoleAgent), by the controller in a run's (RoleController).
const (
	RoleAgent      = "agent"
	RoleController = "controller"
)

// WithRole sets the role label of the USP message, error and latency
// series (RoleAgent by default).
func WithRole(role string) Option {
	return func(c *config) {
		if role == RoleAgent || role == RoleController {
			c.role = role
		}
	}
}

// WithBuild sets the version and VCS revision brickyard_build_info
// reports (by default the module's, from the binary's build information).
func WithBuild(version, revision string) Option {
	return func(c *config) { c.version, c.revision = version, revision }
}

// WithRecountInterval sets how long Follow waits after an index change
// before it recounts (DefaultRecountInterval by default); changes within
// that time are coalesced into one recount. Zero recounts at every change.
func WithRecountInterval(d time.Duration) Option {
	return func(c *config) {
		if d >= 0 {
			c.recount = d
		}
	}
}

// Metrics is the metrics of one fleet run. Create it with New. It is safe
// for concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	interval time.Duration // Follow's recount interval

	fleet *fleetCollector

	messages   *capped[msgKey]
	errors     *capped[uint32]
	reconnects prometheus.Counter
	dialFails  prometheus.Counter
	lost       prometheus.Counter
	latency    prometheus.Histogram
	campaign   *campaign
	aborted    prometheus.Gauge
	drops      *dropsCollector
	files      *filesCollector
	events     *deviceEvents
}

type msgKey struct{ dir, typ string }

// New returns a Metrics with its own registry, on which the package's
// metrics and the Go runtime and process collectors are registered.
func New(opts ...Option) *Metrics {
	cfg := config{recount: DefaultRecountInterval, role: RoleAgent}
	for _, o := range opts {
		o(&cfg)
	}
	role := prometheus.Labels{"role": cfg.role}
	m := &Metrics{
		reg:      prometheus.NewRegistry(),
		interval: cfg.recount,
		fleet:    newFleetCollector(),
	}

	msgs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace:   Namespace,
		Name:        "usp_messages_total",
		Help:        "USP messages by direction (sent or received, as this side, the role, saw them) and message type; at most 64 types, the rest under type=\"other\".",
		ConstLabels: role,
	}, []string{"direction", "type"})
	m.messages = newCapped(msgs,
		func(k msgKey) string { return strings.Clone(labelValue(k.typ)) },
		func(k msgKey, typ string) []string { return []string{direction(k.dir), typ} },
		func(k msgKey) msgKey { return msgKey{strings.Clone(k.dir), strings.Clone(k.typ)} })

	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace:   Namespace,
		Name:        "usp_errors_total",
		Help:        "USP errors by error code; at most 64 codes, the rest under code=\"other\".",
		ConstLabels: role,
	}, []string{"code"})
	m.errors = newCapped(errs,
		func(c uint32) string { return strconv.FormatUint(uint64(c), 10) },
		func(_ uint32, code string) []string { return []string{code} },
		func(c uint32) uint32 { return c })

	m.reconnects = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "reconnects_total",
		Help:      "MTP sessions re-established after a loss.",
	})
	m.dialFails = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "dial_failures_total",
		Help:      "Attempts of a device to open its MTP session that failed (each is retried with TR-369's backoff).",
	})
	m.lost = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "session_losses_total",
		Help:      "MTP sessions of devices that the controller, broker or network ended (a device's own reboot or stop is not counted).",
	})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace:   Namespace,
		Name:        "usp_request_duration_seconds",
		Help:        "USP request to response time, as the measuring side (the role) saw it.",
		Buckets:     latencyBuckets,
		ConstLabels: role,
	})
	m.campaign = newCampaign()
	m.aborted = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace,
		Name:      "campaign_aborted",
		Help:      "1 when the firmware campaign was aborted (its failure threshold was crossed), else 0.",
	})

	m.drops = newDropsCollector()
	m.files = newFilesCollector()
	m.events = newDeviceEvents()
	m.reg.MustRegister(m.events.collectors()...)
	version, revision := cfg.version, cfg.revision
	if version == "" {
		version, revision = buildVersion()
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace,
		Name:      "build_info",
		Help:      "1, labelled with the binary's version, VCS revision and Go version.",
	}, []string{"version", "revision", "goversion"})
	build.WithLabelValues(labelValue(version), labelValue(revision), runtime.Version()).Set(1)
	m.reg.MustRegister(
		m.fleet, msgs, errs, m.reconnects, m.dialFails, m.lost, m.latency, m.campaign.vec, m.aborted, m.drops, m.files, build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry returns the registry the metrics are registered on, for a
// caller that adds collectors of its own or gathers directly.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler returns the HTTP handler that serves the registry in the
// Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg, // counts its own errors: promhttp_metric_handler_errors_total
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// Message counts one USP message. direction is Sent or Received (anything
// else is counted under direction="other"); typ is the USP message type,
// e.g. "Get" or "OperateResp" (capped at LabelLimit distinct types).
func (m *Metrics) Message(direction, typ string) {
	m.messages.get(msgKey{direction, typ}).Inc()
}

// Counter is one counter of a family.
type Counter interface{ Inc() }

// MessageCounter is the counter Message(direction, typ) adds to, for a
// caller that counts the same kind often and keeps it.
func (m *Metrics) MessageCounter(direction, typ string) Counter {
	return m.messages.get(msgKey{direction, typ})
}

// Error counts one USP error by its error code (capped at LabelLimit
// distinct codes).
func (m *Metrics) Error(code uint32) {
	m.errors.get(code).Inc()
}

// Reconnect counts one MTP session re-established after a loss.
func (m *Metrics) Reconnect() { m.reconnects.Inc() }

// DialFailure counts one failed attempt of a device to open its session.
func (m *Metrics) DialFailure() { m.dialFails.Inc() }

// SessionLost counts one device session the other side or the network
// ended.
func (m *Metrics) SessionLost() { m.lost.Inc() }

// buildVersion is the main module's version and VCS revision from the
// binary's build information ("(devel)" and "" when it has none).
func buildVersion() (version, revision string) {
	version = "(devel)"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version, ""
	}
	if bi.Main.Version != "" {
		version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return version, revision
}

// Latency records one USP request's duration, request to response. A
// negative duration is recorded as zero.
func (m *Metrics) Latency(d time.Duration) {
	m.latency.Observe(max(d, 0).Seconds())
}

// Campaign sets the device counts of one campaign wave: planned (devices
// in the wave), started (devices told to update) and done (devices that
// reached an outcome). Waves beyond LabelLimit distinct ones are summed
// under wave="other".
func (m *Metrics) Campaign(wave int, planned, started, done int) {
	m.campaign.set(wave, [3]int{planned, started, done})
}

// Aborted sets brickyard_campaign_aborted: 1 when the campaign was aborted.
func (m *Metrics) Aborted(aborted bool) {
	v := 0.0
	if aborted {
		v = 1
	}
	m.aborted.Set(v)
}

func direction(d string) string {
	if d == Sent || d == Received {
		return d
	}
	return Other
}

// campaignStates are the values of brickyard_campaign_devices' state label,
// in the order Campaign takes them. Read only.
var campaignStates = [3]string{"planned", "started", "done"}

// campaign is the per-wave gauge vector with its wave cap. Campaign is not
// a hot path: a mutex is enough.
type campaign struct {
	vec *prometheus.GaugeVec

	mu    sync.Mutex
	waves map[int]bool   // waves with their own label value
	over  map[int][3]int // waves counted under Other, by wave (memory only: one series)
}

func newCampaign() *campaign {
	return &campaign{
		vec: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace,
			Name:      "campaign_devices",
			Help:      "Devices of a campaign wave by state: planned (in the wave), started (told to update), done (reached an outcome); at most 64 waves, the rest summed under wave=\"other\".",
		}, []string{"wave", "state"}),
		waves: map[int]bool{},
		over:  map[int][3]int{},
	}
}

func (c *campaign) set(wave int, n [3]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.waves[wave] {
		if _, spilled := c.over[wave]; spilled || len(c.waves) >= LabelLimit {
			c.over[wave] = n
			var sum [3]int
			for _, v := range c.over {
				for i := range sum {
					sum[i] += v[i]
				}
			}
			c.publish(Other, sum)
			return
		}
		c.waves[wave] = true
	}
	c.publish(strconv.Itoa(wave), n)
}

func (c *campaign) publish(wave string, n [3]int) {
	for i, s := range campaignStates {
		c.vec.WithLabelValues(wave, s).Set(float64(n[i]))
	}
}
