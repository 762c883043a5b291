package device

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"brickyard/boards/image"
	"brickyard/sim/faults"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

const fwURL = "https://fw.example/firmware-2.0.0.img"

// newRow is the row a multi-bank device downloads into.
const newRow = "Device.DeviceInfo.FirmwareImage.2"

// F1 — single-image device, download + auto-activate (TP-469 9.7 single bank).
func TestF1_SingleBankAutoActivate(t *testing.T) {
	h := newHarness(t, "single-nor", nil).boot()
	h.standardSubs()
	h.serve(fwURL, fwImage("single-nor", "2.0.0", 0))
	if v := h.value("Device.DeviceInfo.FirmwareImageNumberOfEntries"); v != "1" {
		t.Fatalf("FirmwareImageNumberOfEntries %s", v)
	}
	mark := len(h.msgs)
	r := h.operate("Device.DeviceInfo.FirmwareImage.1.Download()", "k1", "URL", fwURL, "AutoActivate", "true")
	if !strings.HasPrefix(r.GetReqObjPath(), "Device.LocalAgent.Request.") {
		t.Fatalf("OperateResp %v", r)
	}
	boot := h.waitEvent("Boot!", mark, 1, 5*time.Minute)[0]
	oc := h.operComplete("Download()", mark)
	tc := h.events_("TransferComplete!", mark)
	if len(oc) != 1 || oc[0].GetReqOutputArgs() == nil || oc[0].GetCommandKey() != "k1" {
		t.Fatalf("OperationComplete %v", oc)
	}
	if len(tc) != 1 || tc[0].GetParams()["FaultCode"] != "0" || tc[0].GetParams()["CommandKey"] != "k1" {
		t.Fatalf("TransferComplete %v", tc)
	}
	p := boot.GetParams()
	if p["FirmwareUpdated"] != "true" || p["CommandKey"] != "k1" || p["Cause"] != "RemoteReboot" {
		t.Fatalf("Boot! %v", p)
	}
	if h.disconnects != 1 {
		t.Fatalf("%d DisconnectRecords before the reboot", h.disconnects)
	}
	v := h.get("Device.DeviceInfo.")
	if v["Device.DeviceInfo.SoftwareVersion"] != "2.0.0" || v["Device.DeviceInfo.ActiveFirmwareImage"] != "Device.DeviceInfo.FirmwareImage.1" {
		t.Fatalf("after update: %v", v)
	}
}

// F2 — multi-image, download to the inactive bank + auto-activate
// (TP-469 9.3), on every A/B bootloader.
func TestF2_DownloadAutoActivate(t *testing.T) {
	for _, board := range abBoards {
		t.Run(board, func(t *testing.T) {
			h := newHarness(t, board, nil).boot()
			h.standardSubs()
			h.serve(fwURL, fwImage(board, "2.0.0", 0))
			mark := len(h.msgs)
			h.operate(newRow+".Download()", "k2", "URL", fwURL, "AutoActivate", "true")
			boot := h.waitEvent("Boot!", mark, 1, 5*time.Minute)[0]
			if boot.GetParams()["FirmwareUpdated"] != "true" || boot.GetParams()["CommandKey"] != "k2" {
				t.Fatalf("Boot! %v", boot.GetParams())
			}
			h.runUntil(func() bool { return h.hasEvent(EvConfirmed) }, time.Minute)
			if !h.hasEvent(EvConfirmed) {
				t.Fatalf("not confirmed:\n%s", h.eventLog())
			}
			v := h.get("Device.DeviceInfo.")
			active := v["Device.DeviceInfo.ActiveFirmwareImage"]
			if v["Device.DeviceInfo.SoftwareVersion"] != "2.0.0" || v[active+".Version"] != "2.0.0" || v[active+".Status"] != "Active" {
				t.Fatalf("after update: %v", v)
			}
			// MCUboot swaps the new image into the primary slot (row 1).
			want := newRow
			if board == "mcuboot-nrf52" {
				want = "Device.DeviceInfo.FirmwareImage.1"
			}
			if active != want || v["Device.DeviceInfo.BootFirmwareImage"] != want {
				t.Fatalf("ActiveFirmwareImage %s BootFirmwareImage %s, want %s", active, v["Device.DeviceInfo.BootFirmwareImage"], want)
			}
			// A plain reboot stays on the confirmed image.
			mark = len(h.msgs)
			h.operate("Device.Reboot()", "r1")
			boot = h.waitEvent("Boot!", mark, 1, 5*time.Minute)[0]
			if boot.GetParams()["FirmwareUpdated"] != "false" || h.value("Device.DeviceInfo.SoftwareVersion") != "2.0.0" {
				t.Fatalf("after reboot: %v", boot.GetParams())
			}
			h.checkMsgIDs()
		})
	}
}

