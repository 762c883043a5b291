package scenarios

import (
	"errors"
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
		if len(b.devices) != sc.Devices() {
			t.Fatalf("built %d devices of %d", len(b.devices), sc.Devices())
		}
	})
}
