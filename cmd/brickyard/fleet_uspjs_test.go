package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"brickyard/boards/image"
	"brickyard/mtp/mqtt"
	"brickyard/mtp/mtptest"
	"brickyard/scenarios/report"
)

// The end-to-end test of `brickyard fleet` (issue 7): usp-js 0.5.1, a
// third-party USP Controller (npm; mtp/mtptest/uspjs), drives a fleet of
// three devices (two uboot-nor, one mcuboot-nrf52) started with
// `brickyard fleet --mqtt` through Debian's mosquitto. For each device it
// subscribes to Boot!, Gets Device.DeviceInfo., Download()s a 2.0.0 image
// signed with the fleet's key (--write-key, then `brickyard image pack`)
// from a loopback HTTP server with Basic authentication, Activate()s it and
// waits for the Boot! with FirmwareUpdated true. Then the fleet is
// interrupted and its report.json must agree with what usp-js saw: the
// outcomes and versions, the messages by type, the timelines.
//
// usp-js speaks MQTT 3.1.1 and addresses one agent per driver run. With
// MQTT 5 agents every device publishes to the one controller topic, so the
// drivers run one after the other; MQTT 3.1.1 agents name their own topic
// in a reply-to suffix of the topic they publish to, so each driver
// subscribes to its device's topic alone and the three run at once.
func TestFleetUSPJS(t *testing.T) {
	mtptest.USPJS(t)                                                // fail early, before any broker starts, when usp-js is missing
	ctx, cancel := context.WithTimeout(t.Context(), 75*time.Second) // both runs, their hangs included
	defer cancel()
	for _, v := range []string{"5", "3.1.1"} {
		t.Run("agent-mqtt"+v, func(t *testing.T) { testFleetUSPJS(t, ctx, v) })
	}
}

const (
	fuCtrl      = "proto::uspjs-fleet"   // usp-js's endpoint ID: the fleet's --controller-id
	fuCtrlTopic = "usp/controller/{eid}" // --controller-topic
	fuAgentTop  = "usp/agent/{eid}"      // --agent-topic
	fuSeed      = "7"
	fuUser      = "fw"
	fuPass      = "s3cret"
	fuFW2       = "Device.DeviceInfo.FirmwareImage.2."
)

// fuBoards is the fleet (--boards-mix uboot-nor=2,mcuboot-nrf52=1): device
// n's board is fuBoards[n-1].
var fuBoards = []string{"uboot-nor", "uboot-nor", "mcuboot-nrf52"}

func fuID(n int) string     { return fmt.Sprintf("os::012345-USPJS%03d", n) } // --ids os::012345-USPJS{n:03}
func fuSerial(n int) string { return fmt.Sprintf("BY-%04d", n) }              // --serials BY-{n:04}

// fuImage is one signed 2.0.0 image the firmware server offers.
type fuImage struct {
	data []byte
	sum  string // SHA-256, hex
	hdr  image.Header
}

