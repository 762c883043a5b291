package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"brickyard/sim/index"
)

// Two workers' metrics and the parent's own add up to one fleet's: gauges
// and counters summed by labels, histograms bucket by bucket, the Go and
// process series the parent's only; a worker that does not answer is
// counted and left out.
func TestAggregate_SumsWorkers(t *testing.T) {
	worker := func(devices int, latencies ...time.Duration) (*httptest.Server, *Metrics) {
		m := New(WithRecountInterval(0))
		idx, err := index.New()
		if err != nil {
			t.Fatal(err)
		}
		var devs []index.Device
		for i := range devices {
			devs = append(devs, index.Device{ID: string(rune('a' + i)), Board: "uboot-nor", Phase: "idle", Outcome: "pending", Conn: "connected", Version: "1.0.0"})
		}
		if err := idx.PutAll(devs); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go m.Follow(ctx, idx)
		for _, d := range latencies {
			m.Latency(d)
			m.Message(Sent, "Notify")
		}
		srv := httptest.NewServer(m.Handler())
		t.Cleanup(srv.Close)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && !strings.Contains(scrape(t, srv.URL), `brickyard_devices_by_conn{conn="connected"} `+strconv.Itoa(devices)) {
			time.Sleep(10 * time.Millisecond)
		}
		return srv, m
	}
	w1, _ := worker(3, 2*time.Millisecond, 20*time.Millisecond)
	w2, _ := worker(4, 3*time.Millisecond)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	own := New()
	own.Campaign(1, 7, 7, 2)
	a := NewAggregate(own, 3)
	a.SetSource(1, w1.URL+"/metrics")
	a.SetSource(2, w2.URL+"/metrics")
	a.SetSource(3, dead.URL+"/metrics")
	a.Workers(2, 0, 1)
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	body := scrape(t, srv.URL)
	for _, want := range []string{
		`brickyard_devices{board="uboot-nor"} 7`,
		`brickyard_devices_by_conn{conn="connected"} 7`,
		`brickyard_devices_by_outcome{outcome="pending"} 7`,
		`brickyard_usp_messages_total{direction="sent",role="agent",type="Notify"} 3`,
		`brickyard_usp_request_duration_seconds_count{role="agent"} 3`,
		`brickyard_usp_request_duration_seconds_bucket{role="agent",le="0.0025"} 1`,
		`brickyard_usp_request_duration_seconds_bucket{role="agent",le="0.005"} 2`,
		`brickyard_usp_request_duration_seconds_bucket{role="agent",le="0.025"} 3`,
		`brickyard_campaign_devices{state="planned",wave="1"} 7`,
		`brickyard_workers{state="running"} 2`, `brickyard_workers{state="lost"} 1`,
		`brickyard_worker_scrape_failures_total 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("aggregate lacks %q", want)
		}
	}
	if n := strings.Count(body, "\ngo_goroutines "); n != 1 {
		t.Errorf("go_goroutines %d times", n)
	}
	if t.Failed() {
		t.Log(body)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(url, "/metrics") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
