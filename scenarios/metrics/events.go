package metrics

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// updateBuckets are the upper bounds, in seconds, of the download and
// update duration histograms: from a second to an hour (a slow link, a
// staged campaign's trial period). Read only.
var updateBuckets = []float64{1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600}

// Results of a download (brickyard_downloads_total's result label).
const (
	DownloadOK     = "ok"
	DownloadFailed = "failed"
)

// deviceEvents turns the devices' event-log lines into the fault,
// download and update series. Events are a handful per device and
// update: a mutex is enough.
type deviceEvents struct {
	faults      *capped[string]
	downloads   *prometheus.CounterVec
	bytes       prometheus.Counter
	dlDuration  prometheus.Histogram
	updDuration *prometheus.HistogramVec

	mu    sync.Mutex
	start map[string]*times // by device, only while it downloads or updates
}

type times struct{ download, update time.Time }

func newDeviceEvents() *deviceEvents {
	faults := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "faults_injected_total",
		Help: "Faults the fault plan injected, by kind: power-cut:<phase> (the phase the power was cut in), net-drop (a Record dropped), partition (a dial refused during a partition), misbehave:<kind> (a misbehaviour done: answer-drop, record-malformed, conn-churn, …), traffic:<shape> (reconnect-wave, boot-storm); at most 64 kinds, the rest under kind=\"other\".",
	}, []string{"kind"})
	e := &deviceEvents{
		faults: newCapped(faults, func(k string) string { return strings.Clone(labelValue(k)) },
			func(_ string, v string) []string { return []string{v} }, strings.Clone),
		downloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "downloads_total",
			Help: "Firmware downloads the devices finished, by result: ok, failed.",
		}, []string{"result"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "download_bytes_total",
			Help: "Bytes of the firmware images the devices downloaded whole.",
		}),
		dlDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "download_duration_seconds",
			Help:    "Firmware download time, start to the last byte (or the failure).",
			Buckets: updateBuckets,
		}),
		updDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "update_duration_seconds",
			Help:    "Firmware update time by outcome (updated, rolled_back, bricked), from the device's first download to its outcome.",
			Buckets: updateBuckets,
		}, []string{"outcome"}),
		start: map[string]*times{},
	}
	for _, r := range []string{DownloadOK, DownloadFailed} {
		e.downloads.WithLabelValues(r)
	}
	for _, o := range []string{"updated", "rolled_back", "bricked"} {
		e.updDuration.WithLabelValues(o)
	}
	return e
}

func (e *deviceEvents) collectors() []prometheus.Collector {
	return []prometheus.Collector{e.faults.vec, e.downloads, e.bytes, e.dlDuration, e.updDuration}
}

// DeviceEvent counts what one line of a device's event log says (its
// kind and detail, as the log has them, at the device's time): injected
// faults by kind; downloads by result, their bytes and duration; the
// update's duration by outcome, from the device's first download since
// its last outcome. Lines of other kinds are ignored.
func (m *Metrics) DeviceEvent(id, kind, detail string, at time.Time) {
	if !counted[kind] {
		return
	}
	e := m.events
	switch kind {
	case "power-cut":
		phase, _, _ := strings.Cut(strings.TrimPrefix(detail, "phase="), " ")
		phase, _, _ = strings.Cut(phase, ":")
		e.faults.get("power-cut:" + phase).Inc()
	case "net-drop":
		e.faults.get("net-drop").Inc()
	case "misbehave", "traffic":
		k, _, _ := strings.Cut(detail, " ")
		e.faults.get(kind + ":" + k).Inc()
	case "link-fail":
		if detail == "partition" {
			e.faults.get("partition").Inc()
		}
	case "download-start":
		e.mu.Lock()
		t := e.start[id]
		if t == nil {
			t = &times{update: at}
			e.start[id] = t
		}
		t.download = at
		e.mu.Unlock()
	case "downloaded", "download-failed":
		result := DownloadOK
		if kind == "download-failed" {
			result = DownloadFailed
		} else if n, ok := field(detail, "bytes"); ok {
			e.bytes.Add(float64(n))
		}
		e.downloads.WithLabelValues(result).Inc()
		e.mu.Lock()
		if t := e.start[id]; t != nil && !t.download.IsZero() {
			e.dlDuration.Observe(max(at.Sub(t.download), 0).Seconds())
			t.download = time.Time{}
		}
		e.mu.Unlock()
	case "updated", "confirmed", "rolled-back", "bricked":
		// confirmed: the new image passed its trial (an update with a
		// trial boot ends there; one without, at updated).
		outcome := strings.ReplaceAll(kind, "-", "_")
		if kind == "confirmed" {
			outcome = "updated"
		}
		e.mu.Lock()
		t := e.start[id]
		delete(e.start, id)
		e.mu.Unlock()
		if t != nil {
			e.updDuration.WithLabelValues(outcome).Observe(max(at.Sub(t.update), 0).Seconds())
		}
	}
}

// Counted reports whether DeviceEvent counts lines of this kind (a
// caller that forwards events forwards only those).
func Counted(kind string) bool { return counted[kind] }

// counted are the kinds DeviceEvent reads. Read only.
var counted = map[string]bool{"power-cut": true, "net-drop": true, "misbehave": true, "traffic": true, "link-fail": true, "download-start": true,
	"downloaded": true, "download-failed": true, "updated": true, "confirmed": true, "rolled-back": true, "bricked": true}

// field is the number of key=N in an event's detail.
func field(detail, key string) (int64, bool) {
	for f := range strings.FieldsSeq(detail) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil && n >= 0
		}
	}
	return 0, false
}