func testFleetUSPJS(t *testing.T, ctx context.Context, mqttVersion string) {
	noLeaks(t) // registered first: checked after every other cleanup
	clearEnv(t)
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 35*time.Second)
	defer cancel()
	broker := mtptest.StartMosquitto(t)
	dir := t.TempDir()

	// The fleet's signing key, as docs/fleet.md says to get it, and one
	// 2.0.0 image per board signed with it by `brickyard image pack`.
	keyFile := filepath.Join(dir, "fleet.key.pem")
	if out, errOut, code := runBrickyard(t, nil, "fleet", "--dump-model", "--seed", fuSeed, "--write-key", keyFile); code != 0 {
		t.Fatalf("fleet --write-key: code %d\n%s\n%s", code, out, errOut)
	}
	images := map[string]fuImage{}
	for _, b := range fuBoards {
		if _, ok := images[b]; ok {
			continue
		}
		file := filepath.Join(dir, b+"-2.0.0.img")
		if out, errOut, code := runBrickyard(t, nil, "image", "pack", "--key", keyFile, "--board", b, "--version", "2.0.0",
			"--size", "40KiB", "--out", file); code != 0 {
			t.Fatalf("image pack: code %d\n%s\n%s", code, out, errOut)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		h, err := image.ParseHeader(data)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		images[b] = fuImage{data: data, sum: hex.EncodeToString(sum[:]), hdr: h}
	}

	// The firmware server: loopback only, Basic authentication.
	var mu sync.Mutex
	fetches := map[string]int{} // path → authorised GETs served
	refused := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != fuUser || p != fuPass {
			mu.Lock()
			refused++
			mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Basic realm="fw"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		board, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/2.0.0.img")
		img, found := images[board]
		if !ok || !found || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		fetches[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(img.data)
	}))
	defer srv.Close()
	if host, _, _ := net.SplitHostPort(srv.Listener.Addr().String()); host != "127.0.0.1" {
		t.Fatalf("the firmware server listens on %s, not loopback", srv.Listener.Addr())
	}

	// A watcher on the controller topic, subscribed before the fleet
	// starts: each device's mqtt_connect Record (published once it has
	// subscribed to its own topic) says it is ready for usp-js. It leaves
	// before usp-js comes.
	watch, err := mqtt.NewListener(mqtt.Config{Broker: "tcp://" + broker, ControllerID: fuCtrl, ControllerTopic: fuCtrlTopic,
		ClientID: "fleet-uspjs-watch", DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()

	// brickyard fleet, as a user runs it, until interrupted.
	outDir := filepath.Join(dir, "out")
	args := []string{"fleet", "--mqtt", broker, "--mqtt-version", mqttVersion, "--controller-id", fuCtrl,
		"--agent-topic", fuAgentTop, "--controller-topic", fuCtrlTopic,
		"--boards-mix", "uboot-nor=2,mcuboot-nrf52=1", "--ids", "os::012345-USPJS{n:03}", "--serials", "BY-{n:04}",
		"--seed", fuSeed, "--reboot", "300ms", "--out", outDir, "--quiet",
		// Onboarded: the messages the fleet counts are those usp-js sent or
		// received (an OnBoardRequest at the first contact would reach the
		// watcher instead; sim/fleet's TestUSPJS has usp-js answer them).
		"--onboarded"}
	fleetCtx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	var fleetOut, fleetErr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(fleetCtx, args, &fleetOut, &fleetErr) }()
	exited := false
	stopFleet := func() int {
		t.Helper()
		interrupt()
		select {
		case code := <-done:
			exited = true
			return code
		case <-time.After(15 * time.Second):
			t.Error("brickyard fleet did not stop within 15 s of the interrupt")
			return -1
		}
	}
	defer func() {
		if !exited {
			code := stopFleet()
			t.Logf("brickyard fleet: code %d\nstdout:\n%s\nstderr:\n%s", code, fleetOut.String(), fleetErr.String())
		}
	}()

	readyCtx, readyDone := context.WithTimeout(ctx, 15*time.Second)
	ready := map[string]bool{}
	for len(ready) < len(fuBoards) {
		c, err := watch.Accept(readyCtx)
		if err != nil {
			readyDone()
			t.Fatalf("%d of %d devices announced themselves on the controller topic (%v): %v", len(ready), len(fuBoards), err, ready)
		}
		ready[c.Info().Peer] = true
		c.Close()
	}
	readyDone()
	watch.Close()
	for n := 1; n <= len(fuBoards); n++ {
		if !ready[fuID(n)] {
			t.Fatalf("devices %v announced themselves; %s is not among them (--ids)", ready, fuID(n))
		}
	}
	t.Logf("%d devices connected to mosquitto in %v", len(ready), time.Since(start).Round(time.Millisecond))

	// usp-js, one driver run per device.
	host, port, _ := net.SplitHostPort(broker)
	portN, _ := strconv.Atoi(port)
	plan := func(n int, sub string) mtptest.USPJSPlan {
		id, board := fuID(n), fuBoards[n-1]
		img := images[board]
		return mtptest.USPJSPlan{
			Host: host, Port: portN, ToID: id, FromID: fuCtrl,
			PublishEndpoint: "usp/agent/" + id, SubscribeEndpoint: sub,
			StepTimeoutMs: 10000, TotalTimeoutMs: 25000,
			Steps: []mtptest.USPJSStep{
				// Persistent, so that it outlives the reboot it reports.
				{"name": "subscribe-boot", "op": "subscribe", "id": fmt.Sprintf("boot-%d", n), "notif": "Event", "reference": "Device.Boot!", "persist": true},
				{"name": "get-info", "op": "get", "paths": "Device.DeviceInfo."},
				{"name": "download", "op": "operate", "path": fuFW2 + "Download()", "commandKey": fmt.Sprintf("dl-%d", n), "timeoutMs": 15000,
					"input": map[string]any{
						"URL": srv.URL + "/" + board + "/2.0.0.img", "AutoActivate": "false",
						"Username": fuUser, "Password": fuPass, "FileSize": strconv.Itoa(len(img.data)),
						"CheckSumAlgorithm": "SHA-256", "CheckSum": img.sum,
					}},
				{"name": "get-fw2", "op": "get", "paths": fuFW2},
				// usp-js's OperationComplete subscription would be Deleted
				// while the device reboots: no cleanup (README quirk 6).
				{"name": "activate", "op": "operate", "path": fuFW2 + "Activate()", "commandKey": fmt.Sprintf("act-%d", n), "cleanup": false,
					"input": map[string]any{"TimeWindow.1.Start": "0", "TimeWindow.1.End": "3600", "TimeWindow.1.Mode": "AnyTime"}},
				{"name": "boot", "op": "waitFor", "subscription": fmt.Sprintf("boot-%d", n), "timeoutMs": 15000},
				{"name": "get-after", "op": "get", "paths": "Device.DeviceInfo.SoftwareVersion"},
			},
		}
	}
	results := make([][]mtptest.USPJSResult, len(fuBoards)+1) // by device number
	if mqttVersion == "5" {
		// One controller topic for all: one driver at a time.
		ctrlTopic := strings.ReplaceAll(fuCtrlTopic, "{eid}", fuCtrl)
		for n := 1; n <= len(fuBoards); n++ {
			results[n] = mtptest.RunUSPJS(t, ctx, plan(n, ctrlTopic))
		}
	} else {
		// The topic each 3.1.1 agent publishes to: the controller topic
		// with the agent's own topic as reply-to suffix (mtp/mqtt/doc.go).
		t.Run("drivers", func(t *testing.T) {
			for n := 1; n <= len(fuBoards); n++ {
				t.Run(fuID(n), func(t *testing.T) {
					t.Parallel()
					own := strings.ReplaceAll(fuAgentTop, "{eid}", fuID(n))
					sub := strings.ReplaceAll(fuCtrlTopic, "{eid}", fuCtrl) + "/reply-to=" + strings.ReplaceAll(own, "/", "%2F")
					results[n] = mtptest.RunUSPJS(t, ctx, plan(n, sub))
				})
			}
		})
		if t.Failed() {
			t.FailNow()
		}
	}
	drove := time.Since(start)

	// What usp-js saw, device by device.
	var seen fuSeen
	for n := 1; n <= len(fuBoards); n++ {
		seen.add(checkUSPJSDevice(t, n, results[n], images[fuBoards[n-1]]))
	}
	mu.Lock()
	for _, b := range []string{"uboot-nor", "mcuboot-nrf52"} {
		want := strings.Count(strings.Join(fuBoards, " "), b) // uboot-nor 2, mcuboot-nrf52 1
		if got := fetches["/"+b+"/2.0.0.img"]; got != want {
			t.Errorf("the firmware server served %s's image %d times, want %d (one per device)", b, got, want)
		}
	}
	if refused != 0 {
		t.Errorf("the firmware server refused %d requests without the Download()'s credentials", refused)
	}
	mu.Unlock()
	if t.Failed() {
		t.FailNow()
	}

	// Interrupt the fleet: exit status 0, the summary and the reports.
	if code := stopFleet(); code != 0 {
		t.Fatalf("brickyard fleet exited %d after the interrupt, want 0\nstdout:\n%s\nstderr:\n%s", code, fleetOut.String(), fleetErr.String())
	}
	out, errOut := fleetOut.String(), fleetErr.String()
	t.Logf("brickyard fleet stdout:\n%s", out)
	t.Logf("brickyard fleet stderr:\n%s", errOut)
	want := []string{
		fmt.Sprintf("fleet: %d devices against tcp://%s over MQTT (controller %s), seed %s,", len(fuBoards), broker, fuCtrl, fuSeed),
		"interrupted",
		fmt.Sprintf("messages the devices received (%d requests): ", seen.requests()),
		filepath.Join(outDir, "report.json"),
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("the summary lacks %q:\n%s", w, out)
		}
	}
	// The devices saw nothing wrong: no warning (dial failures, lost
	// sessions, Errors, unanswered Notifies, foreign Records).
	for line := range strings.Lines(errOut) {
		if !strings.HasPrefix(line, `{"level":"info"`) && !strings.HasPrefix(line, `{"level":"debug"`) {
			t.Errorf("the fleet logged: %s", line)
		}
	}
	// The key the devices trust is the one the image was signed with.
	kid := images["uboot-nor"].hdr.KeyID
	keyID := hex.EncodeToString(kid[:])
	if !strings.Contains(errOut, `"key_id":"`+keyID+`"`) {
		t.Errorf("the fleet's log does not name signing key %s:\n%s", keyID, errOut)
	}
	checkFleetUSPJSReport(t, readReport(t, outDir), &seen)
	t.Logf("agent MQTT %s: devices driven in %v, whole test %v", mqttVersion, drove.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// fuSeen is what usp-js sent and received, summed over the devices.
type fuSeen struct {
	gets, adds, deletes, operates int // requests it sent
	notifyResps                   int // NotifyResps it sent: one per Notify asking for one
	notifies                      int // Notifies it received
	disconnects, connects         int // DisconnectRecords, MTP connect Records (kept from usp-js by the driver)
}

func (s *fuSeen) add(o fuSeen) {
	s.gets += o.gets
	s.adds += o.adds
	s.deletes += o.deletes
	s.operates += o.operates
	s.notifyResps += o.notifyResps
	s.notifies += o.notifies
	s.disconnects += o.disconnects
	s.connects += o.connects
}

func (s *fuSeen) requests() int { return s.gets + s.adds + s.deletes + s.operates }

// uspjsNotify is a Notify as the driver prints it (protobufjs's JSON).
type uspjsNotify struct {
	SubscriptionID string `json:"subscriptionId"`
	SendResp       bool   `json:"sendResp"`
	Event          struct {
		ObjPath   string            `json:"objPath"`
		EventName string            `json:"eventName"`
		Params    map[string]string `json:"params"`
	} `json:"event"`
	OperComplete struct {
		ObjPath     string         `json:"objPath"`
		CommandName string         `json:"commandName"`
		CommandKey  string         `json:"commandKey"`
		CmdFailure  map[string]any `json:"cmdFailure"`
	} `json:"operComplete"`
}

// uspjsOperate is an async operate step's result.
type uspjsOperate struct {
	OperateResp struct {
		OperationResults []struct {
			ExecutedCommand string `json:"executedCommand"`
			ReqObjPath      string `json:"reqObjPath"`
		} `json:"operationResults"`
	} `json:"operateResp"`
	Notify uspjsNotify `json:"notify"`
}

// checkUSPJSDevice checks device n's steps as usp-js saw them and returns
// what usp-js sent it and received from it.
func checkUSPJSDevice(t *testing.T, n int, res []mtptest.USPJSResult, img fuImage) fuSeen {
	t.Helper()
	id, board := fuID(n), fuBoards[n-1]
	step := map[string]mtptest.USPJSResult{}
	var s fuSeen
	for _, r := range res {
		step[r.Step] = r
		t.Logf("%s %-15s ok=%-5v %7.1f ms  %s%s", id, r.Step, r.OK, r.Ms, r.Result, r.Error)
		for _, f := range r.Filtered {
			switch {
			case f["kind"] == "disconnect" && f["from"] == id && fmt.Sprint(f["reasonCode"]) == "7105":
				s.disconnects++
			case f["kind"] == "mqttConnect" && f["from"] == id:
				s.connects++
			default:
				t.Errorf("%s: step %s: the driver kept an unexpected record from usp-js: %v", id, r.Step, f)
			}
		}
	}
	ok := func(name string) mtptest.USPJSResult {
		t.Helper()
		r, found := step[name]
		if !found || !r.OK {
			t.Fatalf("%s: step %s failed: %s", id, name, r.Error)
		}
		return r
	}
	// The request usp-js sent for each step: subscribe is an Add; an async
	// operate Adds usp-js's OperationComplete subscription, Operates and,
	// with cleanup, Deletes the subscription.
	s.adds++ // subscribe-boot
	ok("subscribe-boot")

	var info map[string]any
	if err := ok("get-info").Decode(&info); err != nil {
		t.Fatal(err)
	}
	s.gets++
	for k, want := range map[string]string{"SoftwareVersion": "1.0.0", "SerialNumber": fuSerial(n), "ModelName": board,
		"ManufacturerOUI": "012345", "ActiveFirmwareImage": "Device.DeviceInfo.FirmwareImage.1"} {
		if got := info[k]; got != want {
			t.Errorf("%s: Get Device.DeviceInfo.%s = %v, want %q", id, k, got, want)
		}
	}

	var dl uspjsOperate
	if err := ok("download").Decode(&dl); err != nil {
		t.Fatal(err)
	}
	s.adds, s.operates, s.deletes, s.notifies = s.adds+1, s.operates+1, s.deletes+1, s.notifies+1
	if ors := dl.OperateResp.OperationResults; len(ors) != 1 || ors[0].ExecutedCommand != fuFW2+"Download()" ||
		!strings.HasPrefix(ors[0].ReqObjPath, "Device.LocalAgent.Request.") {
		t.Errorf("%s: Download() OperateResp = %+v", id, dl.OperateResp)
	}
	if oc := dl.Notify.OperComplete; oc.ObjPath != fuFW2 || oc.CommandName != "Download()" || oc.CommandKey != fmt.Sprintf("dl-%d", n) || oc.CmdFailure != nil {
		t.Errorf("%s: Download() OperationComplete = %+v", id, dl.Notify)
	}
	if dl.Notify.SendResp {
		s.notifyResps++ // usp-js answers a Notify that asks (none expected: its subscription has no NotifRetry)
	}

	var row map[string]any
	if err := ok("get-fw2").Decode(&row); err != nil {
		t.Fatal(err)
	}
	s.gets++
	if v := img.hdr.Version.String(); row["Status"] != "Available" || row["Version"] != v || row["Available"] != "true" {
		t.Errorf("%s: Get %s after Download() = %v, want Status Available, Version %s, Available true", id, fuFW2, row, v)
	}

	var act uspjsOperate
	if err := ok("activate").Decode(&act); err != nil {
		t.Fatal(err)
	}
	s.adds, s.operates, s.notifies = s.adds+1, s.operates+1, s.notifies+1 // no cleanup: no Delete
	if oc := act.Notify.OperComplete; oc.ObjPath != fuFW2 || oc.CommandName != "Activate()" || oc.CommandKey != fmt.Sprintf("act-%d", n) || oc.CmdFailure != nil {
		t.Errorf("%s: Activate() OperationComplete = %+v", id, act.Notify)
	}
	if act.Notify.SendResp {
		s.notifyResps++
	}

	var boot []struct {
		Notify uspjsNotify `json:"notify"`
	}
	if err := ok("boot").Decode(&boot); err != nil {
		t.Fatal(err)
	}
	if len(boot) != 1 {
		t.Fatalf("%s: %d Boot! notifications, want 1: %+v", id, len(boot), boot)
	}
	s.notifies++
	b := boot[0].Notify
	if b.SendResp {
		s.notifyResps++ // NotifRetry (the driver's default): usp-js answered it, which confirms the image on trial
	} else {
		t.Errorf("%s: Boot! to a NotifRetry subscription without send_resp", id)
	}
	if b.SubscriptionID != fmt.Sprintf("NOTIFY@boot-%d", n) || b.Event.ObjPath != "Device." || b.Event.EventName != "Boot!" {
		t.Errorf("%s: Boot! = %+v", id, b)
	}
	for k, want := range map[string]string{"Cause": "RemoteReboot", "CommandKey": fmt.Sprintf("act-%d", n), "FirmwareUpdated": "true"} {
		if got := b.Event.Params[k]; got != want {
			t.Errorf("%s: Boot! %s = %q, want %q", id, k, got, want)
		}
	}

	var after string
	if err := ok("get-after").Decode(&after); err != nil {
		t.Fatal(err)
	}
	s.gets++
	if after != "2.0.0" {
		t.Errorf("%s: Get Device.DeviceInfo.SoftwareVersion after the activation = %q, want 2.0.0", id, after)
	}
	if s.disconnects != 1 || s.connects != 1 {
		t.Errorf("%s: usp-js's driver kept %d DisconnectRecords (7105) and %d mqtt_connect Records, want one of each (the reboot)",
			id, s.disconnects, s.connects)
	}
	return s
}

// checkFleetUSPJSReport checks report.json against what usp-js saw.
func checkFleetUSPJSReport(t *testing.T, r *report.Report, seen *fuSeen) {
	t.Helper()
	ndev := len(fuBoards)
	if r.Scenario != "fleet" || r.Clock != "real" || r.MTP != "MQTT" || !r.Interrupted || r.Devices != ndev || len(r.Fleet) != ndev {
		t.Fatalf("report: scenario %q, clock %q, MTP %q, interrupted %v, %d devices, %d in fleet",
			r.Scenario, r.Clock, r.MTP, r.Interrupted, r.Devices, len(r.Fleet))
	}
	if s, _ := strconv.ParseUint(fuSeed, 10, 64); r.Seed != s {
		t.Errorf("report seed %d, want %d", r.Seed, s)
	}
	if countOf(r.Outcomes, "updated") != ndev {
		t.Errorf("outcomes %v, want %d updated", r.Outcomes, ndev)
	}
	for _, g := range r.ByBoard {
		want := strings.Count(strings.Join(fuBoards, " "), g.Name)
		if g.Devices != want || countOf(g.Outcomes, "updated") != want {
			t.Errorf("by board %s: %d devices, outcomes %v; want %d updated", g.Name, g.Devices, g.Outcomes, want)
		}
	}
	if len(r.ByBoard) != 2 {
		t.Errorf("by board: %v", r.ByBoard)
	}
	if len(r.ByWave) != 0 {
		t.Errorf("by wave: %v, want none", r.ByWave)
	}

	// Every message the devices saw is one usp-js sent or received, and
	// the other way round. (An MTP's connect Record is the transport's
	// own: the Observer does not see it.)
	wantMsgs := map[string]int{
		"received Get": seen.gets, "sent GetResp": seen.gets,
		"received Add": seen.adds, "sent AddResp": seen.adds,
		"received Delete": seen.deletes, "sent DeleteResp": seen.deletes,
		"received Operate": seen.operates, "sent OperateResp": seen.operates,
		"sent Notify": seen.notifies, "received NotifyResp": seen.notifyResps,
	}
	got := map[string]int{}
	for _, c := range r.Messages {
		got[c.Name] = c.N
	}
	for name, n := range wantMsgs {
		if got[name] != n {
			t.Errorf("messages %q: %d, want %d as usp-js sent or received them (%v)", name, got[name], n, r.Messages)
		}
	}
	// The devices' DisconnectRecords (R-MTP.7, before each reboot), which
	// usp-js received, are not Msgs: report.json may leave them out, but
	// if it counts them, it must count each one.
	if n, ok := got["sent DisconnectRecord"]; ok && n != seen.disconnects {
		t.Errorf(`messages "sent DisconnectRecord": %d, usp-js received %d`, n, seen.disconnects)
	}
	delete(got, "sent DisconnectRecord")
	for name, n := range got {
		if _, ok := wantMsgs[name]; !ok {
			t.Errorf("messages %q: %d, usp-js sent or received none (%v)", name, n, r.Messages)
		}
	}
	if seen.gets != 3*ndev || seen.operates != 2*ndev || seen.notifies != 3*ndev || seen.notifyResps != ndev {
		t.Errorf("usp-js: %+v", *seen)
	}
	// The controller's latency: the NotifyResps to the Boot!s, the only
	// device requests that asked for a response.
	if r.Latency.Count != seen.notifyResps || r.Latency.Max <= 0 || r.Latency.Max > 10 {
		t.Errorf("latency: %d answered requests, max %v s; want %d (usp-js's NotifyResps)", r.Latency.Count, r.Latency.Max, seen.notifyResps)
	}
	// Each reboot's new session is a reconnect; nothing else went wrong.
	if len(r.Errors) != 1 || countOf(r.Errors, "reconnects") != ndev {
		t.Errorf("errors %v, want only reconnects %d (one per reboot)", r.Errors, ndev)
	}
	if len(r.Progress) < 2 || countOf(r.Progress[len(r.Progress)-1].Outcomes, "updated") != ndev {
		t.Errorf("progress: %d samples, last %v", len(r.Progress), r.Progress[len(r.Progress)-1:])
	}

	// Every device: updated to 2.0.0 in two boots, its timeline the
	// update's milestones in order (sim/fleet/track.go), within the run.
	for i, d := range r.Fleet {
		n := i + 1
		if d.ID != fuID(n) || d.Board != fuBoards[i] || d.Outcome != "updated" || d.Version != "2.0.0" || d.Boots != 2 || d.Faults != "" || d.Seen != "" {
			t.Errorf("device %d: %+v; want %s, %s, updated to 2.0.0 in 2 boots, no faults", n, d, fuID(n), fuBoards[i])
		}
		var kinds []string
		last := report.Seconds(0)
		for _, s := range d.Timeline {
			kinds = append(kinds, s.Kind)
			if s.At < last || s.At > r.Duration {
				t.Errorf("%s: timeline step %s at %v s: out of order or outside the run (%v s)", d.ID, s.Kind, s.At, r.Duration)
			}
			last = s.At
		}
		// The first boot and session, then Download() with AutoActivate
		// false, then Activate(): the new image boots on trial and usp-js's
		// NotifyResp to Boot! confirms it.
		want := []string{"boot", "connected", "download-start", "downloaded", "install", "installed", "activate", "reboot", "boot", "trial", "connected", "confirmed"}
		if !slices.Equal(kinds, want) {
			t.Errorf("%s (%s): timeline %v, want %v", d.ID, d.Board, kinds, want)
		}
	}
}
