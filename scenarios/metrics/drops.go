package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"brickyard/mtp"
)

// dropsCollector exports the Records each side's transports dropped
// (mtp.Drops), read at every scrape.
type dropsCollector struct {
	desc  *prometheus.Desc
	mu    sync.Mutex
	sides map[string]*mtp.Drops
}

func newDropsCollector() *dropsCollector {
	return &dropsCollector{
		desc: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "mtp_dropped_records_total"),
			"Records a transport received and did not deliver, by side (agents, controller) and cause (too-large, queue-full, malformed, foreign, no-session; docs/mtp.md).",
			[]string{"side", "cause"}, nil),
		sides: map[string]*mtp.Drops{},
	}
}

func (c *dropsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *dropsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for side, d := range c.sides {
		for _, cause := range mtp.DropCauses() {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(d.Count(cause)), side, cause.String())
		}
	}
}

// Dropped exports the drops of one side of the run ("agents",
// "controller"); every cause shows, zero included, from the first scrape.
func (m *Metrics) Dropped(side string, d *mtp.Drops) {
	m.drops.mu.Lock()
	defer m.drops.mu.Unlock()
	m.drops.sides[side] = d
}
