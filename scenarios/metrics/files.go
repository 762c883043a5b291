package metrics

import (
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"brickyard/scenarios/fileserver"
)

// filesCollector exports the embedded firmware file server's counters
// (fileserver.Stats), read at every scrape: none until FileServer hands
// the server over.
type filesCollector struct {
	requests, bytes, responses *prometheus.Desc
	mu                         sync.Mutex
	read                       func() fileserver.Stats
}

func newFilesCollector() *filesCollector {
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "fileserver", n) }
	return &filesCollector{
		requests:  prometheus.NewDesc(name("requests_total"), "Requests the embedded firmware file server received, whatever their answer.", nil, nil),
		bytes:     prometheus.NewDesc(name("bytes_total"), "Image bytes the embedded firmware file server handed to connections.", nil, nil),
		responses: prometheus.NewDesc(name("responses_total"), "Answers of the embedded firmware file server by HTTP status code (a fault plan's 503s, 401s without credentials, 200s including transfers cut or stalled later).", []string{"code"}, nil),
	}
}

func (c *filesCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.requests
	ch <- c.bytes
	ch <- c.responses
}

func (c *filesCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	read := c.read
	c.mu.Unlock()
	if read == nil {
		return
	}
	st := read()
	ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(st.Requests))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(st.BytesSent))
	codes := make([]int, 0, len(st.Responses))
	for code := range st.Responses {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		ch <- prometheus.MustNewConstMetric(c.responses, prometheus.CounterValue, float64(st.Responses[code]), strconv.Itoa(code))
	}
}

// FileServer exports the counters of the run's firmware file server, read
// from then on at every scrape.
func (m *Metrics) FileServer(read func() fileserver.Stats) {
	m.files.mu.Lock()
	defer m.files.mu.Unlock()
	m.files.read = read
}
