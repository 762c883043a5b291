package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"brickyard/mtp"
	"brickyard/mtp/websocket"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// wireSeen is one Record a controller received: when, and what a
// controller can read of it (nil glance: not a Record).
type wireSeen struct {
	at time.Time
	g  *usp.Glance
}

// wireController answers nothing and sends every agent two Gets when it
// connects; it keeps every Record as it arrived, every session's start
// and how each session ended.
type wireController struct {
	mu       sync.Mutex
	seen     map[string][]wireSeen
	asked    map[string]time.Time // when the Gets went out, by agent
	sessions map[string]int
	ended    map[string][]error // the sessions' Recv errors, by agent
	clock    map[string]string  // Device.Time.CurrentLocalTime as answered, by agent
	asks     map[string]bool    // the agents also asked for their clock
	wg       sync.WaitGroup
}

func serveWireController(ctx context.Context, l mtp.Listener, clockOf ...string) *wireController {
	wc := &wireController{seen: map[string][]wireSeen{}, asked: map[string]time.Time{}, sessions: map[string]int{}, ended: map[string][]error{},
		clock: map[string]string{}, asks: map[string]bool{}}
	for _, id := range clockOf {
		wc.asks[id] = true
	}
	codec := usp.Codec{LocalID: testCtrl}
	wc.wg.Go(func() {
		for {
			conn, err := l.Accept(ctx)
			if err != nil {
				return
			}
			wc.wg.Go(func() {
				defer conn.Close()
				id := conn.Info().Peer
				wc.mu.Lock()
				wc.sessions[id]++
				first := wc.sessions[id] == 1
				if first {
					wc.asked[id] = time.Now()
				}
				wc.mu.Unlock()
				if first {
					for _, mid := range []string{"g1", "g2", "time"} {
						path := "Device.DeviceInfo.SoftwareVersion"
						if mid == "time" {
							if !wc.asks[id] {
								continue
							}
							path = "Device.Time.CurrentLocalTime"
						}
						data, err := codec.Seal(id, usp.NewRequest(mid, &pb.Get{ParamPaths: []string{path}}))
						if err == nil {
							_ = conn.Send(ctx, data)
						}
					}
				}
				for {
					data, err := conn.Recv(ctx)
					now := time.Now()
					if err != nil {
						wc.mu.Lock()
						wc.ended[id] = append(wc.ended[id], err)
						wc.mu.Unlock()
						return
					}
					s := wireSeen{at: now}
					g, err := usp.Peek(data)
					if err == nil && g.Kind == usp.RecordConnect {
						continue // the MTP's own, sent inside its dial: no misbehaviour touches it
					}
					if err == nil {
						g.To, g.MsgID = []byte(string(g.To)), []byte(string(g.MsgID)) // Peek's slices alias data
						s.g = &g
						if string(g.MsgID) == "time" {
							if in, err := codec.Open(data); err == nil {
								for _, rr := range in.Msg.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
									for _, res := range rr.GetResolvedPathResults() {
										wc.mu.Lock()
										wc.clock[id] = res.GetResultParams()["CurrentLocalTime"]
										wc.mu.Unlock()
									}
								}
							}
							continue // not one of the answers counted below
						}
					}
					wc.mu.Lock()
					wc.seen[id] = append(wc.seen[id], s)
					wc.mu.Unlock()
				}
			})
		}
	})
	return wc
}

// answers are the msg_ids of the GetResps agent id sent, in order, and
// when the first arrived.
func (wc *wireController) answers(id string) (ids []string, first time.Time) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	for _, s := range wc.seen[id] {
		if s.g != nil && s.g.HasMsg && s.g.Type == pb.Header_GET_RESP {
			ids = append(ids, string(s.g.MsgID))
			if first.IsZero() {
				first = s.at
			}
		}
	}
	return ids, first
}

