package device

import (
	"testing"
	"time"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// subIDs lists the subscription_id of every Boot! since from.
func (h *harness) bootSubs(from int) []string {
	var out []string
	for _, m := range h.msgs[from:] {
		if n := m.GetBody().GetRequest().GetNotify(); n.GetEvent().GetEventName() == "Boot!" {
			out = append(out, n.GetSubscriptionId())
		}
	}
	return out
}

// Persistent subscriptions, BootParameters and controller settings
// survive a reboot and a power cut; non-persistent subscriptions and
// Request rows do not (G8, §7.5).
func TestPersistenceAcrossReboot(t *testing.T) {
	for _, how := range []string{"Reboot()", "power-cut"} {
		t.Run(how, func(t *testing.T) {
			h := newHarness(t, "uboot-nor", nil).boot()
			h.subscribe("keep", "Event", "Device.Boot!", true, false)
			h.subscribe("lose", "Event", "Device.Boot!", false, false)
			h.add("Device.LocalAgent.Controller.1.BootParameter.", "Enable", "true", "ParameterName", "Device.DeviceInfo.SerialNumber")
			h.set("Device.LocalAgent.Controller.1.", true, "PeriodicNotifInterval", "600")
			h.serve(fwURL, fwImage("uboot-nor", "2.0.0", 0))
			h.operate(newRow+".Download()", "k1", "URL", fwURL)
			h.run(time.Minute)
			// A pending activation: its Request row is RAM.
			r := h.operate(newRow+".Activate()", "k2", "TimeWindow.1.Start", "3600", "TimeWindow.1.End", "7200", "TimeWindow.1.Mode", "AnyTime")
			if r.GetReqObjPath() == "" {
				t.Fatalf("Activate() %v", r)
			}
			mark := len(h.msgs)
			if how == "power-cut" {
				h.apply(h.d.PowerCut(h.now))
			} else {
				h.operate("Device.Reboot()", "r")
			}
			h.runUntil(func() bool { return h.online && len(h.bootSubs(mark)) > 0 }, 5*time.Minute)
			h.run(time.Second)
			if got := h.bootSubs(mark); len(got) != 1 || got[0] != "keep" {
				t.Fatalf("Boot! went to subscriptions %v, want [keep]", got)
			}
			v := h.get("Device.LocalAgent.")
			n := 0
			for k, val := range v {
				if len(k) > len("Device.LocalAgent.Subscription.") && k[:len("Device.LocalAgent.Subscription.")] == "Device.LocalAgent.Subscription." && k[len(k)-3:] == ".ID" {
					n++
					if val != "keep" {
						t.Fatalf("subscription %s survived", val)
					}
				}
			}
			if n != 1 || v["Device.LocalAgent.RequestNumberOfEntries"] != "0" {
				t.Fatalf("after the reboot: %d subscriptions, %s requests", n, v["Device.LocalAgent.RequestNumberOfEntries"])
			}
			if v["Device.LocalAgent.Controller.1.PeriodicNotifInterval"] != "600" || v["Device.LocalAgent.Controller.1.BootParameter.1.ParameterName"] != "Device.DeviceInfo.SerialNumber" {
				t.Fatalf("controller settings lost: %v", v)
			}
			if st := h.value(newRow + ".Status"); st != "Available" {
				t.Fatalf("row 2 %s", st)
			}
			if h.hasEvent(EvActivate) {
				t.Fatal("the activation survived the reboot")
			}
			// The instance numbers are not reused.
			resp := h.add("Device.LocalAgent.Subscription.", "Enable", "true", "ID", "again", "NotifType", "Event", "ReferenceList", "Device.Boot!")
			if p := resp.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()[0].GetOperStatus().GetOperSuccess().GetInstantiatedPath(); p != "Device.LocalAgent.Subscription.3." {
				t.Fatalf("new subscription at %s", p)
			}
		})
	}
}

// A persistent, retried notification still unanswered at a reboot is
// sent again after it, with its msg_id (R-NOT.4), after Boot!.
func TestPendingNotifySurvivesReboot(t *testing.T) {
	h := newHarness(t, "esp32-ota", nil).boot()
	h.standardSubs()
	h.serve(fwURL, fwImage("esp32-ota", "2.0.0", 0))
	h.autoNotifyResp = false
	mark := len(h.msgs)
	h.operate(newRow+".Download()", "k1", "URL", fwURL, "AutoActivate", "true")
	h.runUntil(func() bool { return h.hasEvent(EvReboot) }, time.Minute)
	h.autoNotifyResp = true
	h.waitEvent("Boot!", mark, 1, 5*time.Minute)
	h.run(time.Second)
	// Sent before the reboot, again after Boot! with the same msg_id.
	var ids []string
	bootAt := -1
	for i, m := range h.msgs[mark:] {
		switch m.GetBody().GetRequest().GetNotify().GetEvent().GetEventName() {
		case "TransferComplete!":
			ids = append(ids, m.GetHeader().GetMsgId())
			if bootAt >= 0 && i < bootAt {
				t.Fatal("re-sent before Boot!")
			}
		case "Boot!":
			bootAt = i
		}
	}
	if len(ids) != 2 || ids[0] != ids[1] || bootAt < 0 {
		t.Fatalf("TransferComplete! msg_ids %v\n%s", ids, h.eventLog())
	}
	_ = usp.IsRequest
	_ = pb.Header_GET
}
