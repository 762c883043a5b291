package agents

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"brickyard/mtp"
)

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
	sp := &Spec{idPattern: "os::00256D-SIM{n:06}", boards: []boardCount{{profile: "a", count: 5, version: "1.0.0"}, {profile: "b", count: 3, version: "1.0.0"}, {profile: "c", count: 4, version: "1.0.0"}}}
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

type countDialer struct{ n *int }

func (d countDialer) Dial(context.Context, string) (mtp.Conn, error) { *d.n++; return nil, nil }

// Agents spread over brokers: each always dials the same one, and the
// brokers get about as many each.
func TestSpreadDialer(t *testing.T) {
	counts := make([]int, 7)
	i := 0
	s, err := newSpreadDialer([]string{"a", "b", "c", "d", "e", "f", "g"}, func(string) (mtp.Dialer, error) {
		d := countDialer{&counts[i]}
		i++
		return d, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 100_000; n++ {
		id := fmt.Sprintf("os::00256D-SIM%06d", n)
		if s.pick(id) != s.pick(id) {
			t.Fatal("not stable")
		}
		_, _ = s.Dial(context.Background(), id)
	}
	for k, c := range counts {
		if c < 13_600 || c > 15_000 {
			t.Errorf("broker %d: %d of 100,000 agents", k, c)
		}
	}
}

func TestResolve_SeveralBrokers(t *testing.T) {
	given := func(names ...string) func(string) bool {
		return func(f string) bool { return slices.Contains(names, f) }
	}
	c := defaults()
	c.MQTT, c.ControllerID = "127.0.0.1:1883, tcp://127.0.0.1:1884,127.0.0.2", "proto::c"
	sp, err := Resolve(c, given("mqtt"), builtins)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"tcp://127.0.0.1:1883", "tcp://127.0.0.1:1884", "tcp://127.0.0.2"}; !slices.Equal(sp.brokers, want) {
		t.Fatalf("brokers %q", sp.brokers)
	}
	for _, bad := range []string{"127.0.0.1:1883,tls://127.0.0.1:8883", "127.0.0.1:1883,", "a:1,ws://b:2"} {
		c.MQTT = bad
		if _, err := Resolve(c, given("mqtt"), builtins); err == nil || !strings.Contains(err.Error(), "--mqtt") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
