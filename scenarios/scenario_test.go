package scenarios

import (
	"slices"
	"strings"
	"testing"
)

const minimal = `name: t
fleet:
  boards:
    - profile: uboot-nor
      count: 10
images:
  - version: 2.0.0
campaign:
  image: 2.0.0
`

// Every problem names the file, the line and the key.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"unknown top key", minimal + "colour: red\n", []string{"x.yaml:10", "colour"}},
		{"unknown nested key", strings.Replace(minimal, "count: 10", "count: 10\n      colr: 1", 1), []string{"x.yaml:6", "colr"}},
		{"bad clock", minimal + "clock: wall\n", []string{"x.yaml:10: clock:", "virtual or real"}},
		{"missing image", strings.Replace(minimal, "image: 2.0.0", "image: 3.0.0", 1), []string{"x.yaml:9: campaign.image", `no image "3.0.0"`}},
		{"wave image", minimal + "  waves:\n    - share: 50%\n    - share: rest\n      image: 9.9.9\n", []string{"x.yaml:13: campaign.waves.1.image"}},
		{"shares over 1", minimal + "  waves:\n    - share: 0.7\n    - share: 0.6\n", []string{"campaign.waves", "more than 1"}},
		{"shares under 1", minimal + "  waves:\n    - share: 0.5\n", []string{"give the last wave share: rest"}},
		{"two rests", minimal + "  waves:\n    - share: rest\n    - share: rest\n", []string{"x.yaml:12: campaign.waves.1.share", "only one wave"}},
		{"bad share", minimal + "  waves:\n    - share: lots\n", []string{"x.yaml:11: campaign.waves.0.share"}},
		{"zero count", strings.Replace(minimal, "count: 10", "count: 0", 1), []string{"x.yaml:5: fleet.boards.0.count"}},
		{"bad version", strings.Replace(minimal, "version: 2.0.0", "version: two", 1), []string{"x.yaml:7: images.0.version"}},
		{"bad fault", minimal + "faults:\n  - kind: lightning\n    share: 0.1\n", []string{"x.yaml:11: faults.0"}},
		{"fault board", minimal + "faults:\n  - kind: health-fail\n    share: 0.1\n    board: nope\n", []string{"x.yaml:13: faults.0.board"}},
		{"bad expectation", minimal + "expect:\n  - bricked is none\n", []string{"x.yaml:11: expect.0"}},
		{"unknown outcome", minimal + "expect:\n  - exploded == 0\n", []string{"unknown name \"exploded\""}},
		{"bad ids", minimal + strings.Replace("fleet2", "fleet2", "", 1), nil},
		{"abort rate", minimal + "  abort:\n    failure_rate: 1.5\n", []string{"x.yaml:11: campaign.abort.failure_rate"}},
		{"wrong type", strings.Replace(minimal, "count: 10", "count: many", 1), []string{"x.yaml:5: fleet.boards.0.count:", "many"}},
		{"wrong type, key named", minimal + "device:\n  reboot: ten\n", []string{"x.yaml:11: device.reboot:", "ten"}},
		{"unknown-controller policy", minimal + "device:\n  unknown_controllers: welcome\n", []string{"x.yaml:11: device.unknown_controllers", `want "refuse" or "untrusted"`}},
		// Numbers that are not numbers: each refused with its key, none
		// reaching the run (a NaN share hung it; a NaN fault share panicked).
		{"NaN share", minimal + "  waves:\n    - share: NaN\n", []string{"x.yaml:11: campaign.waves.0.share"}},
		{".nan share", minimal + "  waves:\n    - share: .nan\n", []string{"x.yaml:11: campaign.waves.0.share", "not a number"}},
		{"Inf percent", minimal + "  waves:\n    - share: Inf%\n", []string{"x.yaml:11: campaign.waves.0.share"}},
		{"NaN percent", minimal + "  waves:\n    - share: nan%\n", []string{"x.yaml:11: campaign.waves.0.share"}},
		{"NaN fault share", minimal + "faults:\n  - kind: health-fail\n    share: .nan\n", []string{"x.yaml:12: faults.0.share", "not a number"}},
		{"NaN fault share as text", minimal + "faults:\n  - kind: health-fail\n    share: !!float NaN\n", []string{"x.yaml:12: faults.0.share"}},
		{"Inf drop", minimal + "faults:\n  - kind: net-drop\n    share: 0.1\n    drop: .inf\n    duration: 1m\n", []string{"x.yaml:13: faults.0.drop"}},
		{"NaN abort", minimal + "  abort:\n    failure_rate: .nan\n", []string{"x.yaml:11: campaign.abort.failure_rate"}},
		{"NaN abort as text", minimal + "  abort:\n    failure_rate: !!float nan\n", []string{"campaign.abort.failure_rate"}},
		{"NaN expectation", minimal + "expect:\n  - updated >= NaN\n", []string{"x.yaml:11: expect.0", "not a number"}},
		{"Inf expectation", minimal + "expect:\n  - latency.p99 < +Inf\n", []string{"x.yaml:11: expect.0", "not a number"}},
		{"share over 100%", minimal + "expect:\n  - updated >= 150%\n", []string{"x.yaml:11: expect.0", "from 0 to 1"}},
		{"Inf connect rate", strings.Replace(minimal, "fleet:", "fleet:\n  connect_rate: .inf", 1), []string{"x.yaml:3: fleet.connect_rate"}},
		{"ramp of no devices", strings.Replace(minimal, "fleet:", "fleet:\n  ramp: {step: 0, every: 1m}", 1), []string{"fleet.ramp.step"}},
		{"ramp of no time", strings.Replace(minimal, "fleet:", "fleet:\n  ramp: {step: 5, every: 0s}", 1), []string{"fleet.ramp.every"}},
		{"ramp and rate", strings.Replace(minimal, "fleet:", "fleet:\n  connect_rate: 5\n  ramp: {step: 5, every: 1s}", 1), []string{"fleet.ramp", "not with connect_rate"}},
		{"NaN diurnal low", strings.Replace(minimal, "fleet:", "fleet:\n  diurnal: {low: .nan, low_at: 1h}", 1), []string{"fleet.diurnal", "low"}},
		{"diurnal low of 1", strings.Replace(minimal, "fleet:", "fleet:\n  diurnal: {low: 1, low_at: 1h}", 1), []string{"fleet.diurnal", "low"}},
		{"diurnal low past the period", strings.Replace(minimal, "fleet:", "fleet:\n  diurnal: {low: 0.5, low_at: 25h}", 1), []string{"fleet.diurnal", "low_at"}},
		{"negative periodic jitter", minimal + "device:\n  periodic_jitter: -1s\n", []string{"device.periodic_jitter"}},
		{"NaN server fault", minimal + "clock: real\nserver:\n  faults:\n    - share: 0.1\n      truncate: .nan\n", []string{"x.yaml:14: server.faults.0.truncate"}},
		{"retry wait of a nanosecond", minimal + "device:\n  retry_min_wait: 1ns\n", []string{"x.yaml:11: device.retry_min_wait", "whole seconds"}},
		{"retry wait of 1.5 s", minimal + "device:\n  retry_min_wait: 1500ms\n", []string{"x.yaml:11: device.retry_min_wait", "whole seconds"}},
		// Sizes refused before anything is allocated.
		{"5 GiB payload", strings.Replace(minimal, "version: 2.0.0", "version: 2.0.0\n    payload: 5GiB", 1), []string{"x.yaml:8: images.0.payload", "at most"}},
		{"bad procedure", minimal + "  procedure: pray\n", []string{"x.yaml:10: campaign.procedure"}},
		{"websocket broker", strings.Replace(minimal, "fleet:", "fleet:\n  broker: 127.0.0.1:1883", 1), []string{"fleet.broker"}},
		{"tls over mqtt", strings.Replace(minimal, "fleet:", "fleet:\n  mtp: mqtt\n  tls: true", 1), []string{"fleet.tls"}},
		{"device certs without tls", strings.Replace(minimal, "fleet:", "fleet:\n  device_certs: true", 1), []string{"fleet.device_certs"}},
		{"server on a virtual clock", minimal + "server:\n  tls: true\n", []string{"x.yaml:10: server:", "clock: real only"}},
		{"server fault does nothing", minimal + "clock: real\nserver:\n  faults:\n    - share: 0.1\n", []string{"x.yaml:13: server.faults.0", "does nothing"}},
		{"all problems", minimal + "clock: wall\nseed: 3\nexpect: [nonsense]\n", []string{"clock", "expect.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tc.src))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestBuiltinsParse(t *testing.T) {
	names := Builtins()
	if !slices.Contains(names, Default) {
		t.Fatalf("no default scenario among %v", names)
	}
	for _, n := range names {
		if _, err := Builtin(n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if _, err := Builtin("nope"); err == nil || !strings.Contains(err.Error(), Default) {
		t.Errorf("unknown built-in: %v", err)
	}
}

func TestIDScheme(t *testing.T) {
	for _, tc := range []struct {
		pat  string
		n    int
		want string
		err  bool
	}{
		{"os::00256D-SIM{n:06}", 42, "os::00256D-SIM000042", false},
		{"dev-{n}", 7, "dev-7", false},
		{"{n:03}-x", 1234, "1234-x", false},
		{"no placeholder", 1, "", true},
		{"two-{n}-{n}", 1, "", true},
		{"w-{n:6}", 1, "", true},
		{"w-{n:013}", 1, "", true},
		{"sp ace{n}", 1, "", true},
	} {
		p, err := ParseIDScheme(tc.pat)
		if (err != nil) != tc.err {
			t.Errorf("%q: error %v", tc.pat, err)
			continue
		}
		if err == nil {
			if got := p.ID(tc.n); got != tc.want {
				t.Errorf("%q.ID(%d) = %q, want %q", tc.pat, tc.n, got, tc.want)
			}
			if got := fmtID(p.printf(), tc.n); got != tc.want {
				t.Errorf("%q printf form gives %q, want %q", tc.pat, got, tc.want)
			}
		}
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		n      int
		shares []float64
		want   []int
	}{
		{100, []float64{0.05, 0.55, 0.1, 0.3}, []int{5, 55, 10, 30}},
		{7, []float64{0.5, 0.5}, []int{4, 3}},
		{3, []float64{0.1, 0.1, 0.8}, []int{0, 0, 3}},
		{1, []float64{0.05, 0.95}, []int{0, 1}},
		{10, []float64{1}, []int{10}},
	} {
		got := split(tc.n, tc.shares)
		if !slices.Equal(got, tc.want) {
			t.Errorf("split(%d, %v) = %v, want %v", tc.n, tc.shares, got, tc.want)
		}
	}
}

func TestExpectations(t *testing.T) {
	r := fakeReport(map[string]int{"updated": 97, "bricked": 1, "rolled_back": 2}, 0.25)
	for _, tc := range []struct {
		expr string
		ok   bool
	}{
		{"bricked == 0", false},
		{"bricked <= 1", true},
		{"updated >= 0.97", true},
		{"updated >= 0.98", false},
		{"updated >= 97%", true},
		{"updated > 96", true},
		{"rolled_back != 2", false},
		{"latency.p99 < 0.5", true},
		{"latency.p99 < 0.1", false},
	} {
		x, err := parseExpectation(tc.expr)
		if err != nil {
			t.Fatalf("%q: %v", tc.expr, err)
		}
		if got := x.check(r); got.OK != tc.ok {
			t.Errorf("%q: ok = %v (value %g), want %v", tc.expr, got.OK, got.Value, tc.ok)
		}
	}
}