// F3 — delayed upgrade, procedure A: BootFirmwareImage + Reboot().
func TestF3_BootFirmwareImageAndReboot(t *testing.T) {
	for _, board := range abBoards {
		t.Run(board, func(t *testing.T) {
			h := newHarness(t, board, nil).boot()
			h.standardSubs()
			h.serve(fwURL, fwImage(board, "2.0.0", 0))
			mark := len(h.msgs)
			h.operate(newRow+".Download()", "k1", "URL", fwURL, "AutoActivate", "false")
			h.runUntil(func() bool { return len(h.events_("TransferComplete!", mark)) == 1 }, time.Minute)
			h.run(time.Minute)
			if len(h.events_("Boot!", mark)) != 0 {
				t.Fatal("rebooted without AutoActivate")
			}
			if st, av := h.value(newRow+".Status"), h.value(newRow+".Available"); st != "Available" || av != "true" {
				t.Fatalf("row 2 %s %s", st, av)
			}
			resp := h.set("Device.DeviceInfo.", true, "BootFirmwareImage", newRow)
			res := resp.GetBody().GetResponse().GetSetResp().GetUpdatedObjResults()
			if len(res) != 1 || res[0].GetOperStatus().GetOperSuccess().GetUpdatedInstResults()[0].GetUpdatedParams()["BootFirmwareImage"] != newRow {
				t.Fatalf("SetResp %v", resp)
			}
			mark = len(h.msgs)
			r := h.operate("Device.Reboot()", "k3")
			if r.GetReqOutputArgs() == nil {
				t.Fatalf("Reboot() answer %v", r)
			}
			p := h.waitEvent("Boot!", mark, 1, 5*time.Minute)[0].GetParams()
			if p["CommandKey"] != "k3" || p["Cause"] != "RemoteReboot" || p["FirmwareUpdated"] != "true" {
				t.Fatalf("Boot! %v", p)
			}
			h.runUntil(func() bool { return h.hasEvent(EvConfirmed) }, time.Minute)
			v := h.get("Device.DeviceInfo.")
			if v["Device.DeviceInfo.SoftwareVersion"] != "2.0.0" || v["Device.DeviceInfo.ActiveFirmwareImage"] != v["Device.DeviceInfo.BootFirmwareImage"] {
				t.Fatalf("after procedure A: %v", v)
			}
		})
	}
}

// F4 — procedure B: Activate() with an Immediately or AnyTime window.
func TestF4_ActivateTimeWindow(t *testing.T) {
	cases := []struct{ mode, start, end string }{{"Immediately", "1", "100"}, {"AnyTime", "0", "120"}, {"WhenIdle", "5", "60"}}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			h := newHarness(t, "uboot-nor", nil).boot()
			h.standardSubs()
			h.subscribe("act", "OperationComplete", "Device.DeviceInfo.FirmwareImage.*.Activate()", false, false)
			h.serve(fwURL, fwImage("uboot-nor", "2.0.0", 0))
			mark := len(h.msgs)
			h.operate(newRow+".Download()", "k1", "URL", fwURL)
			h.runUntil(func() bool { return len(h.events_("TransferComplete!", mark)) == 1 }, time.Minute)
			mark = len(h.msgs)
			start := h.now
			r := h.operate(newRow+".Activate()", "k4", "TimeWindow.1.Start", c.start, "TimeWindow.1.End", c.end, "TimeWindow.1.Mode", c.mode)
			if r.GetReqObjPath() == "" {
				t.Fatalf("Activate() answer %v", r)
			}
			p := h.waitEvent("Boot!", mark, 1, 5*time.Minute)[0].GetParams()
			oc := h.operComplete("Activate()", mark)
			if len(oc) < 1 || oc[0].GetReqOutputArgs() == nil || oc[0].GetCommandKey() != "k4" {
				t.Fatalf("OperationComplete %v", oc)
			}
			// OperationComplete came before the reboot: before the Boot!.
			var ocAt, bootAt int
			for i, m := range h.msgs[mark:] {
				n := m.GetBody().GetRequest().GetNotify()
				if n.GetOperComplete().GetCommandName() == "Activate()" && ocAt == 0 {
					ocAt = i + 1
				}
				if n.GetEvent().GetEventName() == "Boot!" {
					bootAt = i + 1
				}
			}
			if ocAt == 0 || ocAt > bootAt {
				t.Fatalf("OperationComplete at %d, Boot! at %d", ocAt, bootAt)
			}
			if p["FirmwareUpdated"] != "true" || p["CommandKey"] != "k4" {
				t.Fatalf("Boot! %v", p)
			}
			var act time.Time
			for _, e := range h.events {
				if e.Kind == EvActivate {
					act = e.At
				}
			}
			if lim := map[string]time.Duration{"Immediately": 5 * time.Second, "AnyTime": 2 * time.Minute, "WhenIdle": time.Minute}[c.mode]; act.Sub(start) > lim {
				t.Fatalf("activated after %s", act.Sub(start))
			}
			if h.value("Device.DeviceInfo.SoftwareVersion") != "2.0.0" {
				t.Fatal("not updated")
			}
		})
	}
	t.Run("ConfirmationNeeded-unanswered", func(t *testing.T) {
		h := newHarness(t, "uboot-nor", func(c *Config) { c.User = &User{Answer: UserSilent} }).boot()
		h.standardSubs()
		h.serve(fwURL, fwImage("uboot-nor", "2.0.0", 0))
		mark := len(h.msgs)
		h.operate(newRow+".Download()", "k1", "URL", fwURL)
		h.runUntil(func() bool { return len(h.events_("TransferComplete!", mark)) == 1 }, time.Minute)
		mark = len(h.msgs)
		h.operate(newRow+".Activate()", "k5", "TimeWindow.1.Start", "0", "TimeWindow.1.End", "60", "TimeWindow.1.Mode", "ConfirmationNeeded")
		h.run(5 * time.Minute)
		oc := h.operComplete("Activate()", mark)
		if len(oc) != 1 || oc[0].GetCmdFailure().GetErrCode() != 7022 || len(h.events_("Boot!", mark)) != 0 {
			t.Fatalf("OperationComplete %v", oc)
		}
	})
}