// Every misbehaviour of the fault plan, one device each, seen at the wire
// by a controller that reads raw Records: what it got is what a
// controller under test would get, and the report names each device's
// misbehaviour.
func TestFleet_Misbehaviour(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	l, err := websocket.NewListener(websocket.Config{URL: "ws://127.0.0.1:0/usp", ControllerID: testCtrl})
	if err != nil {
		t.Fatal(err)
	}
	dev := func(n int) string { return fmt.Sprintf("os::00256D-SIM%06d", n) }
	wc := serveWireController(ctx, l, dev(15), dev(16)) // 15 has a skewed clock, 16 none
	defer func() { cancel(); l.Close(); wc.wg.Wait() }()

	rules := []string{
		"{kind: answer-drop}",
		"{kind: answer-duplicate}",
		"{kind: msgid-wrong}",
		"{kind: msgid-reuse}",
		"{kind: notify-repeat, count: 2}",
		"{kind: record-malformed}",
		"{kind: record-truncated}",
		"{kind: record-wrong-to, to: 'proto::elsewhere'}",
		"{kind: record-oversized, size: 400000}",
		"{kind: answer-delay, dist: fixed, delay: 1500ms}",
		"{kind: conn-churn, every: 1s}",
		"{kind: slow-consumer, duration: 1500ms}",
		"{kind: reconnect-wave, after: 3s}",
		"{kind: boot-storm, after: 3s}",
		"{kind: clock-skew, skew: -3h}",
	}
	var plan strings.Builder
	for i, r := range rules {
		fmt.Fprintf(&plan, "- %s, devices: ['%s']}\n", strings.TrimSuffix(r, "}"), dev(i+1))
	}
	file := filepath.Join(t.TempDir(), "faults.yaml")
	if err := os.WriteFile(file, []byte(plan.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	began := time.Now() // the fleet's start, from which the slow-consumer window counts, is no earlier
	runFleetFor(t, "fleet", "--ws-url", l.(*websocket.Listener).URL(), "--controller-id", testCtrl, "--devices", "17", "--reboot", "1s",
		"--faults", file, "--duration", "8s", "--retry-min-wait", "1s", "--quiet", "--out", dir)
	cancel()
	l.Close()
	wc.wg.Wait()

	check := func(n int, what string, ok bool, got any) {
		t.Helper()
		if !ok {
			t.Errorf("%s (%s): %v", dev(n), what, got)
		}
	}
	ids, _ := wc.answers(dev(17))
	check(17, "no misbehaviour", strings.Join(ids, " ") == "g1 g2", ids)
	ids, _ = wc.answers(dev(1))
	check(1, "answer-drop", len(ids) == 0, ids)
	ids, _ = wc.answers(dev(2))
	check(2, "answer-duplicate", strings.Join(ids, " ") == "g1 g1 g2 g2", ids)
	ids, _ = wc.answers(dev(3))
	check(3, "msgid-wrong", strings.Join(ids, " ") == "misbehave-1 misbehave-2", ids)
	ids, _ = wc.answers(dev(4))
	check(4, "msgid-reuse", strings.Join(ids, " ") == "g1 g1", ids)

	wc.mu.Lock()
	defer wc.mu.Unlock()
	notifies := map[string]int{}
	for _, s := range wc.seen[dev(5)] {
		if s.g != nil && s.g.Type == pb.Header_NOTIFY {
			notifies[string(s.g.MsgID)]++
		}
	}
	repeated := false
	for _, n := range notifies {
		// Each sending comes three times: the device's own retries of an
		// unanswered Notify (this controller answers nothing) too.
		repeated = repeated || n >= 3
		if n%3 != 0 {
			t.Errorf("%s (notify-repeat): a Notify arrived %d times, want a multiple of 3: %v", dev(5), n, notifies)
		}
	}
	check(5, "notify-repeat", repeated, notifies)
	for _, n := range []int{6, 7} {
		bad := 0
		for _, s := range wc.seen[dev(n)] {
			if s.g != nil {
				t.Errorf("%s: a Record that parses: %+v", dev(n), *s.g)
			}
			bad++
		}
		check(n, rules[n-1], bad >= 3, bad) // its Boot! Notify and two answers at least
	}
	wrongTo := 0
	for _, s := range wc.seen[dev(8)] {
		if s.g == nil || string(s.g.To) != "proto::elsewhere" {
			t.Errorf("%s: %+v", dev(8), s.g)
		}
		wrongTo++
	}
	check(8, "record-wrong-to", wrongTo >= 3, wrongTo)
	tooLarge := false
	for _, err := range wc.ended[dev(9)] {
		tooLarge = tooLarge || (err != nil && !errors.Is(err, context.Canceled))
	}
	check(9, "record-oversized ends the session at the listener's limit", tooLarge && len(wc.seen[dev(9)]) == 0, wc.ended[dev(9)])
	wc.mu.Unlock()
	_, first := wc.answers(dev(10))
	wc.mu.Lock()
	check(10, "answer-delay", !first.IsZero() && first.Sub(wc.asked[dev(10)]) >= 1500*time.Millisecond, first.Sub(wc.asked[dev(10)]))
	check(11, "conn-churn", wc.sessions[dev(11)] >= 2, wc.sessions[dev(11)])
	check(13, "reconnect-wave: the session lost, then back", wc.sessions[dev(13)] == 2, wc.sessions[dev(13)])
	boots := 0
	for _, s := range wc.seen[dev(14)] {
		if s.g != nil && s.g.Type == pb.Header_NOTIFY {
			boots++ // Boot! (and nothing else: no subscription)
		}
	}
	check(14, "boot-storm: power-cycled, it boots and connects again", wc.sessions[dev(14)] == 2 && boots >= 2, boots)
	skewed, err1 := time.Parse(time.RFC3339, wc.clock[dev(15)])
	right, err2 := time.Parse(time.RFC3339, wc.clock[dev(16)])
	behind := right.Sub(skewed)
	check(15, "clock-skew: three hours behind a device with the true time", err1 == nil && err2 == nil && behind > 3*time.Hour-time.Minute && behind < 3*time.Hour+time.Minute, wc.clock)
	wc.mu.Unlock()
	_, first = wc.answers(dev(12))
	wc.mu.Lock()
	check(12, "slow-consumer: no answer before its window ends", !first.IsZero() && first.Sub(began) >= 1500*time.Millisecond, first.Sub(began))

	r := readReport(t, dir)
	for _, d := range r.Fleet {
		var n int
		if _, err := fmt.Sscanf(d.ID, "os::00256D-SIM%06d", &n); err != nil || n > len(rules) {
			continue
		}
		kind := strings.Fields(strings.Trim(rules[n-1], "{}"))[1]
		if !strings.Contains(d.Faults, strings.TrimSuffix(kind, ",")) {
			t.Errorf("report: %s has faults %q, want %s", d.ID, d.Faults, kind)
		}
	}
}
