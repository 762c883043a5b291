package mtp

import "testing"

// --sources is user input: any text gives Sources or an error, never a
// panic, a hang or an unbounded list.
func FuzzParseSources(f *testing.F) {
	for _, s := range []string{"", "127.0.0.1", "127.0.1.1-127.0.1.8", "127.0.0.2-127.0.0.9,127.1.0.1", "::1-::ff",
		"127.0.0.9-127.0.0.1", "10.0.0.0-10.1.0.0", "fe80::1%lo", "1.2.3.4-::1", ",", "-", "127.0.0.1-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSources(spec)
		if err != nil || s == nil {
			return
		}
		n := s.Len()
		if n < 1 || n > 1<<16+len(spec) {
			t.Fatalf("%q: %d addresses", spec, n)
		}
		for range min(n, 4) {
			if a := s.Next(); !a.IsValid() {
				t.Fatalf("%q: an invalid address", spec)
			}
		}
	})
}
