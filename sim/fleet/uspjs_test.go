package fleet_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"brickyard/boards/boardtest"
	"brickyard/mtp/mqtt"
	"brickyard/mtp/mtptest"
	"brickyard/sim/device"
	"brickyard/sim/fleet"
	"brickyard/sim/index"
)

// The interop test: usp-js 0.5.1, a third-party USP Controller (npm; see
// mtp/mtptest/uspjs), drives one brickyard agent of a real-time fleet
// through Debian's mosquitto: Get, Set (and the ValueChange it causes), a
// refused Set, GetSupportedDM, GetInstances, Add and Delete (and a refused
// one), a firmware Download() over loopback HTTP with Basic
// authentication (OperationComplete, TransferComplete!), then Activate():
// the agent's DisconnectRecord, its reboot, Boot!, and the new image
// confirmed. usp-js speaks MQTT 3.1.1 without a Response Topic, so the
// agent answers on its configured controller topic; it runs against an
// agent of each MQTT version.
func TestUSPJS(t *testing.T) {
	mtptest.USPJS(t) // fail early, before any broker starts, when usp-js is missing
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run("agent-mqtt"+v.String(), func(t *testing.T) { testUSPJS(t, v) })
	}
}

const (
	uspjsCtrlID  = "proto::uspjs"
	uspjsCtrlTop = "usp/controller/uspjs"
	uspjsSerial  = "USPJS0001"
	uspjsMaker   = "Brickyard Interop"
	uspjsBoard   = "uboot-nor"
	uspjsUser    = "fw"
	uspjsPass    = "s3cret"
)

