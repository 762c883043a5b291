package device

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestActivateWindows: TR-181 Activate() time windows, in virtual time.
// Each case Activates an Available row with its windows and says when
// the activation happens (seconds after the Operate, the window's own
// rules), or that the command fails (7022) with no reboot, and how many
// prompts the simulated user saw.
func TestActivateWindows(t *testing.T) {
	type tw struct {
		start, end int
		mode       string
		retries    string // MaxRetries, "" none
		msg        string
	}
	// busyAt finds an offset (≥ from) at which the device is busy with at
	// least `for` seconds of business left, and the idle time after it.
	busyAt := func(h *harness, from, span int) (at, idle int) {
		u := h.d.usage()
		up0 := h.d.up(h.now)
		for s := from; s < 7200; s += 5 {
			x := up0 + float64(s)
			if u.busy(x) && u.idleAt(x)-x > float64(span) {
				return s, int(u.idleAt(x) - up0)
			}
		}
		t.Fatal("no busy stretch in two hours")
		return 0, 0
	}
	cases := []struct {
		name    string
		user    *User
		windows func(h *harness) []tw
		at      func(h *harness) int // -1: fails with 7022
		prompts int
	}{
		{"Immediately, at the window's start", nil,
			func(*harness) []tw { return []tw{{10, 100, "Immediately", "", ""}} }, func(*harness) int { return 10 }, 0},
		{"AnyTime, at the window's start", nil,
			func(*harness) []tw { return []tw{{0, 120, "AnyTime", "", ""}} }, func(*harness) int { return 0 }, 0},
		{"WhenIdle waits for the device's users to be idle", nil,
			func(h *harness) []tw { s, _ := busyAt(h, 0, 60); return []tw{{s, s + 3600, "WhenIdle", "", ""}} },
			func(h *harness) int { _, i := busyAt(h, 0, 60); return i }, 0},
		{"WhenIdle busy to its End: the next window", nil,
			func(h *harness) []tw {
				s, _ := busyAt(h, 0, 600)
				return []tw{{s, s + 300, "WhenIdle", "", ""}, {s + 400, s + 500, "Immediately", "", ""}}
			},
			func(h *harness) int { s, _ := busyAt(h, 0, 600); return s + 400 }, 0},
		{"ConfirmationNeeded, confirmed", &User{Answer: UserConfirm, After: 10 * time.Second},
			func(*harness) []tw { return []tw{{5, 600, "ConfirmationNeeded", "", "Update now?"}} }, func(*harness) int { return 15 }, 1},
		{"ConfirmationNeeded, declined twice, MaxRetries 2", &User{Answer: UserConfirm, After: 10 * time.Second, Declines: 2},
			func(*harness) []tw { return []tw{{0, 600, "ConfirmationNeeded", "2", "Update now?"}} },
			func(*harness) int { return 10 + 60 + 10 + 60 + 10 }, 3},
		{"ConfirmationNeeded, declined past MaxRetries 1: the next window", &User{Answer: UserConfirm, After: 10 * time.Second, Declines: 2},
			func(*harness) []tw {
				return []tw{{0, 600, "ConfirmationNeeded", "1", "Update now?"}, {1000, 1100, "AnyTime", "", ""}}
			}, func(*harness) int { return 1000 }, 2},
		{"ConfirmationNeeded, never answered: fails at its End", &User{Answer: UserSilent},
			func(*harness) []tw { return []tw{{0, 200, "ConfirmationNeeded", "-1", "Update now?"}} }, func(*harness) int { return -1 }, 2},
		{"ConfirmationNeeded, MaxRetries 0 declined once", &User{Answer: UserDecline, After: 5 * time.Second},
			func(*harness) []tw { return []tw{{0, 600, "ConfirmationNeeded", "0", ""}} }, func(*harness) int { return -1 }, 1},
		{"several windows, in order", &User{Answer: UserSilent},
			func(h *harness) []tw {
				s, _ := busyAt(h, 200, 600)
				return []tw{{0, 30, "ConfirmationNeeded", "0", "Now?"}, {s, s + 100, "WhenIdle", "", ""}, {s + 700, s + 800, "AnyTime", "", ""}}
			}, func(h *harness) int { s, _ := busyAt(h, 200, 600); return s + 700 }, 1},
		{"five windows, the last one used", &User{Answer: UserDecline, After: time.Second},
			func(*harness) []tw {
				var ws []tw
				for i := range 4 {
					ws = append(ws, tw{i * 100, i*100 + 50, "ConfirmationNeeded", "0", ""})
				}
				return append(ws, tw{400, 450, "Immediately", "", ""})
			}, func(*harness) int { return 400 }, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "uboot-nor", func(cfg *Config) { cfg.User = c.user }).boot()
			h.standardSubs()
			h.serve(fwURL, fwImage("uboot-nor", "2.0.0", 0))
			mark := len(h.msgs)
			h.operate(newRow+".Download()", "k1", "URL", fwURL)
			h.runUntil(func() bool { return len(h.events_("TransferComplete!", mark)) == 1 }, time.Minute)
			h.run(17 * time.Second) // an uneven start: the usage phase matters
			var args []string
			for i, w := range c.windows(h) {
				p := fmt.Sprintf("TimeWindow.%d.", i+1)
				args = append(args, p+"Start", fmt.Sprint(w.start), p+"End", fmt.Sprint(w.end), p+"Mode", w.mode)
				if w.retries != "" {
					args = append(args, p+"MaxRetries", w.retries)
				}
				if w.msg != "" {
					args = append(args, p+"UserMessage", w.msg)
				}
			}
			want := c.at(h)
			mark = len(h.msgs)
			events := len(h.events)
			start := h.now
			if r := h.operate(newRow+".Activate()", "k9", args...); r.GetReqObjPath() == "" {
				t.Fatalf("Activate(): %v", r)
			}
			h.run(3 * time.Hour)
			var act time.Time
			prompts := 0
			for _, e := range h.events[events:] {
				switch {
				case e.Kind == EvActivate:
					act = e.At
				case e.Kind == EvUserPrompt && strings.Contains(e.Detail, "message="):
					prompts++
				}
			}
			oc := h.operComplete("Activate()", mark)
			if len(oc) != 1 {
				t.Fatalf("%d OperationCompletes", len(oc))
			}
			if want < 0 {
				if oc[0].GetCmdFailure().GetErrCode() != 7022 || !act.IsZero() || len(h.events_("Boot!", mark)) != 0 {
					t.Errorf("want a 7022 failure and no activation: %v, activated at %v", oc[0], act)
				}
			} else {
				if oc[0].GetReqOutputArgs() == nil || act.IsZero() {
					t.Fatalf("want an activation at +%ds: %v", want, oc[0])
				}
				if got := act.Sub(start); got < time.Duration(want)*time.Second-time.Second || got > time.Duration(want)*time.Second+time.Second {
					t.Errorf("activated at +%v, want +%ds", got, want)
				}
				if h.value("Device.DeviceInfo.SoftwareVersion") != "2.0.0" {
					t.Error("not updated")
				}
			}
			if prompts != c.prompts {
				t.Errorf("%d prompts, want %d: %v", prompts, c.prompts, h.events[events:])
			}
		})
	}
}
