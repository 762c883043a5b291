package metrics

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

// Aggregate is the one metrics endpoint of a fleet that runs in worker
// processes: each scrape of its Handler scrapes every worker's endpoint
// (in parallel, each within ScrapeTimeout) and adds their brickyard_*
// series to the parent's own, sample by sample: counters, gauges and
// histograms of equal names and labels are summed, so that the fleet reads
// as one process's (sum(brickyard_devices) is the fleet, the latency
// histogram holds every request). The Go runtime and process series
// (go_*, process_*) and brickyard_build_info are the parent's only. A worker that does not answer
// is counted in brickyard_worker_scrape_failures_total and left out of
// that scrape; brickyard_workers says how many workers run, exited or were
// lost.
type Aggregate struct {
	own    *Metrics
	client *http.Client

	mu      sync.Mutex
	sources []string // the workers' /metrics URLs, "" for one not up yet

	workers  *prometheus.GaugeVec
	failures prometheus.Counter
}

// ScrapeTimeout bounds the scrape of one worker.
const ScrapeTimeout = 5 * time.Second

// maxScrape bounds what is read of one worker's exposition.
const maxScrape = 32 << 20

// NewAggregate makes the aggregate endpoint of a parent whose own
// metrics are own, with n workers.
func NewAggregate(own *Metrics, n int) *Aggregate {
	a := &Aggregate{own: own, client: &http.Client{Timeout: ScrapeTimeout}, sources: make([]string, n)}
	a.workers = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "workers",
		Help: "Worker processes of the fleet by state: running, exited (reported), lost (ended without a report)."}, []string{"state"})
	a.failures = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "worker_scrape_failures_total",
		Help: "Scrapes of a worker's metrics that failed; that worker's series were left out of that scrape."})
	own.reg.MustRegister(a.workers, a.failures)
	a.Workers(0, 0, 0)
	return a
}

// SetSource sets worker k's (from 1) metrics URL.
func (a *Aggregate) SetSource(k int, url string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if k >= 1 && k <= len(a.sources) {
		a.sources[k-1] = url
	}
}

// Workers sets how many workers are in each state ("running", "exited",
// "lost").
func (a *Aggregate) Workers(running, exited, lost int) {
	a.workers.WithLabelValues("running").Set(float64(running))
	a.workers.WithLabelValues("exited").Set(float64(exited))
	a.workers.WithLabelValues("lost").Set(float64(lost))
}

// Handler serves the aggregate exposition.
func (a *Aggregate) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fams, err := a.Gather(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
		var b bytes.Buffer
		for _, f := range fams {
			if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		_, _ = w.Write(b.Bytes())
	})
}

// Gather is the aggregate: the parent's families with every worker's
// brickyard_* families added, sorted by name.
func (a *Aggregate) Gather(ctx context.Context) ([]*dto.MetricFamily, error) {
	a.mu.Lock()
	srcs := slices.Clone(a.sources)
	a.mu.Unlock()
	got := make([]map[string]*dto.MetricFamily, len(srcs))
	var wg sync.WaitGroup
	for i, u := range srcs {
		if u == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fams, err := a.scrape(ctx, u)
			if err != nil {
				a.failures.Inc()
				return
			}
			got[i] = fams
		}()
	}
	wg.Wait()
	own, err := a.own.reg.Gather()
	if err != nil {
		return nil, err
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range own {
		byName[f.GetName()] = f
	}
	for _, fams := range got {
		for name, f := range fams {
			if !strings.HasPrefix(name, Namespace+"_") || name == Namespace+"_build_info" {
				continue // the process's own (a worker runs the parent's binary)
			}
			have := byName[name]
			if have == nil {
				byName[name] = f
				continue
			}
			if have.GetType() != f.GetType() {
				continue // not the same metric: keep the parent's
			}
			addFamily(have, f)
		}
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, f := range byName {
		slices.SortFunc(f.Metric, func(x, y *dto.Metric) int { return strings.Compare(labelKey(x), labelKey(y)) })
		out = append(out, f)
	}
	slices.SortFunc(out, func(x, y *dto.MetricFamily) int { return strings.Compare(x.GetName(), y.GetName()) })
	return out, nil
}

func (a *Aggregate) scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(io.LimitReader(resp.Body, maxScrape))
}

// labelKey identifies a sample by its labels.
func labelKey(m *dto.Metric) string {
	var b strings.Builder
	ls := slices.Clone(m.Label)
	slices.SortFunc(ls, func(x, y *dto.LabelPair) int { return strings.Compare(x.GetName(), y.GetName()) })
	for _, l := range ls {
		b.WriteString(l.GetName())
		b.WriteByte(0)
		b.WriteString(l.GetValue())
		b.WriteByte(0)
	}
	return b.String()
}

// addFamily adds f's samples to have's: equal labels summed, new ones
// appended. Summaries add their count and sum (their quantiles cannot be
// added and are dropped).
func addFamily(have, f *dto.MetricFamily) {
	at := make(map[string]*dto.Metric, len(have.Metric))
	for _, m := range have.Metric {
		at[labelKey(m)] = m
	}
	for _, m := range f.Metric {
		h := at[labelKey(m)]
		if h == nil {
			c := proto.Clone(m).(*dto.Metric)
			if c.Summary != nil {
				c.Summary.Quantile = nil
			}
			have.Metric = append(have.Metric, c)
			at[labelKey(c)] = c
			continue
		}
		addMetric(h, m)
	}
}

func addMetric(h, m *dto.Metric) {
	switch {
	case h.Counter != nil && m.Counter != nil:
		h.Counter.Value = proto.Float64(h.Counter.GetValue() + m.Counter.GetValue())
	case h.Gauge != nil && m.Gauge != nil:
		h.Gauge.Value = proto.Float64(h.Gauge.GetValue() + m.Gauge.GetValue())
	case h.Untyped != nil && m.Untyped != nil:
		h.Untyped.Value = proto.Float64(h.Untyped.GetValue() + m.Untyped.GetValue())
	case h.Histogram != nil && m.Histogram != nil:
		hh, mh := h.Histogram, m.Histogram
		hh.SampleCount = proto.Uint64(hh.GetSampleCount() + mh.GetSampleCount())
		hh.SampleSum = proto.Float64(hh.GetSampleSum() + mh.GetSampleSum())
		for _, b := range mh.Bucket {
			i := slices.IndexFunc(hh.Bucket, func(x *dto.Bucket) bool { return x.GetUpperBound() == b.GetUpperBound() })
			if i < 0 {
				continue // other bounds: not the same histogram
			}
			hh.Bucket[i].CumulativeCount = proto.Uint64(hh.Bucket[i].GetCumulativeCount() + b.GetCumulativeCount())
		}
	case h.Summary != nil && m.Summary != nil:
		h.Summary.SampleCount = proto.Uint64(h.Summary.GetSampleCount() + m.Summary.GetSampleCount())
		h.Summary.SampleSum = proto.Float64(h.Summary.GetSampleSum() + m.Summary.GetSampleSum())
		h.Summary.Quantile = nil
	}
}
