package device

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"brickyard/sim/faults"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// FactoryReset() forgets the controllers' configuration and
// subscriptions, keeps the firmware, reboots with Cause
// RemoteFactoryReset, and never reuses a Notify msg_id.
func TestFactoryReset(t *testing.T) {
	h := newHarness(t, "esp32-ota", nil).boot()
	h.standardSubs()
	h.subscribe("vc", "ValueChange", "Device.LocalAgent.Controller.1.PeriodicNotifInterval", false, false)
	h.set("Device.LocalAgent.Controller.1.", true, "PeriodicNotifInterval", "60")
	h.serve(fwURL, fwImage("esp32-ota", "2.0.0", 0))
	mark := len(h.msgs)
	h.operate(newRow+".Download()", "k1", "URL", fwURL, "AutoActivate", "true")
	h.waitEvent("Boot!", mark, 1, 5*time.Minute)
	h.run(time.Second)
	if r := h.operate("Device.FactoryReset()", "fr"); r.GetReqOutputArgs() == nil {
		t.Fatalf("FactoryReset() %v", r)
	}
	h.runUntil(func() bool { return h.hasEvent(EvReboot) && h.online }, 5*time.Minute)
	h.run(time.Second)
	v := h.get("Device.")
	if v["Device.LocalAgent.SubscriptionNumberOfEntries"] != "0" || v["Device.LocalAgent.Controller.1.PeriodicNotifInterval"] != "86400" ||
		v["Device.LocalAgent.Controller.1.EndpointID"] != ctrlID || v["Device.DeviceInfo.SoftwareVersion"] != "2.0.0" {
		t.Fatalf("after factory reset: %v", v)
	}
	if !strings.Contains(h.eventLog(), "boot-notify cause=RemoteFactoryReset") {
		t.Fatalf("Boot! cause:\n%s", h.eventLog())
	}
	// New subscriptions' notifications do not reuse msg_ids.
	h.subscribe("vc2", "ValueChange", "Device.LocalAgent.Controller.1.PeriodicNotifInterval", false, false)
	h.set("Device.LocalAgent.Controller.1.", true, "PeriodicNotifInterval", "120")
	h.run(time.Second)
	h.checkMsgIDs()
}

// Periodic! fires at the controller's PeriodicNotifInterval, after Boot!.
func TestPeriodic(t *testing.T) {
	h := newHarness(t, "uboot-nor", func(c *Config) { c.PeriodicInterval = 60 }).boot()
	h.subscribe("p", "Event", "Device.LocalAgent.Periodic!", false, false)
	mark := len(h.msgs)
	h.run(3*time.Minute + time.Second)
	if n := len(h.events_("Periodic!", mark)); n != 3 {
		t.Fatalf("%d Periodic! in 3 minutes", n)
	}
}

// A lost session is reopened after the TR-369 retry wait; Records made
// meanwhile wait for it.
func TestReconnect(t *testing.T) {
	h := newHarness(t, "uboot-nor", nil).boot()
	h.subscribe("vc", "ValueChange", "Device.DeviceInfo.FirmwareImage.2.Status", false, false)
	h.serve(fwURL, fwImage("uboot-nor", "2.0.0", 0))
	h.operate(newRow+".Download()", "k1", "URL", fwURL)
	h.online = false
	h.apply(h.d.Disconnected(h.now))
	lost := h.now
	mark := len(h.msgs)
	h.run(4 * time.Second) // the download ends while the session is down
	if len(h.msgs) != mark {
		t.Fatal("records sent while the session is down")
	}
	h.runUntil(func() bool { return h.online }, time.Minute)
	if w := h.now.Sub(lost); w < 5*time.Second || w > 11*time.Second {
		t.Fatalf("reconnected after %s, want 5-10 s", w)
	}
	h.run(time.Second)
	var vcs []string
	for _, m := range h.msgs[mark:] {
		if vc := m.GetBody().GetRequest().GetNotify().GetValueChange(); vc != nil {
			vcs = append(vcs, vc.GetParamValue())
		}
	}
	if strings.Join(vcs, ",") != "Validating,Available" {
		t.Fatalf("kept notifications %v", vcs)
	}
	if !strings.Contains(h.eventLog(), "disconnected") {
		t.Fatal("no disconnected event")
	}
}

