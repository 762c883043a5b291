package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"brickyard/scenarios/dashboard"
)

// urlWatcher is a log writer that hands over the first dashboard URL
// logged (the zap JSON line "msg":"dashboard"), keeping the rest.
type urlWatcher struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	url     chan string
	sent    bool
	linger  chan struct{} // closed once the run is over and its reports written: --linger holds it
	lingers bool
}

func newURLWatcher() *urlWatcher {
	return &urlWatcher{url: make(chan string, 1), linger: make(chan struct{})}
}

func (w *urlWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.sent || !w.lingers {
		for line := range strings.SplitSeq(w.buf.String(), "\n") {
			var l struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &l) != nil {
				continue
			}
			switch {
			case !w.sent && l.Msg == "dashboard" && l.URL != "":
				w.url <- l.URL
				w.sent = true
			case !w.lingers && strings.HasPrefix(l.Msg, "the run is over"):
				close(w.linger)
				w.lingers = true
			}
		}
	}
	return len(p), nil
}

func (w *urlWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startBrickyard runs brickyard with args until ctx ends and returns the
// dashboard's URL once it is logged, and a channel that gets the exit
// status.
func startBrickyard(t *testing.T, ctx context.Context, args ...string) (url string, code <-chan int, logs *urlWatcher) {
	t.Helper()
	clearEnv(t)
	logs = newURLWatcher()
	done := make(chan int, 1)
	var out bytes.Buffer
	go func() { done <- run(ctx, append(args, "--log-format", "json"), &out, logs) }()
	select {
	case url = <-logs.url:
	case c := <-done:
		t.Fatalf("brickyard %q ended (code %d) before it served a dashboard:\n%s", args, c, logs)
	case <-ctx.Done():
		t.Fatalf("no dashboard logged:\n%s", logs)
	}
	return url, done, logs
}

// finalState reads the dashboard's event stream at url until a state
// says the run is over.
func finalState(t *testing.T, ctx context.Context, url string) dashboard.State {
	t.Helper()
	resp := httpGet(t, ctx, url+"api/events")
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("api/events: %s, %s", resp.Status, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var events int
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		events++
		var s dashboard.State
		if err := json.Unmarshal([]byte(data), &s); err != nil {
			t.Fatalf("event %d: %v", events, err)
		}
		if s.Final {
			return s
		}
	}
	t.Fatalf("the stream ended after %d events without a final state: %v", events, sc.Err())
	return dashboard.State{}
}

// httpGet GETs url, bounded by ctx.
func httpGet(t *testing.T, ctx context.Context, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// getJSON reads the JSON at url into v (on a 200) and returns the status.
func getJSON(t *testing.T, ctx context.Context, url string, v any) int {
	t.Helper()
	resp := httpGet(t, ctx, url)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// fleet --dashboard: the page follows three devices against a controller
// and, with --linger, keeps their final state until interrupted.
func TestFleet_Dashboard(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	l, _ := startTestController(t, ctx, cancel)

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	url, code, logs := startBrickyard(t, runCtx, "fleet", "--ws-url", l.URL(), "--controller-id", testCtrl,
		"--devices", "3", "--duration", "3s", "--periodic", "1s", "--quiet", "--dashboard", "127.0.0.1:0", "--linger", "10m")
	s := finalState(t, ctx, url)
	if s.Devices != 3 || s.Outcomes["pending"] != 3 || s.Links.Up != 3 || !strings.Contains(s.Title, "3 devices over websocket to "+testCtrl) {
		t.Errorf("final state: %d devices, outcomes %v, links %+v, title %q", s.Devices, s.Outcomes, s.Links, s.Title)
	}
	msgs := map[string]dashboard.Messages{}
	for _, m := range s.Messages {
		msgs[m.Type] = m
	}
	if msgs["Get"].Received != 3 || msgs["GetResp"].Sent != 3 || msgs["Add"].Received != 3 || msgs["Notify"].Sent < 3 {
		t.Errorf("messages %+v", s.Messages)
	}
	if len(s.Latency) != 1 || s.Latency[0].Type != "Notify" || s.Latency[0].Count < 3 {
		t.Errorf("latency %+v", s.Latency)
	}
	if len(s.Series) < 2 || len(s.Boards) != 1 || s.Boards[0].Name != "uboot-nor" {
		t.Errorf("%d points, boards %+v", len(s.Series), s.Boards)
	}

	var v dashboard.DeviceView
	if c := getJSON(t, ctx, url+"api/device?id=os::00256D-SIM000002", &v); c != http.StatusOK {
		t.Fatalf("api/device: %d", c)
	}
	kinds := map[string]bool{}
	for _, e := range v.Events {
		kinds[e.Kind] = true
	}
	types := map[string]bool{}
	for _, m := range v.MessageList {
		types[m.Dir+" "+m.Type] = true
	}
	if v.Device.Outcome != "pending" || v.Device.Version != "1.0.0" || !kinds["boot"] || !types["out Notify"] || v.Received < 2 || v.Sent < 2 {
		t.Errorf("device: %+v (events %v, messages %v)", v.Device, kinds, types)
	}
	if c := getJSON(t, ctx, url+"api/device?id=os::nobody", &v); c != http.StatusNotFound {
		t.Errorf("an unknown device: %d", c)
	}

	select { // the final state is served before the summary and the reports are written
	case <-logs.linger:
	case c := <-code:
		t.Fatalf("the fleet ended (code %d) before --linger held it:\n%s", c, logs)
	case <-ctx.Done():
		t.Fatalf("the fleet did not linger:\n%s", logs)
	}
	stop() // Ctrl-C ends the linger
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("code %d:\n%s", c, logs)
		}
	case <-ctx.Done():
		t.Fatal("the fleet did not stop lingering when interrupted")
	}
}

// run --dashboard on the virtual clock: the final state the page shows is
// the report's, device for device.
func TestRun_Dashboard(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	url, code, logs := startBrickyard(t, ctx, "run", writeScenario(t, virtualScenario), "--quiet", "--out", dir,
		"--dashboard", "127.0.0.1:0", "--linger", "10m")
	s := finalState(t, ctx, url)
	select { // the final state is served before the reports are written
	case <-logs.linger:
	case <-ctx.Done():
		t.Fatalf("run did not linger:\n%s", logs)
	}
	r := readReport(t, dir)
	for _, c := range r.Outcomes {
		if s.Outcomes[c.Name] != c.N {
			t.Errorf("outcome %s: the dashboard says %d, the report %d", c.Name, s.Outcomes[c.Name], c.N)
		}
	}
	if s.Devices != 40 || len(s.Waves) != 2 || !strings.Contains(s.Plan, "2 waves") || len(s.Latency) == 0 || s.Links.Up < 40 {
		t.Errorf("devices %d, waves %+v, plan %q, latency %+v, links %+v", s.Devices, s.Waves, s.Plan, s.Latency, s.Links)
	}
	var grouped bool
	for _, p := range s.Series {
		grouped = grouped || len(p.Groups) > 0
	}
	if !grouped {
		t.Error("no point holds the boards' and waves' outcomes")
	}
	var failed string
	for _, d := range r.Fleet {
		if d.Outcome != "updated" {
			failed = d.ID
			break
		}
	}
	if failed == "" {
		t.Fatal("the scenario's power cuts failed no update")
	}
	var v dashboard.DeviceView
	if c := getJSON(t, ctx, url+"api/device?id="+failed, &v); c != http.StatusOK {
		t.Fatalf("api/device: %d", c)
	}
	var kinds []string
	for _, e := range v.Events {
		kinds = append(kinds, e.Kind)
	}
	if !strings.Contains(fmt.Sprint(kinds), "power-cut") || len(v.MessageList) == 0 || v.Update == nil {
		t.Errorf("device %s: events %v, %d messages, update %+v", failed, kinds, len(v.MessageList), v.Update)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("code %d:\n%s", c, logs)
		}
	case <-time.After(time.Minute):
		t.Fatal("run did not stop lingering when interrupted")
	}
}
