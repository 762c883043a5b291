package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const virtualScenario = `name: cli-virtual
clock: virtual
seed: 11
fleet:
  boards:
    - profile: uboot-nor
      count: 20
    - profile: single-nor
      count: 20
device: {reboot: 5s, trial: 30s}
images:
  - version: 2.0.0
    payload: 8KiB
campaign:
  image: 2.0.0
  waves:
    - share: 25%
    - share: rest
faults:
  - kind: power-during-install
    share: 0.5
    board: single-nor
    torn: true
expect:
  - updated >= 0.5
`

// runTwice runs brickyard run file twice with args (and --quiet), each time
// into a fresh folder given to args' "{dir}", and returns what file name
// (in that folder) held each time.
func runTwice(t *testing.T, file, name string, args ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for range 2 {
		dir := t.TempDir()
		a := []string{"run", file, "--quiet"}
		for _, x := range args {
			a = append(a, strings.ReplaceAll(x, "{dir}", dir))
		}
		stdout, errOut, code := runBrickyard(t, nil, a...)
		if code != 0 {
			t.Fatalf("code %d: %s\n%s", code, errOut, stdout)
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Fatalf("two runs with the same seed wrote different %s", name)
	}
	return out
}

func writeScenario(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A virtual-time scenario file: summary on stdout, both reports written,
// and the same seed writes the same report.json byte for byte.
func TestRun_VirtualReportsAreDeterministic(t *testing.T) {
	file := writeScenario(t, virtualScenario)
	var jsons [][]byte
	for range 2 {
		dir := t.TempDir()
		out, errOut, code := runBrickyard(t, nil, "run", file, "--quiet", "--out", dir)
		if code != 0 {
			t.Fatalf("code %d: %s\n%s", code, errOut, out)
		}
		if !strings.Contains(out, "scenario cli-virtual") || !strings.Contains(out, "ok   updated >= 0.5") {
			t.Fatalf("summary:\n%s", out)
		}
		js, err := os.ReadFile(filepath.Join(dir, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		html, err := os.ReadFile(filepath.Join(dir, "report.html"))
		if err != nil || !bytes.Contains(html, []byte("<svg")) {
			t.Fatalf("report.html: %v", err)
		}
		jsons = append(jsons, js)
	}
	if !bytes.Equal(jsons[0], jsons[1]) {
		t.Fatal("two runs with the same seed wrote different report.json")
	}
	var r struct {
		Devices  int `json:"devices"`
		Outcomes []struct {
			Name string `json:"name"`
			N    int    `json:"n"`
		} `json:"outcomes"`
	}
	if err := json.Unmarshal(jsons[0], &r); err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, o := range r.Outcomes {
		sum += o.N
	}
	if r.Devices != 40 || sum != 40 {
		t.Fatalf("devices %d, outcomes add up to %d", r.Devices, sum)
	}
}

// A broken expectation: exit status 3, and the message names it.
func TestRun_BrokenExpectation(t *testing.T) {
	file := writeScenario(t, strings.Replace(virtualScenario, "updated >= 0.5", "bricked == 40", 1))
	_, errOut, code := runBrickyard(t, nil, "run", file, "--quiet")
	if code != ExitExpectations || !strings.Contains(errOut, "expectation failed: bricked == 40") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}

// A bad scenario file: an error naming the file, line and key, before
// anything runs.
func TestRun_BadScenario(t *testing.T) {
	file := writeScenario(t, strings.Replace(virtualScenario, "count: 20\n    - profile: single-nor", "count: 20\n      colour: red\n    - profile: single-nor", 1))
	_, errOut, code := runBrickyard(t, nil, "run", file, "--quiet")
	if code != 1 || !strings.Contains(errOut, file+":8") || !strings.Contains(errOut, "colour") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	_, errOut, code = runBrickyard(t, nil, "run", "no-such-scenario")
	if code != 1 || !strings.Contains(errOut, "default") {
		t.Fatalf("unknown built-in: code %d, stderr %q", code, errOut)
	}
	good := writeScenario(t, virtualScenario)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--devices", "-3"}, "--devices"},
		{[]string{"--devices", "0"}, "--devices: 0 devices"}, // once ran the scenario's 1,000 silently
		{[]string{"--seed", "0"}, "--seed: 0"},
		{[]string{"--metrics-addr", "0.0.0.0:0"}, "add --metrics-expose"},
		{[]string{"--metrics-addr", ":0"}, "every interface is not loopback"},
		{[]string{"--dashboard", "0.0.0.0:0"}, "add --dashboard-expose"},
		{[]string{"--dashboard", "127.0.0.1"}, "--dashboard: address 127.0.0.1: missing port"},
		{[]string{"--linger", "1m"}, "--linger: nothing to keep serving"},
		{[]string{"--linger", "-1s", "--dashboard", "127.0.0.1:0"}, "--linger: -1s: want 0 to 24h0m0s"},
		{[]string{"--linger", "25h", "--metrics-addr", "127.0.0.1:0"}, "--linger: 25h0m0s"},
	} {
		_, errOut, code = runBrickyard(t, nil, append([]string{"run", good, "--quiet"}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: code %d, stderr %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
	_, errOut, code = runBrickyard(t, nil, "fleet", "--ws-url", "ws://127.0.0.1:1/usp", "--controller-id", "proto::c", "--metrics-addr", "0.0.0.0:0")
	if code != 1 || !strings.Contains(errOut, "add --metrics-expose") {
		t.Errorf("fleet --metrics-addr 0.0.0.0:0: code %d, stderr %q", code, errOut)
	}
	_, errOut, code = runBrickyard(t, nil, "fleet", "--ws-url", "ws://127.0.0.1:1/usp", "--controller-id", "proto::c", "--dashboard", "[::]:0")
	if code != 1 || !strings.Contains(errOut, "add --dashboard-expose") {
		t.Errorf("fleet --dashboard [::]:0: code %d, stderr %q", code, errOut)
	}
	_, errOut, code = runBrickyard(t, nil, "fleet", "--ws-url", "ws://127.0.0.1:1/usp", "--controller-id", "proto::c", "--linger", "1h")
	if code != 1 || !strings.Contains(errOut, "--linger: nothing to keep serving") {
		t.Errorf("fleet --linger alone: code %d, stderr %q", code, errOut)
	}
}

func TestScenarios_List(t *testing.T) {
	out, errOut, code := runBrickyard(t, nil, "scenarios")
	if code != 0 || !strings.Contains(out, "default") {
		t.Fatalf("code %d: %s %s", code, out, errOut)
	}
	out, _, code = runBrickyard(t, nil, "scenarios", "--show", "default")
	if code != 0 || !strings.Contains(out, "name: default") {
		t.Fatalf("--show: code %d: %s", code, out)
	}
}

// The default scenario end to end, in real time over WebSocket, at a tenth
// of its size: the canary and main waves update (but for the install cuts),
// the bad image rolls back in its canary wave, the abort rule stops the last
// wave, nothing is bricked, and the scenario's own expectations hold.
func TestRun_DefaultScenarioSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time run of about a minute")
	}
	dir := t.TempDir()
	out, errOut, code := runBrickyard(t, nil, "run", "--devices", "100", "--quiet", "--out", dir)
	if code != 0 {
		t.Fatalf("code %d: %s\n%s", code, errOut, out)
	}
	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	type counts []struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	var r struct {
		Devices int    `json:"devices"`
		Aborted string `json:"aborted"`
		Waves   []struct {
			Devices  int    `json:"devices"`
			Outcomes counts `json:"outcomes"`
		} `json:"by_wave"`
	}
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatal(err)
	}
	if r.Devices != 100 || r.Aborted == "" || len(r.Waves) != 4 {
		t.Fatalf("devices %d, aborted %q, %d waves", r.Devices, r.Aborted, len(r.Waves))
	}
	// Waves: canary and main install 2.0.0, 3 % of main losing power
	// during the install; the 2.1.0 canary rolls back; the last wave never
	// starts.
	cuts := int(0.03*float64(r.Waves[1].Devices) + 0.5)
	want := []map[string]int{
		{"updated": r.Waves[0].Devices},
		{"updated": r.Waves[1].Devices - cuts, "install_failed": cuts},
		{"rolled_back": r.Waves[2].Devices},
		{"aborted": r.Waves[3].Devices},
	}
	for i, w := range r.Waves {
		for _, o := range w.Outcomes {
			if o.N != want[i][o.Name] {
				t.Errorf("wave %d: %s = %d, want %d (%v)", i+1, o.Name, o.N, want[i][o.Name], w.Outcomes)
			}
		}
	}
}

// Misbehaving devices on the virtual clock: the embedded controller copes
// with what they send (nothing panics or hangs, every device has an
// outcome), the same seed replays byte for byte, and a connection
// misbehaviour, which needs a real session, is refused with a clear error.
func TestRun_VirtualMisbehaviour(t *testing.T) {
	misbehaving := strings.Replace(virtualScenario, "faults:\n", `faults:
  - {kind: answer-delay, share: 0.2, dist: lognormal, delay: 200ms, sigma: 1, tail: 0.1, tail_delay: 20s}
  - {kind: answer-drop, share: 0.1, chance: 0.3}
  - {kind: answer-duplicate, share: 0.1}
  - {kind: msgid-wrong, share: 0.1, chance: 0.5}
  - {kind: msgid-reuse, share: 0.1}
  - {kind: notify-repeat, share: 0.1, count: 3}
  - {kind: late-complete, share: 0.2}
  - {kind: record-malformed, share: 0.05, chance: 0.2}
  - {kind: record-truncated, share: 0.05, chance: 0.2}
  - {kind: record-wrong-to, share: 0.05, chance: 0.2}
  - {kind: record-oversized, share: 0.05, chance: 0.1, size: 300000}
`, 1)
	misbehaving = strings.Replace(misbehaving, "expect:\n  - updated >= 0.5\n", "", 1)
	file := writeScenario(t, misbehaving)
	jsons := runTwice(t, file, "report.json", "--out", "{dir}")
	var r struct {
		Fleet []struct {
			Outcome string `json:"outcome"`
			Faults  string `json:"faults"`
		} `json:"fleet"`
	}
	if err := json.Unmarshal(jsons[0], &r); err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, d := range r.Fleet {
		if d.Outcome == "" {
			t.Errorf("a device without an outcome: %+v", d)
		}
		if strings.Contains(d.Faults, "answer-") || strings.Contains(d.Faults, "record-") || strings.Contains(d.Faults, "msgid-") {
			named++
		}
	}
	if len(r.Fleet) != 40 || named == 0 {
		t.Fatalf("%d devices, %d named as misbehaving", len(r.Fleet), named)
	}

	churn := writeScenario(t, strings.Replace(virtualScenario, "faults:\n", "faults:\n  - {kind: conn-churn, share: 0.1, every: 10s}\n", 1))
	_, errOut, code := runBrickyard(t, nil, "run", churn, "--quiet")
	if code != 1 || !strings.Contains(errOut, "conn-churn acts on a real session") {
		t.Fatalf("conn-churn in virtual time: code %d, %s", code, errOut)
	}
}

// --event-log-format json: an object a line, every line JSON with the
// documented fields, in time order, the same bytes for the same seed; a
// format that is neither is refused.
func TestRun_EventLogJSON(t *testing.T) {
	file := writeScenario(t, virtualScenario)
	logs := runTwice(t, file, "events.jsonl", "--event-log", "{dir}/events.jsonl", "--event-log-format", "json")
	kinds := map[string]int{}
	last := ""
	for i, line := range strings.Split(strings.TrimSuffix(string(logs[0]), "\n"), "\n") {
		var e struct {
			At     string            `json:"at"`
			Device string            `json:"device"`
			Kind   string            `json:"kind"`
			Detail *string           `json:"detail"`
			Fields map[string]string `json:"fields"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Device == "" || e.Kind == "" || e.Detail == nil || e.Fields == nil {
			t.Fatalf("line %d: %q: %v", i+1, line, err)
		}
		if e.At < last {
			t.Fatalf("line %d: %s before %s", i+1, e.At, last)
		}
		last = e.At
		kinds[e.Kind]++
		if e.Kind == "power-cut" && e.Fields["phase"] == "" {
			t.Errorf("line %d: a power cut without its phase field: %s", i+1, line)
		}
	}
	if kinds["boot"] < 40 || kinds["power-cut"] == 0 {
		t.Errorf("kinds %v", kinds)
	}
	if _, errOut, code := runBrickyard(t, nil, "run", file, "--quiet", "--event-log-format", "xml"); code != 1 || !strings.Contains(errOut, "--event-log-format") {
		t.Errorf("xml: code %d, %s", code, errOut)
	}
}
