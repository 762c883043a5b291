package dm

import (
	"bytes"
	"testing"
	"time"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// reboot snapshots f's model and restores it into a fresh one, as the
// device does at boot.
func (f *fixture) reboot(at time.Time) *Model {
	f.t.Helper()
	snap := f.m.Snapshot()
	m := NewModel(f.m.s, Config{Env: f.dev})
	if err := m.Restore(snap, at); err != nil {
		f.t.Fatal(err)
	}
	return m
}

func TestSnapshot_RebootKeepsPersistentOnly(t *testing.T) {
	f := newFixture(t)
	f.mustSet("Device.DeviceInfo.FirmwareImage.2.Available", "true")
	do(f, ctrl1, setMsg(false, upd("Device.DeviceInfo.", ps("BootFirmwareImage", "Device.DeviceInfo.FirmwareImage.2", true), ps("FriendlyName", "volatile", true))))
	keep := f.subscribe(ctrl1, "boot", "Event", "Device.Boot!", true)
	do(f, ctrl1, setMsg(false, upd(keep, ps("Persistent", "true", true))))
	drop := f.subscribe(ctrl1, "tmp", "Event", "Device.Boot!", true)
	f.mustAdd("Device.LocalAgent.Controller.1.BootParameter.", map[string]string{"Enable": "true", "ParameterName": "Device.DeviceInfo.SerialNumber"})
	download(f, ctrl1, "Device.DeviceInfo.FirmwareImage.2.Download()", "k", map[string]string{"URL": "u"})

	m := f.reboot(f.now)
	f.m = m
	for p, want := range map[string]string{
		"Device.DeviceInfo.SerialNumber":                               "SIM000001", // Persistent parameter
		"Device.DeviceInfo.BootFirmwareImage":                          "Device.DeviceInfo.FirmwareImage.2",
		"Device.DeviceInfo.FriendlyName":                               "", // not persistent
		"Device.LocalAgent.ControllerNumberOfEntries":                  "2",
		"Device.LocalAgent.Controller.1.BootParameter.1.ParameterName": "Device.DeviceInfo.SerialNumber",
		"Device.LocalAgent.SubscriptionNumberOfEntries":                "1",
		keep + "ID":        "boot",
		keep + "Recipient": "Device.LocalAgent.Controller.1",
		"Device.LocalAgent.RequestNumberOfEntries":       "0",
		"Device.DeviceInfo.FirmwareImageNumberOfEntries": "0", // the device re-creates its images
	} {
		if got := f.value(p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if _, err := m.Value(drop+"ID", f.now); err == nil {
		t.Error("non-persistent subscription survived")
	}
	if len(m.Jobs()) != 0 {
		t.Error("a job survived")
	}
	// Instance numbers are not reused after the reboot.
	if got := f.subscribe(ctrl1, "new", "Event", "Device.Boot!", false); got != "Device.LocalAgent.Subscription.3." {
		t.Errorf("new subscription %s", got)
	}
	resp, _ := do(f, ctrl1, &pb.Operate{Command: "Device.SelfTestDiagnostics()", SendResp: true})
	if got := opResults(t, resp)[0].GetReqObjPath(); got != "Device.LocalAgent.Request.2." {
		t.Errorf("new request %s", got)
	}
	// The device recreates its images with their numbers.
	if p, _, err := m.AddRow("Device.DeviceInfo.FirmwareImage.", 2, nil, f.now); err != nil || p != "Device.DeviceInfo.FirmwareImage.2." {
		t.Errorf("%s %v", p, err)
	}
}

func TestSnapshot_PendingNotifyResentAfterReboot(t *testing.T) {
	f := newFixture(t)
	sub := f.subscribe(ctrl1, "vc", "ValueChange", "Device.DeviceInfo.ProvisioningCode", true)
	do(f, ctrl1, setMsg(false, upd(sub, ps("Persistent", "true", true), ps("NotifExpiration", "3600", true))))
	fx, _ := f.m.SetValue("Device.DeviceInfo.ProvisioningCode", "abc", f.now)
	id := fx.Notify[0].Msg.GetHeader().GetMsgId()
	at := f.now.Add(time.Minute)
	m := f.reboot(at)
	if m.Pending() != 1 || !m.Wake().Equal(at) {
		t.Fatalf("pending %d wake %v", m.Pending(), m.Wake())
	}
	fx = m.Tick(at)
	if len(fx.Notify) != 1 || fx.Notify[0].Msg.GetHeader().GetMsgId() != id || !fx.Notify[0].Retry {
		t.Fatalf("%v", fx.Notify)
	}
	// The retry counter starts over: the next retry is 5-10 s away.
	if d := fx.Wake.Sub(at); d < 5*time.Second || d > 10*time.Second {
		t.Errorf("next retry in %v", d)
	}
	// msg_ids are not reused after the reboot.
	fx, _ = m.SetValue("Device.DeviceInfo.ProvisioningCode", "def", at)
	if fx.Notify[0].Msg.GetHeader().GetMsgId() == id {
		t.Error("msg_id reused")
	}
	// Past NotifExpiration at boot: dropped.
	if m := f.reboot(f.now.Add(2 * time.Hour)); m.Pending() != 0 {
		t.Error("expired notification restored")
	}
}

func TestSnapshot_Deterministic(t *testing.T) {
	a, b := newFixture(t), newFixture(t)
	if !bytes.Equal(a.m.Snapshot(), b.m.Snapshot()) {
		t.Error("same state, different snapshots")
	}
	m := a.reboot(a.now)
	if !bytes.Equal(m.Snapshot(), a.m.Snapshot()) {
		t.Error("snapshot of a restored model differs")
	}
}

func TestSnapshot_RestoreRefusesGarbage(t *testing.T) {
	f := newFixture(t)
	snap := f.m.Snapshot()
	for _, bad := range [][]byte{nil, []byte("BYDM\x02"), snap[:len(snap)-1], append([]byte("BYDM\x01"), 0xff)} {
		if err := f.m.Restore(bad, f.now); !errorIs(err, usp.InvalidArguments) {
			t.Errorf("%x: %v", bad, err)
		}
	}
	if f.value("Device.DeviceInfo.FirmwareImageNumberOfEntries") != "2" {
		t.Error("a failed Restore changed the model")
	}
}

func FuzzRestore(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.m.Snapshot())
	f.Fuzz(func(t *testing.T, b []byte) {
		m := NewModel(testSchema(t), Config{Env: &testDev{}})
		if m.Restore(b, t0) == nil {
			m.Snapshot()
			m.Tick(t0)
		}
	})
}