// GetSupportedDM shows Activate() and the flattened TimeWindow arguments
// (G2), and the FirmwareImage table as read-only.
func TestSupportedDM(t *testing.T) {
	h := newHarness(t, "uboot-nor", nil).boot()
	resp := h.request(usp.NewRequest(h.nextID(), &pb.GetSupportedDM{ObjPaths: []string{"Device.DeviceInfo.FirmwareImage.{i}."},
		ReturnCommands: true, ReturnEvents: true, ReturnParams: true}))
	objs := resp.GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults()[0].GetSupportedObjs()
	if len(objs) != 1 || objs[0].GetAccess() != pb.GetSupportedDMResp_OBJ_READ_ONLY {
		t.Fatalf("objects %v", objs)
	}
	found := false
	for _, c := range objs[0].GetSupportedCommands() {
		if c.GetCommandName() == "Activate()" && c.GetCommandType() == pb.GetSupportedDMResp_CMD_ASYNC &&
			strings.Contains(strings.Join(c.GetInputArgNames(), ","), "TimeWindow.{i}.Mode") {
			found = true
		}
	}
	if !found {
		t.Fatalf("commands %v", objs[0].GetSupportedCommands())
	}
}

// Available cannot be set false on the BootFirmwareImage row (7014); a
// controller may blacklist another row.
func TestAvailableConstraint(t *testing.T) {
	h := newHarness(t, "uboot-nor", nil).boot()
	h.serve(fwURL, fwImage("uboot-nor", "2.0.0", 0))
	h.operate(newRow+".Download()", "k1", "URL", fwURL)
	h.run(time.Minute)
	h.set("Device.DeviceInfo.", true, "BootFirmwareImage", newRow)
	resp := h.set(newRow+".", true, "Available", "false")
	if e := resp.GetBody().GetError(); e == nil || e.GetParamErrs()[0].GetErrCode() != 7014 {
		t.Fatalf("Available=false on the boot row: %v", resp)
	}
	h.set("Device.DeviceInfo.", true, "BootFirmwareImage", "Device.DeviceInfo.FirmwareImage.1")
	if resp := h.set(newRow+".", true, "Available", "false"); resp.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("blacklisting row 2: %v", resp)
	}
	resp = h.set("Device.DeviceInfo.", true, "BootFirmwareImage", newRow)
	if e := resp.GetBody().GetError(); e == nil || e.GetParamErrs()[0].GetErrCode() != 7014 {
		t.Fatalf("BootFirmwareImage to an unavailable row: %v", resp)
	}
	// Reboot() after the controller chose row 1 again does not switch.
	mark := len(h.msgs)
	h.operate("Device.Reboot()", "r")
	h.runUntil(func() bool { return len(h.msgs) > mark && h.hasEvent(EvReboot) && h.online }, 5*time.Minute)
	if h.value("Device.DeviceInfo.SoftwareVersion") != "1.0.0" {
		t.Fatal("switched images")
	}
}

// The retry wait follows the device's own SessionRetryMinimumWaitInterval
// and multiplier: with 1 s and 3.0, the first retry comes 1–3 s after the
// loss, the second 3–9 s after the first fails.
func TestReconnectRetryConfig(t *testing.T) {
	h := newHarness(t, "uboot-nor", func(c *Config) { c.RetryMinimumWait, c.RetryIntervalMultiplier = time.Second, 3000 }).boot()
	h.online = false
	h.apply(h.d.Disconnected(h.now))
	lost := h.now
	h.runUntil(func() bool { return h.online }, time.Minute)
	if w := h.now.Sub(lost); w < time.Second || w > 3*time.Second+100*time.Millisecond {
		t.Fatalf("reconnected after %s, want 1-3 s", w)
	}
	if _, err := New(Config{EndpointID: "a", ControllerID: "c", RetryIntervalMultiplier: 999}, h.d.board, h.d.schema); err == nil {
		t.Fatal("a multiplier below 1000 was accepted")
	}
}

