package dashboard

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"brickyard/scenarios/report/reporttest"
	"brickyard/sim/fleet"
	"brickyard/sim/index"
)

// serve serves l on a loopback port until the test ends and returns its
// URL.
func serve(t *testing.T, l *Live) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + "/"
}

// waitFor waits, on the page's DOM mutations, until the JavaScript
// expression is true; what bounds it is a step's timeout.
func waitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	sctx, cancel := reporttest.Step(ctx)
	defer cancel()
	if _, err := chromedp.Run(sctx, chromedp.Poll[bool](expr, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(0))); err != nil {
		var text string
		if s, err2 := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`)); err2 == nil {
			text = s
		}
		t.Fatalf("%s: %v\nthe page says:\n%s", what, err, text)
	}
}

// The page, in Debian's headless Chromium: it loads with no error and no
// request elsewhere, follows the fleet as it changes (server-sent events),
// lists a failing device and shows its timeline and last messages on a
// click, and says when the run is over.
func TestDashboard_Browser(t *testing.T) {
	const ctrl = "proto::ctrl"
	ids := []string{"os::dev-1", "os::dev-2", "os::dev-3"}
	idx := newIndex(t, ids...)
	l := New(Config{Title: "fleet under test", Index: idx, Start: t0, Plan: "2 waves; abort at 20%"})
	url := serve(t, l)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	sample := func(s int, final bool) {
		l.Sample(Sample{Elapsed: time.Duration(s) * time.Second, Outcomes: idx.Counts(index.ByOutcome),
			Phases: idx.Counts(index.ByPhase), Conn: idx.Counts(index.ByConn), Final: final,
			Waves: []Wave{{Name: "canary", Size: 1, Done: 1, Opened: true, Closed: true}, {Name: "rest", Size: 2, Failed: 1, Opened: true}}})
	}
	for _, id := range ids {
		l.Link(id, fleet.LinkUp, nil, at(1))
		if err := idx.Update(id, func(d *index.Device) { d.Conn = "connected" }); err != nil {
			t.Fatal(err)
		}
	}
	sample(1, false)

	ctx := reporttest.Browser(t, 1280, 900)
	seen := reporttest.Watch(t, ctx)
	sctx, cancel := reporttest.Step(ctx)
	defer cancel()
	if err := chromedp.Do(sctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the first state", `document.querySelector('#devices').textContent === '3' &&
		document.querySelector('#n-connected').textContent === '3' &&
		document.querySelector('#title').textContent === 'fleet under test' &&
		document.querySelector('#status').textContent === 'live'`)

	// dev-2 takes an update that fails: a power cut while it installs.
	l.Record(ids[1], true, record(t, ctrl, ids[1], get("op-1")), at(2))
	l.Record(ids[1], false, record(t, ids[1], ctrl, getResp("op-1")), at(2))
	l.Event(ids[1], "download-start", "row=2 url=http://127.0.0.1/fw.img", at(3))
	l.Event(ids[1], "power-cut", "phase=install op=3 erase@0x40000", at(5))
	l.Event(ids[1], "bricked", "no bootable slot", at(9))
	l.Latency("Get", 40*time.Millisecond)
	if err := idx.Update(ids[1], func(d *index.Device) { d.Outcome, d.Conn = "bricked", "disconnected" }); err != nil {
		t.Fatal(err)
	}
	sample(10, false)
	waitFor(t, ctx, "the page follows the fleet", `document.querySelector('#n-bricked').textContent === '1' &&
		document.querySelector('#n-connected').textContent === '2' &&
		document.querySelector('#failing-table a.dev')?.textContent === 'os::dev-2' &&
		document.querySelector('#latency-table tbody').textContent.includes('Get') &&
		document.querySelector('#slowest-table tbody').textContent.includes('6.0') &&
		document.querySelectorAll('#chart-outcomes polyline').length >= 2 &&
		document.querySelector('#group-charts svg[data-group="board uboot-nor"] polyline') !== null &&
		document.querySelector('#wave-table tbody').textContent.includes('canary')`)

	if err := chromedp.Do(sctx, chromedp.Click(chromedp.CSS(`#failing-table a.dev`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the device's timeline", `document.querySelector('#device').dataset.loaded === 'os::dev-2' &&
		!document.querySelector('#device').hidden &&
		document.querySelector('#device-facts [data-field=outcome]').textContent === 'bricked' &&
		document.querySelector('#device-events tbody').textContent.includes('power-cut') &&
		document.querySelector('#device-events tbody').textContent.includes('phase=install op=3') &&
		document.querySelector('#device-messages tbody').textContent.includes('GetResp') &&
		document.querySelector('#device-messages tbody').textContent.includes('op-1')`)

	sample(11, true)
	waitFor(t, ctx, "the final state", `document.querySelector('#status').textContent.startsWith('finished')`)

	requests, problems := seen()
	for _, u := range requests {
		if !strings.HasPrefix(u, url) {
			t.Errorf("the page requested %s, outside %s", u, url)
		}
	}
	for _, p := range problems {
		t.Errorf("console: %s", p)
	}
}

// A stream ends when the server's context does: Serve returns at once,
// not after its shutdown timeout, with a page still connected.
func TestServe_StreamsEndWithTheServer(t *testing.T) {
	l := New(Config{Index: newIndex(t, "a")})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, l) }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Minute)); err != nil { // a bound, not a measure
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var got []byte
	for !strings.Contains(string(got), "event: state") {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("read %q: %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("serve: %v", err)
	}
}
