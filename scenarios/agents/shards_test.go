package agents

import "testing"

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		in   string
		k, n int
	}{{"1/1", 1, 1}, {"2/4", 2, 4}, {" 3 / 4 ", 3, 4}, {"0+1/8", 1, 8}, {"7+1/8", 8, 8}} {
		k, n, err := parseShard(c.in)
		if err != nil || k != c.k || n != c.n {
			t.Errorf("%q: %d/%d, %v", c.in, k, n, err)
		}
	}
	for _, in := range []string{"", "1", "0/4", "5/4", "-1/4", "8+1/8", "1+2/8", "-1+1/8", "x+1/8", "1+/8", "$(JOB_COMPLETION_INDEX)+1/8", "1/0", "1/x"} {
		if k, n, err := parseShard(in); err == nil {
			t.Errorf("%q: accepted as %d/%d", in, k, n)
		}
	}
}

// The devices of every shard, ShardDevices' rows, are the fleet's once,
// in order, with their boards.
func TestSpec_ShardDevices(t *testing.T) {
	sp := &Spec{idPattern: "os::00256D-SIM{n:06}", boards: []boardCount{{"a", 5, "1.0.0"}, {"b", 3, "1.0.0"}, {"c", 4, "1.0.0"}}}
	want := 1
	for k := 1; k <= 5; k++ {
		for _, d := range sp.ShardDevices(k, 5) {
			board := map[bool]string{true: "a", false: map[bool]string{true: "b", false: "c"}[want <= 8]}[want <= 5]
			if d.ID != idFormatted(want) || d.Board != board {
				t.Fatalf("shard %d: %+v, want device %d of board %s", k, d, want, board)
			}
			want++
		}
	}
	if want != 13 {
		t.Fatalf("%d devices", want-1)
	}
}

func idFormatted(n int) string {
	s := "000000" + itoa(n)
	return "os::00256D-SIM" + s[len(s)-6:]
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
