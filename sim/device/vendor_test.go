package device

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"brickyard/sim/model"
	"brickyard/usp"
	"brickyard/usp/dm"
	pb "brickyard/usp/uspmsg"
)

func acme(t testing.TB) *model.Model {
	t.Helper()
	data, err := os.ReadFile("../model/testdata/acme-gw.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestVendorModel: a vendor model file loaded, served, and matched by
// GetSupportedDM; values per device; writes kept; factory rows; a vendor
// async command.
func TestVendorModel(t *testing.T) {
	vm := acme(t)
	h := newHarness(t, "uboot-nor", func(c *Config) { c.Model = vm; c.SerialNumber = "GW0012345678" }).boot()
	v := h.get("Device.WiFi.")
	for p, want := range map[string]string{
		"Device.WiFi.RadioNumberOfEntries":           "2",
		"Device.WiFi.Radio.1.Name":                   "wlan1",
		"Device.WiFi.Radio.2.OperatingFrequencyBand": "5GHz",
		"Device.WiFi.SSID.1.SSID":                    "ACME-5678",
		"Device.WiFi.SSID.1.KeyPassphrase":           "", // secret
		"Device.WiFi.Radio.1.TransmitPower":          "100",
		"Device.WiFi.Radio.1.Stats.BytesSent":        "", // checked below
		"Device.WiFi.SSID.1.BSSID":                   h.d.macAddress(),
		"Device.WiFi.SSIDNumberOfEntries":            "1",
		"Device.WiFi.Radio.1.Alias":                  "cpe-1",
	} {
		if p == "Device.WiFi.Radio.1.Stats.BytesSent" {
			continue
		}
		if v[p] != want {
			t.Errorf("%s = %q, want %q", p, v[p], want)
		}
	}
	if !slices.Contains([]string{"US ", "EU ", "JP "}, v["Device.WiFi.Radio.1.RegulatoryDomain"]) {
		t.Errorf("RegulatoryDomain %q", v["Device.WiFi.Radio.1.RegulatoryDomain"])
	}
	// A counter moves with the clock.
	a := h.value("Device.WiFi.Radio.1.Stats.BytesSent")
	h.run(time.Minute)
	if b := h.value("Device.WiFi.Radio.1.Stats.BytesSent"); b <= a && len(b) <= len(a) {
		t.Errorf("BytesSent %s then %s a minute later", a, b)
	}
	// Writes are kept (the persistent table's across a reboot); the
	// non-persistent rows come back at boot.
	h.set("Device.WiFi.SSID.1.", true, "SSID", "home")
	h.set("Device.WiFi.Radio.2.", true, "Channel", "36")
	h.operate("Device.Reboot()", "")
	h.run(2 * time.Minute)
	if got := h.value("Device.WiFi.SSID.1.SSID"); got != "home" {
		t.Errorf("SSID after a reboot %q, want home", got)
	}
	if got := h.value("Device.WiFi.Radio.2.Channel"); got == "36" {
		t.Errorf("Radio.2.Channel kept across a reboot: a non-persistent row")
	}
	if got := h.value("Device.WiFi.RadioNumberOfEntries"); got != "2" {
		t.Errorf("RadioNumberOfEntries after a reboot %s", got)
	}

	// GetSupportedDM matches the file.
	resp := h.request(usp.NewRequest(h.nextID(), &pb.GetSupportedDM{ObjPaths: []string{"Device.WiFi.", "Device.X_ACME_Diagnostics."},
		ReturnCommands: true, ReturnEvents: true, ReturnParams: true}))
	got := map[string]*pb.GetSupportedDMResp_SupportedObjectResult{}
	for _, r := range resp.GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults() {
		if r.GetErrCode() != 0 {
			t.Fatalf("GSDM %s: %d %s", r.GetReqObjPath(), r.GetErrCode(), r.GetErrMsg())
		}
		for _, o := range r.GetSupportedObjs() {
			got[o.GetSupportedObjPath()] = o
		}
	}
	access := map[string]pb.GetSupportedDMResp_ParamAccessType{"": pb.GetSupportedDMResp_PARAM_READ_ONLY, "readOnly": pb.GetSupportedDMResp_PARAM_READ_ONLY,
		"readWrite": pb.GetSupportedDMResp_PARAM_READ_WRITE, "writeOnce": pb.GetSupportedDMResp_PARAM_READ_WRITE}
	for _, o := range vm.Objects {
		g := got[o.Path]
		if g == nil {
			t.Errorf("GSDM lacks %s", o.Path)
			continue
		}
		if g.GetIsMultiInstance() != strings.HasSuffix(o.Path, "{i}.") {
			t.Errorf("%s multi-instance %v", o.Path, g.GetIsMultiInstance())
		}
		params := map[string]*pb.GetSupportedDMResp_SupportedParamResult{}
		for _, p := range g.GetSupportedParams() {
			params[p.GetParamName()] = p
		}
		for _, p := range o.Params {
			gp := params[p.Name]
			if gp == nil || gp.GetAccess() != access[p.Access] || gp.GetValueType().String() != "PARAM_"+dmTypeName(p.Type) {
				t.Errorf("GSDM %s%s = %v, want access %s type %s", o.Path, p.Name, gp, p.Access, p.Type)
			}
		}
		for _, c := range o.Commands {
			ok := false
			for _, gc := range g.GetSupportedCommands() {
				if gc.GetCommandName() == c.Name && (gc.GetCommandType() == pb.GetSupportedDMResp_CMD_ASYNC) == c.Async &&
					slices.Equal(gc.GetOutputArgNames(), c.Out) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("GSDM %s%s: %v", o.Path, c.Name, g.GetSupportedCommands())
			}
		}
		for _, e := range o.Events {
			ok := false
			for _, ge := range g.GetSupportedEvents() {
				ok = ok || (ge.GetEventName() == e.Name && slices.Equal(ge.GetArgNames(), e.Args))
			}
			if !ok {
				t.Errorf("GSDM %s%s: %v", o.Path, e.Name, g.GetSupportedEvents())
			}
		}
	}

	// Commands: a sync one answers its outputs, an async one completes
	// after its duration with them.
	if r := h.operate("Device.X_ACME_Diagnostics.Ping()", "", "Host", "127.0.0.1"); r.GetReqOutputArgs().GetOutputArgs()["Status"] != "Complete" {
		t.Errorf("Ping() = %v", r)
	}
	if r := h.operate("Device.X_ACME_Diagnostics.Ping()", ""); r.GetCmdFailure().GetErrCode() != 7027 {
		t.Errorf("Ping() without its mandatory Host = %v, want 7027", r)
	}
	h.subscribe("scan", "OperationComplete", "Device.WiFi.Radio.*.Scan()", false, false)
	mark := len(h.msgs)
	start := h.now
	if r := h.operate("Device.WiFi.Radio.2.Scan()", "s1"); r.GetReqObjPath() == "" {
		t.Fatalf("Scan() = %v", r)
	}
	h.runUntil(func() bool { return len(h.operComplete("Scan()", mark)) > 0 }, time.Minute)
	oc := h.operComplete("Scan()", mark)
	if len(oc) != 1 || oc[0].GetReqOutputArgs().GetOutputArgs()["Result"] != "2 networks" || h.now.Sub(start) < 5*time.Second {
		t.Errorf("Scan() completed %v after %v", oc, h.now.Sub(start))
	}
}

func dmTypeName(t string) string {
	return map[string]string{"string": "STRING", "boolean": "BOOLEAN", "int": "INT", "unsignedInt": "UNSIGNED_INT", "long": "LONG",
		"unsignedLong": "UNSIGNED_LONG", "hexBinary": "HEX_BINARY", "base64": "BASE_64", "dateTime": "DATE_TIME", "decimal": "DECIMAL"}[t]
}

// TestVendorConflicts: a vendor model may extend the default model's
// objects but not redefine what it has.
func TestVendorConflicts(t *testing.T) {
	for _, c := range []struct{ name, file, want string }{
		{"a parameter of the default model", "objects: {Device.DeviceInfo.: {params: {SerialNumber: string}}}", "declared twice"},
		{"a command of the default model", "objects: {Device.: {commands: {Reboot(): {}}}}", "declared twice"},
		{"an object that is a table in the default model", "objects: {Device.DeviceInfo.FirmwareImage.: {}}", "table"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := model.Parse([]byte(c.file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = NewSchemaWith(m)
			if err == nil || !errors.Is(err, usp.InvalidConfiguration) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
	// Extending is fine.
	m, err := model.Parse([]byte("objects: {Device.DeviceInfo.: {params: {X_ACME_Region: {type: string, default: EU}}}}"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSchemaWith(m); err != nil {
		t.Fatal(err)
	}
	// A schema without the model refuses a device with it.
	if _, err := New(Config{EndpointID: agentID, ControllerID: ctrlID, Model: acme(t)}, factory(t, "uboot-nor").Clone(), schema(t)); err == nil {
		t.Error("New accepted a schema without the Config's vendor model")
	}
	var _ *dm.Schema
}
