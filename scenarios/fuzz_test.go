package scenarios

import (
	"errors"
	"math"
	"testing"
)

// Scenario files are user input: any bytes give a scenario or an error,
// never a panic or a hang. What parses is also built (images signed,
// boards provisioned, devices split over the waves): the values that
// validation lets through are the ones the build spends time and memory
// on, so the fuzzer must reach it (a NaN share once passed validation and
// hung the build's split).
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(smallVirtual))
	for _, n := range Builtins() {
		src, _ := BuiltinSource(n)
		f.Add(src)
	}
	f.Add([]byte("name: [\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte(minimal + "  waves:\n    - share: .nan\n"))
	f.Add([]byte(minimal + "faults:\n  - kind: health-fail\n    share: !!float NaN\n"))
	f.Add([]byte(minimal + "  abort:\n    failure_rate: .inf\n"))
	f.Add([]byte(minimal + "expect: [updated >= NaN]\n"))
	profs := profiles(f)
	noFiles := func(string, int64) ([]byte, error) { return nil, errors.New("no files while fuzzing") }
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		if sc.Name == "" {
			t.Fatal("a scenario without a name was accepted")
		}
		for _, w := range sc.Campaign.Waves {
			if !(w.share >= 0 && w.share <= 1) {
				t.Fatalf("wave share %v accepted", w.share)
			}
		}
		if sc.Devices() > 20_000 {
			return // a valid size, but too slow to build at fuzzing speed
		}
		b, err := sc.build(profs, noFiles, "http://fw.invalid")
		if err != nil {
			return
		}
		if want := sc.Devices() + len(sc.Bench); len(b.devices) != want { // a bench board is a device too
			t.Fatalf("built %d devices of %d", len(b.devices), want)
		}
	})
}

// Endpoint-ID and serial patterns (fleet.ids, --ids, --serials): a
// pattern that parses makes IDs that the pattern's printf form makes too,
// that differ for different numbers, and that are no longer than TR-369's
// endpoint IDs may be.
func FuzzIDScheme(f *testing.F) {
	for _, s := range []string{"os::00256D-SIM{n:06}", "SIM{n:06}", "dev-{n}", "{n:03}-x", "x{n:012}", "two-{n}-{n}", "%d{n}%s", "{n:0}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pat string) {
		p, err := ParseIDScheme(pat)
		if err != nil {
			return
		}
		a, b := p.ID(1), p.ID(1_000_000)
		if a == b || a == "" {
			t.Fatalf("%q: ID(1) %q, ID(1000000) %q", pat, a, b)
		}
		if got := fmtID(p.printf(), 42); got != p.ID(42) {
			t.Fatalf("%q: printf form gives %q, ID gives %q", pat, got, p.ID(42))
		}
	})
}

// Expectations (expect:): an expression that parses has a finite value
// and a check that gives an answer for any report.
func FuzzExpectation(f *testing.F) {
	for _, s := range []string{"bricked == 0", "updated >= 0.99", "rolled_back <= 6%", "latency.p99 < 0.5", "updated >= NaN",
		"bricked<=1e308", "updated >= -0", "x == 1", "updated>=150%", "latency.max != Inf"} {
		f.Add(s)
	}
	r := fakeReport(map[string]int{"updated": 97, "bricked": 1, "rolled_back": 2}, 0.25)
	empty := fakeReport(map[string]int{}, 0)
	f.Fuzz(func(t *testing.T, s string) {
		x, err := parseExpectation(s)
		if err != nil {
			return
		}
		if math.IsNaN(x.value) || math.IsInf(x.value, 0) {
			t.Fatalf("%q: value %v accepted", s, x.value)
		}
		_ = x.check(r)
		_ = x.check(empty)
	})
}
