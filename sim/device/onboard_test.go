package device

import (
	"testing"
	"time"

	pb "brickyard/usp/uspmsg"
)

// onboardRequests lists the OnBoardRequests the controller received since
// from, one per msg_id.
func (h *harness) onboardRequests(from int) []*pb.Notify_OnBoardRequest {
	var out []*pb.Notify_OnBoardRequest
	seen := map[string]bool{}
	for _, m := range h.msgs[from:] {
		if ob := m.GetBody().GetRequest().GetNotify().GetOnBoardReq(); ob != nil && !seen[m.GetHeader().GetMsgId()] {
			seen[m.GetHeader().GetMsgId()] = true
			out = append(out, ob)
		}
	}
	return out
}

// TestOnBoardRequest: R-NOT.5/6 and TR-181's OnBoardingComplete and
// OnBoardingRestartTime, through a factory reset.
func TestOnBoardRequest(t *testing.T) {
	h := newHarness(t, "uboot-nor", func(c *Config) { c.ProductClass = "GW-1" }).boot()
	obs := h.onboardRequests(0)
	if len(obs) != 1 || obs[0].GetOui() != "00256D" || obs[0].GetProductClass() != "GW-1" || obs[0].GetSerialNumber() != "SIM0001" ||
		obs[0].GetAgentSupportedProtocolVersions() != "1.0,1.1,1.2,1.3,1.4" {
		t.Fatalf("first contact: OnBoardRequests %v", obs)
	}
	// It came after Boot! (§7.5), with send_resp and no subscription.
	for _, m := range h.msgs {
		if n := m.GetBody().GetRequest().GetNotify(); n.GetOnBoardReq() != nil && (!n.GetSendResp() || n.GetSubscriptionId() != "") {
			t.Errorf("OnBoardRequest %v: want send_resp and no subscription_id", n)
		}
	}
	// Answered: no more, even after a while.
	h.run(10 * time.Minute)
	if n := len(h.onboardRequests(0)); n != 1 {
		t.Fatalf("%d OnBoardRequests after the NotifyResp, want 1", n)
	}

	// OnBoardingRestartTime: answered ones come back while not complete.
	h.set("Device.LocalAgent.Controller.1.", true, "OnBoardingRestartTime", "60")
	mark := len(h.msgs)
	resp := h.operate("Device.LocalAgent.Controller.1.SendOnBoardRequest()", "")
	if resp.GetReqOutputArgs() == nil {
		t.Fatalf("SendOnBoardRequest(): %v", resp)
	}
	h.run(5 * time.Second)
	if n := len(h.onboardRequests(mark)); n != 1 {
		t.Fatalf("SendOnBoardRequest(): %d OnBoardRequests, want 1", n)
	}
	h.run(61 * time.Second)
	if n := len(h.onboardRequests(mark)); n != 2 {
		t.Fatalf("OnBoardingRestartTime 60: %d OnBoardRequests after 66 s, want 2", n)
	}
	h.set("Device.LocalAgent.Controller.1.", true, "OnBoardingComplete", "true")
	h.run(5 * time.Minute)
	if n := len(h.onboardRequests(mark)); n != 2 {
		t.Fatalf("OnBoardingComplete true: %d OnBoardRequests, want still 2", n)
	}
	// A reboot keeps OnBoardingComplete: no request. (And the device's
	// hardware rows are there again, its persistent ones kept.)
	mark = len(h.msgs)
	h.operate("Device.Reboot()", "")
	h.run(2 * time.Minute)
	for p, want := range map[string]string{"Device.Ethernet.Interface.1.Name": "eth0", "Device.DeviceInfo.ProcessStatus.ProcessNumberOfEntries": "3",
		"Device.IP.Interface.1.IPv4Address.1.Enable": "true", "Device.MQTT.ClientNumberOfEntries": "0", "Device.DeviceInfo.TemperatureStatus.TemperatureSensorNumberOfEntries": "1"} {
		if got := h.value(p); got != want {
			t.Errorf("after a reboot %s = %q, want %q", p, got, want)
		}
	}
	if n := len(h.onboardRequests(mark)); n != 0 || h.value("Device.LocalAgent.Controller.1.OnBoardingComplete") != "true" {
		t.Fatalf("after a reboot: %d OnBoardRequests, want 0", n)
	}
	// A factory reset brings it back.
	mark = len(h.msgs)
	h.operate("Device.FactoryReset()", "")
	h.run(2 * time.Minute)
	if n := len(h.onboardRequests(mark)); n != 1 || h.value("Device.LocalAgent.Controller.1.OnBoardingComplete") != "false" {
		t.Fatalf("after a factory reset: %d OnBoardRequests, want 1", n)
	}
	// Unanswered, it is retried (R-NOT.6a).
	h.autoNotifyResp = false
	mark = len(h.msgs)
	h.operate("Device.LocalAgent.Controller.1.SendOnBoardRequest()", "")
	h.run(time.Minute)
	retries := 0
	for _, m := range h.msgs[mark:] {
		if m.GetBody().GetRequest().GetNotify().GetOnBoardReq() != nil {
			retries++
		}
	}
	if retries < 3 {
		t.Errorf("unanswered OnBoardRequest sent %d times in a minute, want the first and its retries", retries)
	}
}

// TestOnBoarded: a device configured onboarded sends none until asked.
func TestOnBoarded(t *testing.T) {
	h := newHarness(t, "uboot-nor", func(c *Config) { c.Onboarded = true }).boot()
	h.run(time.Minute)
	if n := len(h.onboardRequests(0)); n != 0 {
		t.Fatalf("%d OnBoardRequests, want 0", n)
	}
	h.set("Device.LocalAgent.Controller.1.", true, "OnBoardingComplete", "false")
	h.run(time.Second)
	if n := len(h.onboardRequests(0)); n != 1 {
		t.Fatalf("OnBoardingComplete false: %d OnBoardRequests, want 1", n)
	}
}