// F5 — cancel a pending activation (TP-469 9.8): 7023, no Boot!.
func TestF5_CancelActivation(t *testing.T) {
	h := newHarness(t, "uboot-nor", nil).boot()
	h.standardSubs()
	h.serve(fwURL, fwImage("uboot-nor", "2.0.0", 0))
	mark := len(h.msgs)
	h.operate(newRow+".Download()", "k1", "URL", fwURL)
	h.runUntil(func() bool { return len(h.events_("TransferComplete!", mark)) == 1 }, time.Minute)
	mark = len(h.msgs)
	r := h.operate(newRow+".Activate()", "k5", "TimeWindow.1.Start", "120", "TimeWindow.1.End", "500", "TimeWindow.1.Mode", "AnyTime")
	req := r.GetReqObjPath()
	if req == "" {
		t.Fatalf("Activate() answer %v", r)
	}
	if c := h.operate(req+"Cancel()", ""); c.GetReqOutputArgs() == nil {
		t.Fatalf("Cancel() answer %v", c)
	}
	h.run(500 * time.Second)
	oc := h.operComplete("Activate()", mark)
	if len(oc) != 1 || oc[0].GetCmdFailure().GetErrCode() != 7023 {
		t.Fatalf("OperationComplete %v", oc)
	}
	if len(h.events_("Boot!", mark)) != 0 || h.hasEvent(EvReboot) {
		t.Fatal("rebooted after the cancel")
	}
	resp := h.request(usp.NewRequest(h.nextID(), &pb.Get{ParamPaths: []string{req}}))
	if rr := resp.GetBody().GetResponse().GetGetResp().GetReqPathResults()[0]; len(rr.GetResolvedPathResults()) != 0 {
		t.Fatalf("Request row still there: %v", rr)
	}
}

// F6 — checksum failure (TP-469 9.6, AutoActivate omitted).
func TestF6_ChecksumValidationFailed(t *testing.T) {
	h := newHarness(t, "esp32-ota", nil).boot()
	h.standardSubs()
	h.serve(fwURL, fwImage("esp32-ota", "2.0.0", 0))
	mark := len(h.msgs)
	h.operate(newRow+".Download()", "k6", "URL", fwURL, "CheckSumAlgorithm", "SHA-1", "CheckSum", strings.Repeat("ab", 20))
	tc := h.waitEvent("TransferComplete!", mark, 1, time.Minute)[0].GetParams()
	if tc["FaultCode"] == "0" || tc["FaultString"] == "" || tc["CheckSumAlgorithm"] != "SHA-1" {
		t.Fatalf("TransferComplete %v", tc)
	}
	if oc := h.operComplete("Download()", mark); len(oc) != 1 || oc[0].GetCmdFailure() == nil {
		t.Fatalf("OperationComplete %v", oc)
	}
	if st := h.value(newRow + ".Status"); st != "ValidationFailed" {
		t.Fatalf("Status %s", st)
	}
}