func testUSPJS(t *testing.T, v mqtt.Version) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	uspjsCheckGoroutines(t) // registered first: runs after every other cleanup
	broker := mtptest.StartMosquitto(t)

	// The firmware server: Basic authentication, loopback only.
	img := boardtest.Image(boardtest.Spec{Board: uspjsBoard, Version: "2.0.0", PayloadSize: 9000})
	sum := sha256.Sum256(img)
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != uspjsUser || p != uspjsPass {
			w.Header().Set("WWW-Authenticate", `Basic realm="fw"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/"+uspjsBoard+"/2.0.0.img" {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		w.Write(img)
	}))
	defer srv.Close()

	factory, schema := fleet.Factory(t, uspjsBoard)
	dialer, err := mqtt.NewDialer(mqtt.Config{Broker: "tcp://" + broker, Version: v,
		ControllerID: uspjsCtrlID, ControllerTopic: uspjsCtrlTop, AgentTopic: "usp/agent/{eid}",
		DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := index.New()
	if err != nil {
		t.Fatal(err)
	}
	r, err := fleet.NewReal(fleet.RealConfig{
		Seed: 1, ControllerID: uspjsCtrlID, Schema: schema, Index: idx, Dialer: dialer,
		Boards:  []fleet.BoardGroup{{Name: uspjsBoard, Factory: factory, Count: 1}},
		Fetcher: &fleet.HTTPFetcher{Client: srv.Client()},
		Device: func(_ int, c *device.Config) {
			c.Manufacturer, c.SerialNumber, c.MTP = uspjsMaker, uspjsSerial, "MQTT"
			c.RebootDuration = 100 * time.Millisecond
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	agentID := r.ID(0)
	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- r.Run(runCtx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopRun()
			if err := <-ran; err != nil {
				t.Errorf("fleet run: %v", err)
			}
		}
	}
	defer stop()
	for idx.Count(index.ByConn, fleet.ConnConnected) != 1 {
		select {
		case <-ctx.Done():
			t.Fatalf("the agent did not connect to mosquitto: %v", idx.Counts(index.ByConn))
		case <-time.After(10 * time.Millisecond):
		}
	}

	host, port, _ := net.SplitHostPort(broker)
	portN, _ := strconv.Atoi(port)
	sub := uspjsCtrlTop
	if v == mqtt.V311 {
		// A 3.1.1 agent names its reply topic by suffixing the topic it
		// publishes to ("…/reply-to=…"): hear those too.
		sub += "/#"
	}
	const (
		interval = "Device.LocalAgent.Controller.1.PeriodicNotifInterval"
		fw2      = "Device.DeviceInfo.FirmwareImage.2."
	)
	plan := mtptest.USPJSPlan{
		Host: host, Port: portN, ToID: agentID, FromID: uspjsCtrlID,
		PublishEndpoint: "usp/agent/" + agentID, SubscribeEndpoint: sub,
		StepTimeoutMs: 10000, TotalTimeoutMs: 35000,
		Steps: []mtptest.USPJSStep{
			{"name": "get-info", "op": "get", "paths": "Device.DeviceInfo."},
			// Onboarding: the agent asked at its first contact (before
			// usp-js listened, so the broker dropped it; its retries may
			// still come); SendOnBoardRequest() asks again, usp-js answers
			// it, and OnBoardingComplete ends it.
			{"name": "send-onboard", "op": "operate", "path": "Device.LocalAgent.Controller.1.SendOnBoardRequest()", "async": false},
			{"name": "onboard", "op": "waitForOnBoard"},
			{"name": "onboarded", "op": "set", "path": "Device.LocalAgent.Controller.1.OnBoardingComplete", "value": "true"},
			{"name": "subscribe", "op": "subscribe", "id": "interval", "notif": "ValueChange", "reference": interval},
			{"name": "set", "op": "set", "path": interval, "value": "3600"},
			{"name": "value-change", "op": "waitFor", "subscription": "interval"},
			{"name": "get-set", "op": "get", "paths": interval},
			{"name": "set-read-only", "op": "set", "path": "Device.DeviceInfo.SerialNumber", "value": "HACKED"},
			{"name": "unsubscribe", "op": "unsubscribe", "subscription": "interval"},
			{"name": "supported-dm", "op": "supportedDM", "paths": "Device.DeviceInfo.",
				"opts": map[string]any{"firstLevelOnly": false, "returnCommands": true, "returnEvents": true, "returnParams": true}},
			{"name": "instances", "op": "instances", "paths": "Device.DeviceInfo.FirmwareImage."},
			{"name": "add", "op": "add", "path": "Device.LocalAgent.Controller.", "value": map[string]any{"EndpointID": "proto::uspjs-2"}},
			{"name": "del", "op": "del", "pathsFrom": "add"},
			{"name": "del-refused", "op": "del", "paths": "Device.DeviceInfo.FirmwareImage.1.", "allowPartial": false},
			{"name": "subscribe-transfer", "op": "subscribe", "id": "transfer", "notif": "Event", "reference": "Device.LocalAgent.TransferComplete!"},
			{"name": "download", "op": "operate", "path": fw2 + "Download()", "commandKey": "uspjs-dl", "timeoutMs": 15000,
				"input": map[string]any{
					"URL": srv.URL + "/" + uspjsBoard + "/2.0.0.img", "AutoActivate": "false",
					"Username": uspjsUser, "Password": uspjsPass, "FileSize": strconv.Itoa(len(img)),
					"CheckSumAlgorithm": "SHA-256", "CheckSum": hex.EncodeToString(sum[:]),
				}},
			{"name": "transfer-complete", "op": "waitFor", "subscription": "transfer"},
			{"name": "get-fw2", "op": "get", "paths": fw2},
			// Activate() the new image: OperationComplete, a
			// DisconnectRecord (which the driver keeps from usp-js), the
			// reboot, the agent's mqtt_connect Record (kept too), Boot!
			// (to a persistent subscription), and usp-js's NotifyResp
			// confirms the image on trial.
			{"name": "subscribe-boot", "op": "subscribe", "id": "boot", "notif": "Event", "reference": "Device.Boot!", "persist": true},
			{"name": "activate", "op": "operate", "path": fw2 + "Activate()", "commandKey": "uspjs-act", "cleanup": false,
				"input": map[string]any{"TimeWindow.1.Start": "0", "TimeWindow.1.End": "3600", "TimeWindow.1.Mode": "Immediately"}},
			{"name": "boot", "op": "waitFor", "subscription": "boot", "timeoutMs": 15000},
			{"name": "get-after", "op": "get", "paths": "Device.DeviceInfo."},
		},
	}
	res := mtptest.RunUSPJS(t, ctx, plan)
	step := map[string]mtptest.USPJSResult{}
	var filtered []string
	for _, s := range res {
		step[s.Step] = s
		t.Logf("%-18s ok=%-5v %6.1f ms  %s%s", s.Step, s.OK, s.Ms, s.Result, s.Error)
		for _, f := range s.Filtered {
			t.Logf("%-18s the driver kept a record from usp-js: %v", s.Step, f)
			filtered = append(filtered, fmt.Sprint(f["kind"], " ", f["from"], " ", f["to"], " ", f["reasonCode"]))
		}
	}
	// Before the reboot a DisconnectRecord (R-MTP.7, 7105), after it the
	// agent's mqtt_connect Record; nothing else was kept from usp-js.
	if want := []string{"disconnect " + agentID + " " + uspjsCtrlID + " 7105", "mqttConnect " + agentID + " " + uspjsCtrlID + " <nil>"}; !slices.Equal(filtered, want) {
		t.Errorf("records kept from usp-js: %q, want %q", filtered, want)
	}
	ok := func(name string) mtptest.USPJSResult {
		t.Helper()
		s := step[name]
		if !s.OK {
			t.Fatalf("step %s failed: %s", name, s.Error)
		}
		return s
	}

	// Get of Device.DeviceInfo.: the identity the device was given.
	var info map[string]any
	if err := ok("get-info").Decode(&info); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"Manufacturer": uspjsMaker, "SerialNumber": uspjsSerial,
		"SoftwareVersion": "1.0.0", "ModelName": uspjsBoard, "ManufacturerOUI": "00256D"} {
		if got := info[k]; got != want {
			t.Errorf("Get Device.DeviceInfo.%s = %v, want %q", k, got, want)
		}
	}

	// OnBoardRequest: the device's identity and USP versions (R-NOT.5),
	// send_resp true and no subscription (R-NOT.6, R-NOT.7).
	ok("send-onboard")
	var onb []struct {
		Notify struct {
			SubscriptionID string `json:"subscriptionId"`
			SendResp       bool   `json:"sendResp"`
			OnBoardReq     struct {
				OUI           string `json:"oui"`
				ProductClass  string `json:"productClass"`
				SerialNumber  string `json:"serialNumber"`
				AgentVersions string `json:"agentSupportedProtocolVersions"`
			} `json:"onBoardReq"`
		} `json:"notify"`
		From string `json:"from"`
	}
	if err := ok("onboard").Decode(&onb); err != nil {
		t.Fatal(err)
	}
	if len(onb) != 1 || onb[0].From != agentID || !onb[0].Notify.SendResp || onb[0].Notify.SubscriptionID != "" ||
		onb[0].Notify.OnBoardReq.OUI != "00256D" || onb[0].Notify.OnBoardReq.ProductClass != uspjsBoard ||
		onb[0].Notify.OnBoardReq.SerialNumber != uspjsSerial || onb[0].Notify.OnBoardReq.AgentVersions != "1.0,1.1,1.2,1.3,1.4" {
		t.Errorf("OnBoardRequest = %+v", onb)
	}
	ok("onboarded")

	// Set, the ValueChange it caused (usp-js answered it), and a Get of
	// the new value.
	ok("subscribe")
	if s := ok("set"); !strings.Contains(string(s.Result), `"PeriodicNotifInterval":"3600"`) {
		t.Errorf("SetResp = %s, want PeriodicNotifInterval 3600 updated", s.Result)
	}
	var notes []struct {
		Notify struct {
			SubscriptionID string `json:"subscriptionId"`
			ValueChange    struct {
				ParamPath  string `json:"paramPath"`
				ParamValue string `json:"paramValue"`
			} `json:"valueChange"`
		} `json:"notify"`
		MsgID string `json:"msgId"`
	}
	if err := ok("value-change").Decode(&notes); err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || notes[0].Notify.SubscriptionID != "NOTIFY@interval" ||
		notes[0].Notify.ValueChange.ParamPath != interval || notes[0].Notify.ValueChange.ParamValue != "3600" {
		t.Errorf("ValueChange notification = %+v", notes)
	}
	var got string
	if err := ok("get-set").Decode(&got); err != nil || got != "3600" {
		t.Errorf("Get %s after the Set = %q (%v), want 3600", interval, got, err)
	}

	// Set of a read-only parameter: usp-js sends allow_partial=true and
	// required=true, so the agent answers SetResp oper_failure 7021
	// (required parameter failed) naming SerialNumber with 7013 (not
	// writable), datamodel.md's Set table.
	if s := step["set-read-only"]; s.OK {
		t.Errorf("Set of a read-only parameter succeeded: %s", s.Result)
	} else if e := s.USPError(); e.ErrCode != 7021 || e.ErrMsg == "" ||
		!strings.Contains(string(s.Error), `"param":"SerialNumber"`) || !strings.Contains(string(s.Error), `"errCode":7013`) {
		t.Errorf("Set of a read-only parameter: error %s, want 7021 with SerialNumber 7013", s.Error)
	}
	ok("unsubscribe")

	// GetSupportedDM: FirmwareImage.{i}. with Download() and its inputs.
	var sdm []struct {
		SupportedObjs []struct {
			SupportedObjPath  string `json:"supportedObjPath"`
			IsMultiInstance   bool   `json:"isMultiInstance"`
			SupportedCommands []struct {
				CommandName   string   `json:"commandName"`
				InputArgNames []string `json:"inputArgNames"`
				CommandType   string   `json:"commandType"`
			} `json:"supportedCommands"`
		} `json:"supportedObjs"`
	}
	if err := ok("supported-dm").Decode(&sdm); err != nil {
		t.Fatal(err)
	}
	var download []string
	var dlType string
	found := false
	for _, r := range sdm {
		for _, o := range r.SupportedObjs {
			if o.SupportedObjPath != "Device.DeviceInfo.FirmwareImage.{i}." {
				continue
			}
			found = o.IsMultiInstance
			for _, c := range o.SupportedCommands {
				if c.CommandName == "Download()" {
					download, dlType = c.InputArgNames, c.CommandType
				}
			}
		}
	}
	if !found || dlType != "CMD_ASYNC" {
		t.Errorf("GetSupportedDM: FirmwareImage.{i}. multi-instance %v, Download() %q", found, dlType)
	}
	for _, a := range []string{"URL", "AutoActivate", "Username", "Password", "FileSize", "CheckSumAlgorithm", "CheckSum"} {
		if !slices.Contains(download, a) {
			t.Errorf("GetSupportedDM: Download() input arguments %v lack %s", download, a)
		}
	}

	// GetInstances: the board's two slots.
	var inst []struct {
		RequestedPath string `json:"requestedPath"`
		CurrInsts     []struct {
			InstantiatedObjPath string `json:"instantiatedObjPath"`
		} `json:"currInsts"`
	}
	if err := ok("instances").Decode(&inst); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range inst {
		for _, c := range r.CurrInsts {
			rows = append(rows, c.InstantiatedObjPath)
		}
	}
	if want := []string{"Device.DeviceInfo.FirmwareImage.1.", fw2}; !slices.Equal(rows, want) {
		t.Errorf("GetInstances = %v, want %v", rows, want)
	}

	// Add and Delete of a Controller row.
	var added string
	if err := ok("add").Decode(&added); err != nil || !strings.HasPrefix(added, "Device.LocalAgent.Controller.") {
		t.Errorf("Add = %q (%v), want a Controller row", added, err)
	}
	var deleted []string
	if err := ok("del").Decode(&deleted); err != nil || !slices.Equal(deleted, []string{added}) {
		t.Errorf("Delete = %v (%v), want [%s]", deleted, err, added)
	}

	// A Delete that fails with allow_partial=false is an Error message
	// (datamodel.md): FirmwareImage is a table controllers may not delete
	// from, 7024.
	if s := step["del-refused"]; s.OK {
		t.Errorf("Delete of a FirmwareImage row succeeded: %s", s.Result)
	} else if e := s.USPError(); e.ErrCode != 7024 || e.ErrMsg == "" {
		t.Errorf("Delete of a FirmwareImage row: error %s, want 7024", s.Error)
	}

	// Download(): the OperateResp names the Request row; the
	// OperationComplete came back without failure, then TransferComplete!
	// with the file's checksum; the row holds 2.0.0.
	ok("subscribe-transfer")
	var dl struct {
		OperateResp struct {
			OperationResults []struct {
				ExecutedCommand string `json:"executedCommand"`
				ReqObjPath      string `json:"reqObjPath"`
			} `json:"operationResults"`
		} `json:"operateResp"`
		Complete map[string]any `json:"complete"`
		Notify   struct {
			OperComplete struct {
				ObjPath     string         `json:"objPath"`
				CommandName string         `json:"commandName"`
				CommandKey  string         `json:"commandKey"`
				CmdFailure  map[string]any `json:"cmdFailure"`
			} `json:"operComplete"`
		} `json:"notify"`
	}
	if err := ok("download").Decode(&dl); err != nil {
		t.Fatal(err)
	}
	if ors := dl.OperateResp.OperationResults; len(ors) != 1 || ors[0].ExecutedCommand != fw2+"Download()" ||
		!strings.HasPrefix(ors[0].ReqObjPath, "Device.LocalAgent.Request.") {
		t.Errorf("Download() OperateResp = %+v", dl.OperateResp)
	}
	if oc := dl.Notify.OperComplete; oc.ObjPath != fw2 || oc.CommandName != "Download()" || oc.CommandKey != "uspjs-dl" || oc.CmdFailure != nil {
		t.Errorf("Download() OperationComplete = %+v", dl.Notify)
	}
	var tc []struct {
		Notify struct {
			Event struct {
				ObjPath   string            `json:"objPath"`
				EventName string            `json:"eventName"`
				Params    map[string]string `json:"params"`
			} `json:"event"`
		} `json:"notify"`
	}
	if err := ok("transfer-complete").Decode(&tc); err != nil {
		t.Fatal(err)
	}
	if len(tc) != 1 || tc[0].Notify.Event.ObjPath != "Device.LocalAgent." || tc[0].Notify.Event.EventName != "TransferComplete!" {
		t.Fatalf("TransferComplete! = %+v", tc)
	}
	for k, want := range map[string]string{"Command": fw2 + "Download()", "CommandKey": "uspjs-dl", "TransferType": "Download",
		"Affected": strings.TrimSuffix(fw2, "."), "FaultCode": "0", "CheckSumAlgorithm": "SHA-256", "CheckSum": hex.EncodeToString(sum[:]),
		"TransferURL": srv.URL + "/" + uspjsBoard + "/2.0.0.img"} {
		if got := tc[0].Notify.Event.Params[k]; !strings.EqualFold(got, want) {
			t.Errorf("TransferComplete! %s = %q, want %q", k, got, want)
		}
	}
	var row map[string]any
	if err := ok("get-fw2").Decode(&row); err != nil {
		t.Fatal(err)
	}
	if row["Status"] != "Available" || row["Version"] != "2.0.0" || row["Name"] != "2.0.0.img" {
		t.Errorf("Get %s after Download() = %v, want Status Available, Version 2.0.0, Name 2.0.0.img", fw2, row)
	}

	// Activate(): OperationComplete before the reboot, then Boot! of the
	// activation, and the new image runs from row 2.
	var act struct {
		Notify struct {
			OperComplete struct {
				CommandName string         `json:"commandName"`
				CommandKey  string         `json:"commandKey"`
				CmdFailure  map[string]any `json:"cmdFailure"`
			} `json:"operComplete"`
		} `json:"notify"`
	}
	if err := ok("activate").Decode(&act); err != nil {
		t.Fatal(err)
	}
	if oc := act.Notify.OperComplete; oc.CommandName != "Activate()" || oc.CommandKey != "uspjs-act" || oc.CmdFailure != nil {
		t.Errorf("Activate() OperationComplete = %+v", act.Notify)
	}
	var boot []struct {
		Notify struct {
			Event struct {
				ObjPath   string            `json:"objPath"`
				EventName string            `json:"eventName"`
				Params    map[string]string `json:"params"`
			} `json:"event"`
		} `json:"notify"`
	}
	if err := ok("boot").Decode(&boot); err != nil {
		t.Fatal(err)
	}
	if len(boot) != 1 || boot[0].Notify.Event.ObjPath != "Device." || boot[0].Notify.Event.EventName != "Boot!" {
		t.Fatalf("Boot! = %+v", boot)
	}
	for k, want := range map[string]string{"Cause": "RemoteReboot", "CommandKey": "uspjs-act", "FirmwareUpdated": "true"} {
		if got := boot[0].Notify.Event.Params[k]; got != want {
			t.Errorf("Boot! %s = %q, want %q", k, got, want)
		}
	}
	var after map[string]any
	if err := ok("get-after").Decode(&after); err != nil {
		t.Fatal(err)
	}
	if after["SoftwareVersion"] != "2.0.0" || after["ActiveFirmwareImage"] != strings.TrimSuffix(fw2, ".") {
		t.Errorf("Get Device.DeviceInfo. after the activation: SoftwareVersion %v, ActiveFirmwareImage %v; want 2.0.0 from %s",
			after["SoftwareVersion"], after["ActiveFirmwareImage"], fw2)
	}

	stop()
	if o := r.Outcome(0); o != fleet.Updated {
		t.Errorf("outcome %s, want %s", o, fleet.Updated)
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("the firmware server served %d fetches, want 1", n)
	}
	if v, _ := r.Device(0).Value(interval, time.Now()); v != "3600" {
		t.Errorf("the device's %s = %q after the run, want 3600", interval, v)
	}
}

// uspjsCheckGoroutines fails the test when goroutines of brickyard, paho or
// net/http are still running 5 s after the test's other cleanups.
func uspjsCheckGoroutines(t *testing.T) {
	t.Cleanup(func() {
		var left []string
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			left = uspjsLeftGoroutines()
			if len(left) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(left) > 0 {
			t.Errorf("%d goroutines leaked:\n%s", len(left), strings.Join(left, "\n\n"))
		}
	})
}

func uspjsLeftGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 || strings.Contains(g, "testing.tRunner") || strings.Contains(g, "testing.(*T).Run") {
			continue // this goroutine, and the tests' own
		}
		for _, pkg := range []string{"brickyard/", "eclipse/paho.golang", "net/http."} {
			if strings.Contains(g, pkg) {
				left = append(left, g)
				break
			}
		}
	}
	return left
}
