package agents

import (
	"brickyard/sim/fleet"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"brickyard/boards/profile"
	"brickyard/configs"
	"brickyard/mtp/certs"
	"brickyard/sim/device"
	"brickyard/sim/faults"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

const testCtrl = "proto::fleet-test-controller"

// builtins reads the built-in board profiles, as brickyard does.
func builtins(file string) (profile.Set, error) {
	return profile.Parse("configs/boards.yaml", configs.Boards(), profile.Loaders())
}

// defaults is the Config of the flags' defaults (configs/brickyard.yaml's
// fleet: section).
func defaults() Config {
	return Config{AgentTopic: "usp/agent/{eid}", ControllerTopic: "usp/controller/{eid}", MQTTVersion: "5", MQTTQoS: 1, AgentDest: "/queue/agent-{eid}",
		Devices: 1, Board: "uboot-nor", Version: "1.0.0", IDs: "os::00256D-SIM{n:06}", Serials: "SIM{n:06}", Seed: 1,
		ResponseTimeout: 30 * time.Second, DownloadTimeout: 10 * time.Minute, DownloadStall: time.Minute, Downloads: 256}
}

// --scenario takes the fleet section of a scenario (the built-in
// default's 400 uboot-nor, 300 mcuboot-nrf52 and 300 esp32-ota, its
// timings, faults and connect rate); what the user gives overrides it.
func TestResolve_Scenario(t *testing.T) {
	c := defaults()
	c.Scenario, c.IDs, c.Serials, c.DumpModel = "default", "x{n}", "s{n}", true
	sp, err := Resolve(c, func(name string) bool { return name == "seed" }, builtins)
	if err != nil {
		t.Fatal(err)
	}
	if sp.total() != 1000 || len(sp.boards) != 3 || sp.reboot != 2*time.Second || sp.trial != 8*time.Second ||
		len(sp.plan) == 0 || sp.connectRate != 400 || sp.name != "default" || sp.idPattern != "os::00256D-SIM{n:06}" {
		t.Fatalf("%+v", sp)
	}
}

// --unknown-controllers reaches every device's Config; a bad policy is
// refused with the flag's name.
func TestResolve_UnknownControllers(t *testing.T) {
	c := defaults()
	c.DumpModel, c.Unknown = true, "untrusted"
	sp, err := Resolve(c, func(string) bool { return false }, builtins)
	if err != nil {
		t.Fatal(err)
	}
	var dc device.Config
	sp.deviceConfig(0, "WebSocket")(1, &dc)
	if dc.Unknown != device.UntrustedUnknown {
		t.Fatalf("device policy %q", dc.Unknown)
	}
	c.Unknown = "welcome"
	if _, err := Resolve(c, func(string) bool { return false }, builtins); err == nil || !strings.HasPrefix(err.Error(), "--unknown-controllers: ") {
		t.Fatalf("err %v", err)
	}
}

// --device-certs makes a fleet CA for the run, written to --out for the
// controller to trust; the devices show their certificates' serials.
func TestResolve_DeviceCerts(t *testing.T) {
	c := defaults()
	c.WSURL, c.ControllerID, c.DeviceCerts, c.Out = "wss://127.0.0.1:1/usp", testCtrl, true, t.TempDir()
	sp, err := Resolve(c, func(name string) bool { return name == "ws-url" || name == "controller-id" }, builtins)
	if err != nil {
		t.Fatal(err)
	}
	p, err := sp.WriteDeviceCA(c.Out)
	if err != nil || filepath.Base(p) != DeviceCAFile {
		t.Fatalf("%s %v", p, err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(data)
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("%v", err)
	}
	var dc device.Config
	sp.deviceConfig(0, "WebSocket")(1, &dc)
	if dc.Cert == nil || dc.Cert.SerialNumber("x") != certs.SerialString("x") || dc.Cert.Issuer != "CN="+ca.Subject.CommonName {
		t.Fatalf("device certificate %+v", dc.Cert)
	}
	leaf, err := sp.ca.Certificate("os::00256D-SIM000001")
	if err != nil || leaf.Leaf.CheckSignatureFrom(ca) != nil {
		t.Fatalf("a device certificate not from the written CA: %v", err)
	}
}

func TestFleet_IDFormatAndMix(t *testing.T) {
	for pattern, want := range map[string]string{
		"os::00256D-SIM{n:06}": "os::00256D-SIM%06d",
		"x-{n}":                "x-%d",
		"a%b{n:03}c":           "a%%b%03dc",
	} {
		if got := idFormat(pattern); got != want {
			t.Errorf("idFormat(%q) = %q, want %q", pattern, got, want)
		}
	}
	mix, err := parseBoardsMix("uboot-nor=600, mcuboot-nrf52=400@2.1.0", "1.0.0")
	if err != nil || len(mix) != 2 || mix[0] != (boardCount{"uboot-nor", 600, "1.0.0", nil}) || mix[1] != (boardCount{"mcuboot-nrf52", 400, "2.1.0", nil}) {
		t.Fatalf("%v %v", mix, err)
	}
	sp := &Spec{boards: []boardCount{{"a", 5, "", nil}, {"b", 5, "", nil}}, shardK: 2, shardN: 3}
	if lo, hi := sp.shardRange(); lo != 3 || hi != 6 {
		t.Fatalf("shard 2/3 of 10: %d..%d", lo, hi)
	}
	if ouiOf("os::012abc-SIM{n}") != "012ABC" || ouiOf("proto::x{n}") != "" {
		t.Fatal("ouiOf")
	}
	var series []sampleAt
	t0 := time.Unix(0, 0)
	for i := range 10_000 {
		series = appendSample(series, sampleAt{at: t0.Add(time.Duration(i) * time.Second)})
	}
	if len(series) > 4*maxSamples || !series[0].at.Equal(t0) || series[len(series)-1].at != t0.Add(9999*time.Second) {
		t.Fatalf("%d samples, first %v, last %v", len(series), series[0].at, series[len(series)-1].at)
	}
	if th := thinSamples(series); len(th) != maxSamples {
		t.Fatalf("thinned to %d", len(th))
	}
}

// Nothing a controller sends may crash the fleet: traffic decodes any
// bytes as a Record, in either direction.
func FuzzTrafficRecord(f *testing.F) {
	codec := usp.Codec{LocalID: testCtrl}
	for _, m := range []*pb.Msg{
		usp.NewRequest("1", &pb.Get{ParamPaths: []string{"Device."}}),
		usp.NewResponse("2", &pb.NotifyResp{SubscriptionId: "s"}),
		usp.NewRequest("3", &pb.Notify{SendResp: true}),
		usp.ErrorMsg("4", usp.InvalidPathSyntax, nil),
	} {
		data, err := codec.Seal("os::00256D-SIM000001", m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, true)
		f.Add(data, false)
	}
	f.Add([]byte{0x0a, 0xff}, true)
	f.Fuzz(func(t *testing.T, rec []byte, in bool) {
		tr := newTraffic(testCtrl, time.Second, zap.NewNop(), nil)
		tr.record("os::00256D-SIM000001", in, rec, time.Now())
		tr.record("os::00256D-SIM000001", !in, rec, time.Now().Add(time.Millisecond))
		tr.sweep(time.Now().Add(time.Hour))
		if st := tr.stats(); st.in+st.out != 2 {
			t.Fatalf("%+v", st)
		}
	})
}

// A fault file (--faults) is user input: any bytes give a plan or an error
// naming the file, and a plan that parses assigns over a fleet without a
// panic (a .nan share once panicked faults.pick).
func FuzzFaultFile(f *testing.F) {
	f.Add([]byte("- kind: power-during-install\n  share: 0.03\n  torn: true\n"))
	f.Add([]byte("- {kind: net-partition, share: 0.1, after: 5m, duration: 2m}\n- {kind: download-slow, share: 1, rate: 1000}\n"))
	f.Add([]byte("- kind: health-fail\n  share: .nan\n"))
	f.Add([]byte("- kind: net-drop\n  devices: [a, b]\n  drop: 1\n  duration: 1h\n"))
	f.Add([]byte("kind: x\n"))
	fleet := make([]faults.Device, 50)
	for i := range fleet {
		fleet[i] = faults.Device{ID: fmt.Sprintf("os::00256D-SIM%06d", i+1), Board: []string{"uboot-nor", "esp32-ota"}[i%2], Wave: 1 + i%3}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		plan, err := parseFaults("f.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "f.yaml") {
				t.Fatalf("error without the file's name: %v", err)
			}
			return
		}
		if _, err := faults.Assign(plan, fleet, 1); err != nil {
			t.Fatalf("a validated plan did not assign: %v", err)
		}
	})
}

