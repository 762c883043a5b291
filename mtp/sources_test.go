package mtp

import (
	"strconv"
	"testing"
)

func TestParseSources(t *testing.T) {
	s, err := ParseSources("127.0.0.2-127.0.0.4, 127.1.0.1")
	if err != nil || s.Len() != 4 {
		t.Fatalf("%v %d", err, s.Len())
	}
	var got []string
	for range 5 {
		got = append(got, s.Next().String())
	}
	want := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.1.0.1", "127.0.0.2"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("round robin %v", got)
		}
	}
	if s, err := ParseSources(""); s != nil || err != nil || s.Next().IsValid() || s.Dialer().LocalAddr != nil {
		t.Fatal("empty spec")
	}
	for _, bad := range []string{"x", "127.0.0.5-127.0.0.1", "127.0.0.1-::1", "10.0.0.0-10.2.0.0", "127.0.0.1-"} {
		if _, err := ParseSources(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSources_String(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"127.0.0.2", "127.0.0.2"},
		{"127.0.0.2-127.0.0.4, 127.1.0.1", "127.0.0.2-127.0.0.4,127.1.0.1"},
		{"127.0.0.255,127.0.1.0,127.0.1.1", "127.0.0.255-127.0.1.1"},
		{"127.0.0.3,127.0.0.2", "127.0.0.3,127.0.0.2"},
		{"::1-::3", "::1-::3"},
	} {
		s, err := ParseSources(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.String(); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
		back, err := ParseSources(s.String())
		if err != nil || back.Len() != s.Len() {
			t.Errorf("%q: %q reads back as %d addresses, %v", c.in, s.String(), back.Len(), err)
		}
	}
}

// The parts of the addresses are disjoint and together all of them, in
// order; with fewer addresses than parts every part has them all.
func TestSources_Part(t *testing.T) {
	s, err := ParseSources("127.0.40.1-127.0.40.32")
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 32; n++ {
		var all []string
		for k := 1; k <= n; k++ {
			p := s.Part(k, n)
			if l := p.Len(); l < 32/n || l > (32+n-1)/n {
				t.Fatalf("part %d/%d: %d addresses", k, n, l)
			}
			for range p.Len() {
				all = append(all, p.Next().String())
			}
		}
		if len(all) != 32 {
			t.Fatalf("%d parts: %d addresses", n, len(all))
		}
		for i, a := range all {
			if want := "127.0.40." + strconv.Itoa(i+1); a != want {
				t.Fatalf("%d parts: address %d is %s, want %s", n, i, a, want)
			}
		}
	}
	if got := s.Part(2, 33).String(); got != "127.0.40.1-127.0.40.32" {
		t.Errorf("33 parts of 32: %q", got)
	}
	var none *Sources
	if none.Part(1, 4) != nil || s.Part(0, 4) != s || s.Part(5, 4) != s {
		t.Error("nil or a part out of range")
	}
}
