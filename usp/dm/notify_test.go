package dm

import (
	"google.golang.org/protobuf/proto"
	"slices"
	"testing"
	"time"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

func notifyOf(n Notification) *pb.Notify { return n.Msg.GetBody().GetRequest().GetNotify() }

func TestNotify_ValueChange_FiresForOwnSet(t *testing.T) {
	f := newFixture(t)
	f.subscribe(ctrl1, "vc-1", "ValueChange", "Device.DeviceInfo.FriendlyName", true)
	resp, fx := do(f, ctrl1, setMsg(false, upd("Device.DeviceInfo.", ps("FriendlyName", "MyBox", true))))
	if resp.GetBody().GetResponse().GetSetResp() == nil || len(fx.Notify) != 1 {
		t.Fatalf("resp %v, notifies %v", resp, fx.Notify)
	}
	n := fx.Notify[0]
	nt := notifyOf(n)
	if n.To != ctrl1.EndpointID || n.Controller != "Device.LocalAgent.Controller.1" || nt.GetSubscriptionId() != "vc-1" || !nt.GetSendResp() {
		t.Errorf("notify %v to %s", nt, n.To)
	}
	if vc := nt.GetValueChange(); vc.GetParamPath() != "Device.DeviceInfo.FriendlyName" || vc.GetParamValue() != "MyBox" {
		t.Errorf("value_change %v", vc)
	}
	// Setting the same value again changes nothing: no notification.
	_, fx = do(f, ctrl1, setMsg(false, upd("Device.DeviceInfo.", ps("FriendlyName", "MyBox", true))))
	if len(fx.Notify) != 0 {
		t.Errorf("notified an unchanged value")
	}
}

func TestNotify_ValueChange_ReferenceForms(t *testing.T) {
	f := newFixture(t)
	f.subscribe(ctrl1, "obj", "ValueChange", "Device.DeviceInfo.", false)
	f.subscribe(ctrl1, "search", "ValueChange", `Device.DeviceInfo.FirmwareImage.[Status=="Active"].Name`, false)
	f.subscribe(ctrl2, "wild", "ValueChange", "Device.DeviceInfo.FirmwareImage.*.Name,Device.LocalAgent.Controller.1.Enable", false)
	f.subscribe(ctrl2, "off", "ValueChange", "Device.DeviceInfo.", false)
	do(f, ctrl2, setMsg(false, upd("Device.LocalAgent.Subscription.4.", ps("Enable", "false", true))))
	fx, err := f.m.SetValue("Device.DeviceInfo.FirmwareImage.*.Name", "img", f.now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range fx.Notify {
		got = append(got, notifyOf(n).GetSubscriptionId()+" "+notifyOf(n).GetValueChange().GetParamPath())
	}
	want := []string{
		"obj Device.DeviceInfo.FirmwareImage.1.Name", "search Device.DeviceInfo.FirmwareImage.1.Name", "wild Device.DeviceInfo.FirmwareImage.1.Name",
		"obj Device.DeviceInfo.FirmwareImage.2.Name", "wild Device.DeviceInfo.FirmwareImage.2.Name",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	// IgnoreValueChange parameters and Secret ones never fire.
	fx, _ = f.m.Changed("Device.DeviceInfo.UpTime", f.now)
	if len(fx.Notify) != 0 {
		t.Error("UpTime notified")
	}
}

func TestNotify_BoundValueChanged(t *testing.T) {
	f := newFixture(t)
	f.subscribe(ctrl1, "sv", "ValueChange", "Device.DeviceInfo.SoftwareVersion", false)
	f.dev.version = "2.0.0"
	fx, err := f.m.Changed("Device.DeviceInfo.SoftwareVersion", f.now)
	if err != nil || len(fx.Notify) != 1 || notifyOf(fx.Notify[0]).GetValueChange().GetParamValue() != "2.0.0" || notifyOf(fx.Notify[0]).GetSendResp() {
		t.Fatalf("%v %v", err, fx.Notify)
	}
	if _, err := f.m.SetValue("Device.DeviceInfo.SoftwareVersion", "x", f.now); !errorIs(err, usp.ParameterNotWritable) {
		t.Errorf("SetValue of a bound parameter: %v", err)
	}
}

func TestNotify_OnePerSubscription_EventAndObjectPath(t *testing.T) {
	f := newFixture(t)
	f.subscribe(ctrl1, "boot-1", "Event", "Device.Boot!", true)
	f.subscribe(ctrl2, "boot-2", "Event", "Device.", false)
	f.subscribe(ctrl2, "tc", "Event", "Device.LocalAgent.TransferComplete!", false)
	fx, err := f.m.EventFor("Device.Boot!", func(c string) map[string]string {
		return map[string]string{"Cause": "RemoteReboot", "ParameterMap": f.m.ParameterMap(c, f.now)}
	}, f.now)
	if err != nil || len(fx.Notify) != 2 {
		t.Fatalf("%v %v", err, fx.Notify)
	}
	for i, want := range []string{"boot-1", "boot-2"} {
		ev := notifyOf(fx.Notify[i]).GetEvent()
		if notifyOf(fx.Notify[i]).GetSubscriptionId() != want || ev.GetObjPath() != "Device." || ev.GetEventName() != "Boot!" || ev.GetParams()["ParameterMap"] != "{}" {
			t.Errorf("%d: %v", i, notifyOf(fx.Notify[i]))
		}
	}
	if _, err := f.m.Event("Device.Nope!", nil, f.now); !errorIs(err, usp.InvalidPath) {
		t.Errorf("unknown event: %v", err)
	}
}

func TestNotify_ParameterMap(t *testing.T) {
	f := newFixture(t)
	f.mustAdd("Device.LocalAgent.Controller.1.BootParameter.", map[string]string{"Enable": "true", "ParameterName": "Device.DeviceInfo.BootFirmwareImage"})
	f.mustAdd("Device.LocalAgent.Controller.1.BootParameter.", map[string]string{"Enable": "true", "ParameterName": "Device.DeviceInfo.FirmwareImage.*.Status"})
	f.mustAdd("Device.LocalAgent.Controller.1.BootParameter.", map[string]string{"Enable": "false", "ParameterName": "Device.DeviceInfo.ModelName"})
	want := `{"Device.DeviceInfo.BootFirmwareImage":"Device.DeviceInfo.FirmwareImage.1","Device.DeviceInfo.FirmwareImage.1.Status":"Active","Device.DeviceInfo.FirmwareImage.2.Status":"NoImage"}`
	if got := f.m.ParameterMap("Device.LocalAgent.Controller.1", f.now); got != want {
		t.Errorf("got %s", got)
	}
}

func TestNotify_ObjectDeletionSearchSeesDeletedRow(t *testing.T) {
	f := newFixture(t)
	f.subscribe(ctrl1, "del", "ObjectDeletion", `Device.LocalAgent.Controller.[EndpointID=="proto::ctrl-2"].`, false)
	_, fx := do(f, ctrl1, &pb.Delete{ObjPaths: []string{"Device.LocalAgent.Controller.*."}})
	// Controller.1 (the recipient) is deleted too; its Endpoint ID is still
	// known when the notification is made.
	if len(fx.Notify) != 1 || notifyOf(fx.Notify[0]).GetObjDeletion().GetObjPath() != "Device.LocalAgent.Controller.2." {
		t.Errorf("%v", fx.Notify)
	}
}

func TestNotify_RNOT1_RetryScheduleAndNotifyResp(t *testing.T) {
	f := newFixture(t)
	f.mustSet("Device.LocalAgent.Controller.1.USPNotifRetryMinimumWaitInterval", "10")
	f.mustSet("Device.LocalAgent.Controller.1.USPNotifRetryIntervalMultiplier", "3000")
	sub := f.subscribe(ctrl1, "vc", "ValueChange", "Device.DeviceInfo.FriendlyName", true)
	do(f, ctrl1, setMsg(false, upd(sub, ps("NotifExpiration", "20000", true))))
	fx, _ := f.m.SetValue("Device.DeviceInfo.FriendlyName", "a", f.now)
	first := fx.Notify[0].Msg
	expires := f.now.Add(20000 * time.Second)
	// Retry n waits in [10·3^(n-1), 10·3^n] seconds.
	last := f.now
	for n := 1; n <= 6; n++ {
		wake := fx.Wake
		lo := last.Add(time.Duration(10*pow3(n-1)) * time.Second)
		hi := last.Add(time.Duration(10*pow3(n)) * time.Second)
		if wake.Before(lo) || wake.After(hi) {
			t.Fatalf("retry %d at +%v, want within [+%v, +%v]", n, wake.Sub(last), lo.Sub(last), hi.Sub(last))
		}
		fx = f.m.Tick(wake)
		if len(fx.Notify) != 1 || !fx.Notify[0].Retry || !proto.Equal(fx.Notify[0].Msg, first) { // the same message, decoded again
			t.Fatalf("retry %d: %v", n, fx.Notify)
		}
		last = wake
	}
	if fx.Wake.After(expires) {
		t.Fatalf("next wake %v after NotifExpiration %v", fx.Wake, expires)
	}
	if fx = f.m.Tick(expires); len(fx.Notify) != 0 || f.m.Pending() != 0 {
		t.Fatalf("retry at NotifExpiration: %v", fx.Notify)
	}
	// A NotifyResp ends the retries; its subscription_id is ignored (R-NOT.9).
	fx, _ = f.m.SetValue("Device.DeviceInfo.FriendlyName", "b", f.now)
	id := fx.Notify[0].Msg.GetHeader().GetMsgId()
	resp := usp.NewResponse(id, &pb.NotifyResp{SubscriptionId: "whatever"})
	if out, _ := f.m.Handle(ctrl2, resp, f.now); out != nil || f.m.Pending() != 1 {
		t.Fatalf("NotifyResp from another Controller was accepted")
	}
	if out, fx := f.m.Handle(ctrl1, resp, f.now); out != nil || f.m.Pending() != 0 || !fx.Wake.IsZero() {
		t.Fatalf("pending %d after NotifyResp", f.m.Pending())
	}
}

func pow3(n int) int {
	r := 1
	for range n {
		r *= 3
	}
	return r
}

func TestNotify_NoRetryWithoutNotifRetry(t *testing.T) {
	f := newFixture(t)
	f.subscribe(ctrl1, "vc", "ValueChange", "Device.DeviceInfo.FriendlyName", false)
	fx, _ := f.m.SetValue("Device.DeviceInfo.FriendlyName", "a", f.now)
	if notifyOf(fx.Notify[0]).GetSendResp() || f.m.Pending() != 0 || !fx.Wake.IsZero() {
		t.Errorf("send_resp=false notification kept for retry")
	}
}

func TestNotify_TimeToLiveExpiry(t *testing.T) {
	f := newFixture(t)
	sub := f.subscribe(ctrl1, "ttl", "ValueChange", "Device.DeviceInfo.FriendlyName", false)
	f.subscribe(ctrl2, "watch", "ObjectDeletion", "Device.LocalAgent.Subscription.", false)
	_, fx := do(f, ctrl1, setMsg(false, upd(sub, ps("TimeToLive", "60", true))))
	if want := f.now.Add(time.Minute); !fx.Wake.Equal(want) {
		t.Fatalf("Wake %v, want %v", fx.Wake, want)
	}
	if fx = f.m.Tick(f.now.Add(59 * time.Second)); len(fx.Notify) != 0 {
		t.Fatal("expired early")
	}
	fx = f.m.Tick(f.now.Add(time.Minute))
	if len(fx.Notify) != 1 || notifyOf(fx.Notify[0]).GetObjDeletion().GetObjPath() != sub {
		t.Fatalf("%v", fx.Notify)
	}
	if n := f.value("Device.LocalAgent.SubscriptionNumberOfEntries"); n != "1" {
		t.Errorf("%s subscriptions left", n)
	}
}

func TestNotify_DeviceAddRowInReadOnlyTable(t *testing.T) {
	f := newFixture(t)
	f.subscribe(ctrl1, "oc", "ObjectCreation", "Device.DeviceInfo.FirmwareImage.", false)
	p, fx, err := f.m.AddRow("Device.DeviceInfo.FirmwareImage.", 0, map[string]string{"Status": "Available"}, f.now)
	if err != nil || p != "Device.DeviceInfo.FirmwareImage.3." || len(fx.Notify) != 1 {
		t.Fatalf("%s %v %v", p, err, fx.Notify)
	}
	if _, _, err := f.m.AddRow("Device.DeviceInfo.FirmwareImage.", 3, nil, f.now); !errorIs(err, usp.DuplicateKey) {
		t.Errorf("taken number: %v", err)
	}
	if _, _, err := f.m.AddRow("Device.DeviceInfo.FirmwareImage.", 0, map[string]string{"Status": "Bogus"}, f.now); !errorIs(err, usp.InvalidValue) {
		t.Errorf("bad value: %v", err)
	}
}

func TestNotify_SendNotifyOnBoardRequestRetries(t *testing.T) {
	f := newFixture(t)
	fx := f.m.SendNotify(ctrl2, usp.OnBoardRequest("00256D", "SIM", "SIM000001"), f.now)
	if len(fx.Notify) != 1 || fx.Notify[0].Controller != "Device.LocalAgent.Controller.2" || f.m.Pending() != 1 || fx.Wake.IsZero() {
		t.Fatalf("%v pending %d", fx, f.m.Pending())
	}
	if fx = f.m.Tick(f.now.Add(100 * 24 * time.Hour)); len(fx.Notify) != 1 {
		t.Errorf("OnBoardRequest must never expire")
	}
}

func TestNotify_UnsupportedRequests7001(t *testing.T) {
	f := newFixture(t)
	resp, _ := do(f, ctrl1, &pb.Register{})
	if errCode(resp) != usp.MessageNotSupported {
		t.Errorf("%v", resp)
	}
	resp, _ = do(f, ctrl1, usp.ValueChange("x", false, "a", "b"))
	if errCode(resp) != usp.MessageNotSupported {
		t.Errorf("%v", resp)
	}
	resp, _ = f.m.Handle(ctrl1, &pb.Msg{Header: &pb.Header{MsgId: "x"}, Body: &pb.Body{MsgBody: &pb.Body_Request{Request: &pb.Request{}}}}, f.now)
	if errCode(resp) != usp.InvalidArguments {
		t.Errorf("empty request: %v", resp)
	}
	if resp, _ = f.m.Handle(ctrl1, &pb.Msg{}, f.now); resp != nil {
		t.Errorf("msg without id answered: %v", resp)
	}
}

func TestNotify_ObjectCreation_TablePathOnly(t *testing.T) {
	f := newFixture(t)
	f.subscribe(ctrl1, "table", "ObjectCreation", "Device.LocalAgent.Controller.", false)
	f.subscribe(ctrl1, "wild", "ObjectCreation", "Device.LocalAgent.Controller.*.BootParameter.*.", false)
	f.subscribe(ctrl1, "above", "ObjectCreation", "Device.LocalAgent.", false)
	f.subscribe(ctrl1, "other", "ObjectCreation", "Device.LocalAgent.Controller.1.BootParameter.", false)
	_, fx := do(f, ctrl1, addMsg(false, cobj("Device.LocalAgent.Controller.2.BootParameter."), cobj("Device.LocalAgent.Controller.")))
	var got []string
	for _, n := range fx.Notify {
		got = append(got, notifyOf(n).GetSubscriptionId()+" "+notifyOf(n).GetObjCreation().GetObjPath())
	}
	want := []string{"wild Device.LocalAgent.Controller.2.BootParameter.1.", "table Device.LocalAgent.Controller.3."}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
