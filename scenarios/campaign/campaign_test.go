package campaign

import (
	"strings"
	"testing"
	"time"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func config() Config {
	return Config{
		Start:   t0.Add(10 * time.Second),
		Devices: []Device{{ID: "os::A-1", Board: "b", Wave: 1}, {ID: "os::A-2", Board: "b", Wave: 1}},
		Waves:   []Wave{{Name: "w", Images: map[string]Image{"b": {URL: "http://x/b.img", Version: "2.0.0", Size: 10}}}},
	}
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"procedure", func(c *Config) { c.Procedure = "pray" }, "unknown procedure"},
		{"no start", func(c *Config) { c.Start = time.Time{} }, "no start"},
		{"duplicate", func(c *Config) { c.Devices[1].ID = c.Devices[0].ID }, "listed twice"},
		{"wave range", func(c *Config) { c.Devices[0].Wave = 2 }, "wave 2 of 1"},
		{"no image", func(c *Config) { c.Devices[0].Board = "other" }, `no image for board "other"`},
	} {
		c := config()
		tc.edit(&c)
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestRowOf(t *testing.T) {
	for in, want := range map[string]int{"Device.DeviceInfo.FirmwareImage.2": 2, "Device.DeviceInfo.FirmwareImage.1.": 1,
		"Device.DeviceInfo.FirmwareImage.x": 0, "Device.LocalAgent.": 0, "Device.DeviceInfo.FirmwareImage.0": 0} {
		if got := rowOf(in); got != want {
			t.Errorf("rowOf(%q) = %d, want %d", in, got, want)
		}
	}
}

func msgOf(t *testing.T, rec []byte) *pb.Msg {
	t.Helper()
	in, err := (usp.Codec{LocalID: "os::A-1"}).Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	return in.Msg
}

// An unanswered request goes again under a new msg_id after the timeout,
// Retries times, then the campaign gives up on it; an agent that is away
// gets it when it reconnects.
func TestRetries(t *testing.T) {
	c := config()
	c.RequestTimeout, c.Retries = 5*time.Second, 2
	camp, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	out := camp.Connected("os::A-1", t0)
	if len(out) != 2 {
		t.Fatalf("first contact sent %d records, want the setup Add and the Get", len(out))
	}
	ids := map[string]bool{}
	for _, s := range out {
		ids[msgOf(t, s.Data).GetHeader().GetMsgId()] = true
	}
	now := t0
	for round := 1; round <= 3; round++ {
		now = now.Add(6 * time.Second)
		out, _ = camp.Tick(now)
		var resent []string
		for _, s := range out {
			m := msgOf(t, s.Data)
			if usp.TypeOf(m) == pb.Header_ADD || usp.TypeOf(m) == pb.Header_GET {
				resent = append(resent, m.GetHeader().GetMsgId())
			}
		}
		want := 2
		if round == 3 {
			want = 0 // two retries, then it gives up
		}
		if len(resent) != want {
			t.Fatalf("round %d: %d requests sent again, want %d", round, len(resent), want)
		}
		for _, id := range resent {
			if ids[id] {
				t.Fatalf("round %d: msg_id %s reused", round, id)
			}
			ids[id] = true
		}
	}
	// Away at the timeout: sent again on the next session.
	out = camp.Connected("os::A-2", now)
	camp.Disconnected("os::A-2", now)
	now = now.Add(6 * time.Second)
	for _, s := range must(camp.Tick(now)) {
		if s.To == "os::A-2" {
			t.Fatal("a request went to an agent that is not connected")
		}
	}
	now = now.Add(6 * time.Second)
	out = camp.Connected("os::A-2", now)
	if len(out) != 2 {
		t.Fatalf("reconnect: %d requests sent again, want 2", len(out))
	}
}

func must[T any](v T, _ time.Time) T { return v }

// A wave whose devices never answer closes at its deadline with every
// device unreachable; Done follows.
func TestDeadline(t *testing.T) {
	c := config()
	c.Waves[0].Deadline = time.Minute
	camp, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	camp.Tick(t0.Add(10 * time.Second)) // wave 1 opens
	if camp.Done() {
		t.Fatal("done before the deadline")
	}
	camp.Tick(t0.Add(71 * time.Second))
	if !camp.Done() || camp.Seen("os::A-1") != Unreachable || camp.Seen("os::A-2") != Unreachable {
		t.Fatalf("done %v, seen %q %q", camp.Done(), camp.Seen("os::A-1"), camp.Seen("os::A-2"))
	}
	if w := camp.Waves()[0]; !w.Closed || w.Done != 2 || w.Fail != 2 {
		t.Fatalf("wave %+v", w)
	}
}
