package scenarios

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"brickyard/scenarios/report"
)

// The built-in bench-mixed scenario: three board-emu boards on
// pseudo-terminals among 1,000 simulated devices, one campaign, one fault
// plan with cuts on both kinds. Every bench board gets its fault, none is
// bricked or offline, and the report shows them apart and side by side.
func TestBenchMixed(t *testing.T) {
	sc, err := Builtin("bench-mixed")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), sc, Options{Profiles: profiles(t), ProgressEvery: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Interrupted || r.Devices != 1003 {
		t.Fatalf("interrupted %v, %d devices", r.Interrupted, r.Devices)
	}
	if len(r.ByKind) != 2 || r.ByKind[0].Name != "simulated" || r.ByKind[0].Devices != 1000 || r.ByKind[1].Name != "bench" || r.ByKind[1].Devices != 3 {
		t.Fatalf("by kind: %+v", r.ByKind)
	}
	if len(r.Bench) != 3 {
		t.Fatalf("bench section: %+v", r.Bench)
	}
	faulted := map[string]string{}
	cutOnLink := map[string]bool{} // a cut landed on an operation over the link
	for _, d := range r.Fleet {
		if strings.HasPrefix(d.Board, "bench/") {
			faulted[d.Board] = d.Faults
			for _, c := range d.Cuts {
				cutOnLink[d.Board] = cutOnLink[d.Board] || c.Op != ""
			}
		}
	}
	for _, b := range r.Bench {
		switch {
		case b.Offline != "":
			t.Errorf("%s offline: %s", b.Name, b.Offline)
		case b.Outcome != "updated" && b.Outcome != "rolled_back" && b.Outcome != "install_failed":
			t.Errorf("%s ended %s", b.Name, b.Outcome)
		case faulted["bench/"+b.Name] == "":
			t.Errorf("%s got no fault", b.Name)
		case !b.Emulated || b.Requests == 0:
			t.Errorf("%s: %+v: nothing went over its link", b.Name, b)
		case b.Outcome == "install_failed" && !cutOnLink["bench/"+b.Name]:
			// A cut early in the install lands among the slot's erases,
			// before any of the image is programmed.
			t.Errorf("%s: %+v: install failed, and not by a cut over its link", b.Name, b)
		case b.Outcome != "install_failed" && b.PayloadOut < 48<<10:
			t.Errorf("%s: %+v: the image did not go over its link", b.Name, b)
		}
	}
	for _, g := range r.ByBoard {
		if strings.HasPrefix(g.Name, "bench/") && g.Devices != 1 {
			t.Errorf("row %s: %d devices", g.Name, g.Devices)
		}
	}
	// How many simulated devices confirm within their trial depends on
	// the machine's load; that none is bricked does not.
	if count(r, "bricked") != 0 {
		t.Fatalf("outcomes %+v", r.Outcomes)
	}
	var out bytes.Buffer
	if err := report.WriteSummary(&out, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"simulated", "bench/emu-uboot", "bench boards:", "emu-esp"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

// Bench boards are checked with the scenario: real clock, a profile of
// the fleet, a wave of the campaign, unique names.
func TestBenchBadInput(t *testing.T) {
	base := realSmall
	for _, tc := range []struct{ bench, want string }{
		{"bench:\n  - {name: e, emulate: esp32-ota}\n", "needs clock: real"},
		{"bench:\n  - {name: e, emulate: single-nor}\n", "must be one of fleet.boards"},
		{"bench:\n  - {name: e, emulate: uboot-nor, wave: 9}\n", "wave: 9"},
		{"bench:\n  - {name: e, emulate: uboot-nor}\n  - {name: e, emulate: uboot-nor}\n", "listed twice"},
		{"bench:\n  - {name: e, emulate: uboot-nor, port: /dev/ttyS9}\n", "no port or profile"},
		{"bench:\n  - {name: e, profile: uboot-nor}\n", "port is required"},
		{"bench:\n  - {name: e, emulate: uboot-nor, colour: red}\n", "colour"},
	} {
		doc := base + tc.bench
		if tc.want == "needs clock: real" {
			doc = strings.Replace(realSmall, "clock: real", "clock: virtual", 1) + tc.bench
		}
		_, err := Parse("b.yaml", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.bench, err, tc.want)
		}
	}
}

// A lab's tools on a running scenario's bench board: its console on a
// raw TCP port shows its boot log, and its power, served in pdudaemon's
// URL form, switches the device off and on under the fleet runner.
func TestBenchLabTools(t *testing.T) {
	doc := strings.Replace(realSmall, "    - profile: esp32-ota\n      count: 12\n", "", 1) +
		"bench:\n  - {name: lab, emulate: uboot-nor, baud: 921600, console: \"127.0.0.1:0\"}\n"
	sc, err := Parse("lab.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs []string
	found := make(chan string, 4)
	logf := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		mu.Lock()
		logs = append(logs, line)
		mu.Unlock()
		if m := regexp.MustCompile(`(tcp|http)://([0-9.:]+)`).FindStringSubmatch(line); m != nil && strings.HasPrefix(line, "bench:") {
			found <- m[1] + " " + m[2]
		}
	}
	var events lockedLog
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var rep *report.Report
	go func() {
		var err error
		rep, err = Run(ctx, sc, Options{Profiles: profiles(t), Logf: logf, EventLog: &events, PDUAddr: "127.0.0.1:0", PDUHostname: "lab"})
		done <- err
	}()
	var console, pdu string
	for console == "" || pdu == "" {
		select {
		case f := <-found:
			kind, addr, _ := strings.Cut(f, " ")
			if kind == "tcp" {
				console = addr
			} else {
				pdu = addr
			}
		case err := <-done:
			t.Fatalf("run ended first: %v", err)
		case <-time.After(60 * time.Second):
			t.Fatal("no console or power endpoint logged")
		}
	}
	c, err := net.Dial("tcp", console)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	get := func(cmd string) {
		t.Helper()
		resp, err := http.Get("http://" + pdu + "/power/control/" + cmd + "?hostname=lab&port=1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", cmd, resp.Status)
		}
	}
	get("off")
	get("on")
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	rd := bufio.NewReader(c)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("console: %v", err)
		}
		if strings.Contains(line, "U-Boot 2023.01") {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	log := events.String()
	if !strings.Contains(log, "power-switch off") || !strings.Contains(log, "power-switch on") || len(rep.Bench) != 1 {
		t.Fatalf("bench %+v; event log lacks the switches:\n%s", rep.Bench, tail(log, 20))
	}
}

type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