func TestParseRamp(t *testing.T) {
	for in, want := range map[string]fleet.Ramp{"500/1m": {Step: 500, Every: time.Minute}, " 1 / 250ms ": {Step: 1, Every: 250 * time.Millisecond}} {
		if got, err := parseRamp(in); err != nil || got != want {
			t.Errorf("%q: %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "500", "0/1m", "-5/1m", "x/1m", "5/0s", "5/-1s", "5/forever", "5/9000h", "99999999999/1m", "NaN/1m"} {
		if _, err := parseRamp(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseDiurnal(t *testing.T) {
	for in, want := range map[string]fleet.Diurnal{
		"0.4@3h":           {Period: 24 * time.Hour, Low: 0.4, LowAt: 3 * time.Hour},
		"0@0s/1h":          {Period: time.Hour, Low: 0, LowAt: 0},
		" 0.9 @ 20m / 2h ": {Period: 2 * time.Hour, Low: 0.9, LowAt: 20 * time.Minute},
	} {
		if got, err := parseDiurnal(in); err != nil || got != want {
			t.Errorf("%q: %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "0.4", "x@3h", "0.4@x", "1@3h", "-0.1@3h", "NaN@3h", "Inf@3h", "0.4@25h", "0.4@-1h", "0.4@3h/0s", "0.4@3h/9000h", "0.4@3h/x"} {
		if _, err := parseDiurnal(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