// TestSetupKeepsConfig: a Device keeps every field of its Config but the
// seed (as a field of setup or a method of the same name), and every
// fault (noFaults knows every field of faults.Faults).
func TestSetupKeepsConfig(t *testing.T) {
	var c Config
	cv := reflect.ValueOf(&c).Elem()
	for i := range cv.NumField() {
		switch f := cv.Field(i); f.Kind() {
		case reflect.String:
			f.SetString(fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i*20)))
		case reflect.Int64:
			f.SetInt(int64(i + 1))
		case reflect.Uint32, reflect.Uint64:
			f.SetUint(uint64(i + 1))
		}
	}
	c.Intern = func(s string) string { return s }
	s := newSetup(&c)
	sv := reflect.ValueOf(&s)
	for i := range cv.NumField() {
		name := cv.Type().Field(i).Name
		if name == "Seed" || name == "Faults" {
			continue
		}
		var got reflect.Value
		if f := sv.Elem().FieldByName(name); f.IsValid() {
			got = f
		} else if m := sv.MethodByName(name); m.IsValid() {
			got = m.Call(nil)[0]
		} else {
			t.Errorf("setup does not keep Config.%s", name)
			continue
		}
		want := cv.Field(i)
		if got.Kind() == reflect.Func {
			if got.IsNil() != want.IsNil() {
				t.Errorf("setup.%s lost", name)
			}
			continue
		}
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Errorf("setup.%s = %v, want %v", name, got, want)
		}
	}
	ft := reflect.TypeOf(faults.Faults{})
	for i := range ft.NumField() {
		var f faults.Faults
		v := reflect.ValueOf(&f).Elem().Field(i)
		switch v.Kind() {
		case reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Int, reflect.Int64:
			v.SetInt(1)
		case reflect.Float64:
			v.SetFloat(0.5)
		default:
			t.Fatalf("faults.Faults.%s: kind %s", ft.Field(i).Name, v.Kind())
		}
		if noFaults(&f) {
			t.Errorf("noFaults ignores faults.Faults.%s", ft.Field(i).Name)
		}
		if s := newSetup(&Config{Faults: f}); !reflect.DeepEqual(s.Faults(), f) {
			t.Errorf("setup loses faults.Faults.%s", ft.Field(i).Name)
		}
	}
}

// A clock-skew fault moves every time the device reports, and only those:
// its timers and its own life run on the true clock.
func TestClockSkew(t *testing.T) {
	paths := []string{"Device.Time.CurrentLocalTime", "Device.DeviceInfo.TemperatureStatus.TemperatureSensor.1.ResetTime"}
	read := func(skew time.Duration) map[string]string {
		h := newHarness(t, "uboot-nor", func(c *Config) { c.Faults.Skew = skew }).boot()
		h.run(10 * time.Second)
		return h.get(paths...)
	}
	plain, ahead, behind := read(0), read(2*time.Hour), read(-90*time.Minute)
	for _, p := range paths {
		a, err1 := time.Parse(time.RFC3339, plain[p])
		b, err2 := time.Parse(time.RFC3339, ahead[p])
		c, err3 := time.Parse(time.RFC3339, behind[p])
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("%s: %q %q %q", p, plain[p], ahead[p], behind[p])
		}
		if b.Sub(a) != 2*time.Hour || a.Sub(c) != 90*time.Minute {
			t.Errorf("%s: %v, %v ahead, %v behind", p, a, b, c)
		}
	}
}

// With a periodic jitter each device's Periodic! fires at a drawn point of
// [interval, interval+jitter) after the one before: devices that connect
// together spread out; without it, all of them fire on the interval.
func TestPeriodicJitter(t *testing.T) {
	const interval = 60 * time.Second
	first := func(seed uint64, jitter time.Duration) (connected, periodic time.Time) {
		h := newHarness(t, "uboot-nor", func(c *Config) { c.PeriodicInterval, c.PeriodicJitter, c.Seed = 60, jitter, seed }).boot()
		return h.now, h.timers[TimerPeriodic]
	}
	seen := map[time.Duration]bool{}
	for seed := range uint64(8) {
		c, p := first(seed+1, 30*time.Second)
		d := p.Sub(c)
		if d < interval || d >= interval+30*time.Second {
			t.Errorf("seed %d: Periodic! %v after the session, want in [60s, 90s)", seed+1, d)
		}
		seen[d] = true
		if c, p := first(seed+1, 0); p.Sub(c) != interval {
			t.Errorf("seed %d without jitter: %v", seed+1, p.Sub(c))
		}
	}
	if len(seen) < 6 {
		t.Errorf("8 devices drew %d distinct delays: %v", len(seen), seen)
	}
	if _, err := New(Config{EndpointID: "a", ControllerID: "b", PeriodicJitter: -time.Second}, factory(t, "uboot-nor").Clone(), schema(t)); err == nil {
		t.Error("a negative jitter accepted")
	}
}
