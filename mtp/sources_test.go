package mtp

import "testing"

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
