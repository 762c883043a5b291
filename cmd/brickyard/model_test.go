package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"brickyard/sim/model"
)

// TestModel_ImportAndFleet: brickyard model import makes a vendor model
// of a dump and of TR-181 XML, model check reads it, and a fleet's
// devices present it (--model, a board profile's model:).
func TestModel_ImportAndFleet(t *testing.T) {
	dir := t.TempDir()
	imported := filepath.Join(dir, "gw.yaml")
	if out, errOut, code := runBrickyard(t, nil, "model", "import", "../../sim/model/testdata/dump-acme-gw.json", "-o", imported); code != 0 ||
		!strings.Contains(out, "5 objects, 18 parameters") {
		t.Fatalf("import: code %d %s %s", code, out, errOut)
	}
	if out, _, code := runBrickyard(t, nil, "model", "check", imported); code != 0 || !strings.Contains(out, "5 objects (2 tables, 3 factory rows), 18 parameters, 2 commands, 1 events") {
		t.Fatalf("check: code %d %s", code, out)
	}
	out, errOut, code := runBrickyard(t, nil, "fleet", "--devices", "1", "--dump-model", "--model", imported, "--serials", "GW{n:08}")
	if code != 0 {
		t.Fatalf("fleet --model: code %d %s", code, errOut)
	}
	for _, want := range []string{`Device.WiFi.Radio.2.OperatingFrequencyBand = "5GHz"`, `Device.WiFi.SSID.1.SSID = "ACME-5678"  (rw)`,
		"Device.WiFi.Radio.{i}.Scan()  async  in: Band  out: Result", "Device.WiFi.Radio.{i}.RadioReset!  args: Reason"} {
		if !strings.Contains(out, want) {
			t.Errorf("the fleet's model lacks %q", want)
		}
	}

	// TR-181 XML, a part of it, as a board profile's model.
	hosts := filepath.Join(dir, "hosts.yaml")
	if _, errOut, code := runBrickyard(t, nil, "model", "import", "../../sim/model/testdata/tr181-excerpt.xml", "--objects", "Device.Hosts.", "--instances", "2", "-o", hosts); code != 0 {
		t.Fatalf("import xml: %s", errOut)
	}
	boards := filepath.Join(dir, "boards.yaml")
	prof, err := os.ReadFile("../../configs/boards.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The built-in uboot-nor profile again, under another name, with the model.
	i := strings.Index(string(prof), "  uboot-nor:")
	j := strings.Index(string(prof)[i+1:], "\n  ") + i + 1
	for strings.HasPrefix(string(prof)[j+1:], "    ") || strings.HasPrefix(string(prof)[j+1:], "\n") {
		j = strings.Index(string(prof)[j+1:], "\n") + j + 1
	}
	entry := strings.Replace(string(prof)[i:j], "  uboot-nor:", "  acme-gw:\n    model: "+hosts, 1)
	if err := os.WriteFile(boards, []byte("boards:\n"+entry+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runBrickyard(t, nil, "fleet", "--devices", "1", "--dump-model", "--boards", boards, "--board", "acme-gw")
	if code != 0 {
		t.Fatalf("fleet with a profile's model: code %d %s", code, errOut)
	}
	for _, want := range []string{`Device.Hosts.Host.2.PhysAddress = "2"`, `Device.Hosts.HostNumberOfEntries = "2"`, "Device.Hosts.Diagnostics.Probe()  async  in: Target Count Filter.{i}.Port"} {
		if !strings.Contains(out, want) {
			t.Errorf("the profile's model lacks %q:\n%s", want, out)
		}
	}

	// A model whose Get of Device. passes a controller's 256 KiB Record is
	// still shown, and said so.
	big := filepath.Join(dir, "big.yaml")
	y, err := model.Synthetic(12000).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, y, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runBrickyard(t, nil, "fleet", "--devices", "1", "--dump-model", "--model", big)
	if code != 0 || !strings.Contains(out, "-byte Record: more than the 262144 a controller on brickyard's MTPs takes") {
		t.Errorf("a large model's dump: code %d %s %.300s", code, errOut, out)
	}

	// Bad files are named errors.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("objects: {Device.DeviceInfo.: {params: {SerialNumber: string}}}"), 0o644)
	for _, args := range [][]string{
		{"fleet", "--devices", "1", "--dump-model", "--model", bad},
		{"fleet", "--devices", "1", "--dump-model", "--model", filepath.Join(dir, "missing.yaml")},
		{"model", "check", bad},
		{"model", "import", imported}, // a YAML model is no dump
	} {
		if _, errOut, code := runBrickyard(t, nil, args...); code == 0 || errOut == "" || strings.Contains(errOut, "panic") {
			t.Errorf("%v: code %d, stderr %q", args, code, errOut)
		}
	}
}
