package device

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"brickyard/sim/model"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

const dumpFile = "../model/testdata/dump-acme-gw.json"

// gsdmOf is the GetSupportedDM of paths, by supported object path.
func (h *harness) gsdmOf(paths ...string) (*pb.Msg, map[string]*pb.GetSupportedDMResp_SupportedObjectResult) {
	resp := h.request(usp.NewRequest(h.nextID(), &pb.GetSupportedDM{ObjPaths: paths, ReturnCommands: true, ReturnEvents: true, ReturnParams: true, ReturnUniqueKeySets: true}))
	out := map[string]*pb.GetSupportedDMResp_SupportedObjectResult{}
	for _, r := range resp.GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults() {
		for _, o := range r.GetSupportedObjs() {
			out[o.GetSupportedObjPath()] = o
		}
	}
	return resp, out
}

// TestImportedDump: a GetSupportedDM + Get dump captured from a device
// (testdata/dump-acme-gw.json: the ACME gateway of vendor_test.go, as a
// controller read it) imported as a vendor model and served by another
// device: GetSupportedDM matches the captured one object for object, and
// the values are the captured ones, its serial number made each device's.
func TestImportedDump(t *testing.T) {
	src := newHarness(t, "uboot-nor", func(c *Config) { c.Model = acme(t); c.SerialNumber = "GW0012345678" }).boot()
	gsdmMsg, want := src.gsdmOf("Device.")
	getMsg := src.request(usp.NewRequest(src.nextID(), &pb.Get{ParamPaths: []string{"Device."}}))
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i, m := range []*pb.Msg{gsdmMsg, getMsg} {
		b, err := protojson.MarshalOptions{Multiline: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var v any // re-indent deterministically
		json.Unmarshal(b, &v)
		b, _ = json.MarshalIndent(v, "", " ")
		buf.Write(b)
		if i == 0 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
	}
	buf.WriteString("]\n")
	if *update {
		os.WriteFile(dumpFile, buf.Bytes(), 0o644)
	}
	data, err := os.ReadFile(dumpFile)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	base, err := Base()
	if err != nil {
		t.Fatal(err)
	}
	m, notes, err := model.ImportDump(data, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		t.Log(n)
	}
	dst := newHarness(t, "esp32-ota", func(c *Config) { c.Model = m; c.SerialNumber = "OTHER0001" }).boot()
	_, got := dst.gsdmOf("Device.")
	for _, vo := range acme(t).Objects {
		w, g := want[vo.Path], got[vo.Path]
		if g == nil {
			t.Errorf("the imported model lacks %s", vo.Path)
			continue
		}
		w.DivergentPaths, g.DivergentPaths = nil, nil
		wb, _ := protojson.Marshal(w)
		gb, _ := protojson.Marshal(g)
		if !bytes.Equal(wb, gb) {
			t.Errorf("GetSupportedDM %s:\n got  %s\n want %s", vo.Path, gb, wb)
		}
	}
	// Nothing of the default model was taken (it is the device's own).
	for _, o := range m.Objects {
		if o.Path == "Device.DeviceInfo." || strings.HasPrefix(o.Path, "Device.LocalAgent.") {
			t.Errorf("imported %s, which the default model has", o.Path)
		}
	}
	v := dst.get("Device.WiFi.", "Device.X_ACME_Diagnostics.")
	sv := src.get("Device.WiFi.", "Device.X_ACME_Diagnostics.")
	for p, want := range sv {
		if strings.Contains(p, ".Stats.") || strings.HasSuffix(p, "KeyPassphrase") {
			continue // counters move; secrets read "" and were not captured
		}
		if got := v[p]; got != want {
			t.Errorf("%s = %q, want the captured %q", p, got, want)
		}
	}
	if n := dst.value("Device.WiFi.RadioNumberOfEntries"); n != "2" {
		t.Errorf("RadioNumberOfEntries %s", n)
	}
}