// F7 — rollback after a bad image: the application fails its health
// check, the trial ends, the bootloader falls back.
func TestF7_Rollback(t *testing.T) {
	type variant struct {
		name    string
		flags   uint32
		cfg     func(*Config)
		partion bool // the controller is unreachable after the reboot
	}
	variants := []variant{
		{name: "image-health-fail", flags: image.FlagHealthFail},
		{name: "fault-health-fail", cfg: withFaults(faults.Faults{HealthFail: true})},
		{name: "unreachable", partion: true},
	}
	for _, board := range abBoards {
		for _, v := range variants {
			t.Run(board+"/"+v.name, func(t *testing.T) {
				h := newHarness(t, board, v.cfg).boot()
				h.standardSubs()
				h.serve(fwURL, fwImage(board, "2.0.0", v.flags))
				mark := len(h.msgs)
				h.operate(newRow+".Download()", "k7", "URL", fwURL, "AutoActivate", "true")
				if v.partion {
					h.runUntil(func() bool { return h.hasEvent(EvReboot) }, time.Minute)
					h.reachable = false
					h.runUntil(func() bool { return h.hasEvent(EvRolledBack) }, 10*time.Minute)
					h.reachable = true
				}
				n := 2
				if v.partion {
					n = 1 // the trial boot never reached the controller
				}
				boots := h.waitEvent("Boot!", mark, n, 20*time.Minute)
				if !v.partion && boots[0].GetParams()["FirmwareUpdated"] != "true" {
					t.Fatalf("trial Boot! %v", boots[0].GetParams())
				}
				last := boots[len(boots)-1].GetParams()
				if last["FirmwareUpdated"] != "false" || last["CommandKey"] != "k7" {
					t.Fatalf("Boot! after rollback %v\n%s", last, h.eventLog())
				}
				failed := newRow
				vals := h.get("Device.DeviceInfo.")
				if vals["Device.DeviceInfo.SoftwareVersion"] != "1.0.0" || vals["Device.DeviceInfo.ActiveFirmwareImage"] != "Device.DeviceInfo.FirmwareImage.1" {
					t.Fatalf("after rollback: %v", vals)
				}
				if vals[failed+".Status"] != "ActivationFailed" || vals[failed+".BootFailureLog"] == "" {
					t.Fatalf("failed row: %s %q", vals[failed+".Status"], vals[failed+".BootFailureLog"])
				}
				if vals["Device.DeviceInfo.BootFirmwareImage"] != failed {
					t.Fatalf("BootFirmwareImage %s, want it left at %s (T10)", vals["Device.DeviceInfo.BootFirmwareImage"], failed)
				}
				if h.hasEvent(EvConfirmed) {
					t.Fatal("a failing image confirmed itself")
				}
				h.checkMsgIDs()
				t.Logf("%s BootFailureLog: %s", board, vals[failed+".BootFailureLog"])
			})
		}
	}
}

// F8 — Boot! ParameterMap (TP-469 9.10).
func TestF8_ParameterMap(t *testing.T) {
	h := newHarness(t, "uboot-nor", nil).boot()
	h.subscribe("boot", "Event", "Device.Boot!", true, false)
	resp := h.add("Device.LocalAgent.Controller.1.BootParameter.", "Enable", "true", "ParameterName", "Device.DeviceInfo.BootFirmwareImage")
	if resp.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("Add BootParameter %v", resp)
	}
	h.add("Device.LocalAgent.Controller.1.BootParameter.", "Enable", "true", "ParameterName", "Device.DeviceInfo.FirmwareImage.*.Version")
	h.add("Device.LocalAgent.Controller.1.BootParameter.", "Enable", "false", "ParameterName", "Device.DeviceInfo.SerialNumber")
	mark := len(h.msgs)
	h.operate("Device.Reboot()", "k8", "Cause", "LocalReboot", "Reason", "maintenance")
	p := h.waitEvent("Boot!", mark, 1, 5*time.Minute)[0].GetParams()
	var pm map[string]string
	if err := json.Unmarshal([]byte(p["ParameterMap"]), &pm); err != nil {
		t.Fatalf("ParameterMap %q: %v", p["ParameterMap"], err)
	}
	if pm["Device.DeviceInfo.BootFirmwareImage"] != "Device.DeviceInfo.FirmwareImage.1" || pm["Device.DeviceInfo.FirmwareImage.1.Version"] != "1.0.0" {
		t.Fatalf("ParameterMap %v", pm)
	}
	if _, ok := pm["Device.DeviceInfo.SerialNumber"]; ok {
		t.Fatal("disabled BootParameter reported")
	}
	if p["Cause"] != "LocalReboot" || p["Reason"] != "maintenance" || p["CommandKey"] != "k8" {
		t.Fatalf("Boot! %v", p)
	}
}
