package device

import (
	"errors"
	"testing"
	"time"
)

// TestStateRoundTrip: a device's state saved from a running device and
// loaded into a new one boots as after a power cut at that moment.
func TestStateRoundTrip(t *testing.T) {
	h := newHarness(t, "uboot-nor", nil).boot()
	h.set("Device.LocalAgent.Controller.1.", true, "PeriodicNotifInterval", "777")
	h.subscribe("boot", "Event", "Device.Boot!", true, true)
	st := h.d.AppendState(nil, h.now)

	h2 := newHarness(t, "uboot-nor", nil)
	h2.d.board = h.d.board.Clone()
	if err := h2.d.LoadState(st); err != nil {
		t.Fatal(err)
	}
	h2.boot()
	if v := h2.value("Device.LocalAgent.Controller.1.PeriodicNotifInterval"); v != "777" {
		t.Errorf("PeriodicNotifInterval %s", v)
	}
	b := h2.waitEvent("Boot!", 0, 1, time.Minute)
	if len(b) != 1 || b[0].GetParams()["Cause"] != "LocalReboot" {
		t.Errorf("Boot! %v", b)
	}
	if err := h2.d.LoadState(st); !errors.Is(err, ErrState) {
		t.Errorf("LoadState on a running device: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("BYDV"), []byte("BYDV\x01\x02\x01\x05ab"), append([]byte("BYDV\x01\x01\x05\x01"), 0xff), []byte("BYDV\x01\x01\x02\x01\xff")} {
		d := newHarness(t, "uboot-nor", nil).d
		if err := d.LoadState(bad); !errors.Is(err, ErrState) {
			t.Errorf("LoadState(%q): %v", bad, err)
		}
	}
}

func FuzzLoadState(f *testing.F) {
	h := newHarness(f, "uboot-nor", nil).boot()
	h.subscribe("boot", "Event", "Device.Boot!", true, true)
	f.Add(h.d.AppendState(nil, h.now))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := New(Config{EndpointID: agentID, ControllerID: ctrlID}, factory(t, "uboot-nor").Clone(), schema(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.LoadState(data); err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatal(err)
			}
			return
		}
		d.PowerOn(t0)
		d.Connected(t0.Add(time.Second))
	})
}
