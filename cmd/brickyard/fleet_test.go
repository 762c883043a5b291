package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"brickyard/boards/image"
	"brickyard/mtp"
	"brickyard/mtp/fdlimit"
	"brickyard/mtp/mqtt"
	"brickyard/mtp/mtptest"
	"brickyard/mtp/stomp"
	"brickyard/mtp/websocket"
	"brickyard/scenarios/agents"
	"brickyard/scenarios/report"
	"brickyard/scenarios/trace"
	"brickyard/usp"
	"brickyard/usp/e2e"
	pb "brickyard/usp/uspmsg"
)

const testCtrl = "proto::fleet-test-controller"

func TestFleet_BadFlags(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badFaults := file("faults.yaml", "- kind: power-during-install\n  share: 0.1\n  sharre: 2\n")
	badRule := file("rule.yaml", "- kind: power-during-install\n  share: 1.5\n")
	notPEM := file("key.pem", "not a key\n")
	ws := []string{"fleet", "--ws-url", "ws://127.0.0.1:1/usp", "--controller-id", testCtrl}
	mq := []string{"fleet", "--mqtt", "127.0.0.1:1", "--controller-id", testCtrl}
	st := []string{"fleet", "--stomp", "127.0.0.1:1", "--controller-id", testCtrl, "--controller-dest", "/queue/c"}
	with := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"fleet"}, "--ws-url, --mqtt or --stomp: give one"},
		{with(ws, "--trace", "150%", "--out", dir), "--trace: trace: share \"150%\" is not in (0, 1]"},
		{with(ws, "--trace", "os::x"), "--trace: no --trace-file, and no --out"},
		{with(ws, "--trace-file", filepath.Join(dir, "t.jsonl")), "--trace-file: no --trace says which devices"},
		{[]string{"fleet", "--ws-url", "ws://h:1/usp", "--mqtt", "h:1", "--controller-id", testCtrl}, "--mqtt: not with --ws-url"},
		{[]string{"fleet", "--ws-url", "ws://h:1/usp"}, "--controller-id: required"},
		{with(ws, "--controller-id", "has space"), "--controller-id"},
		{with(ws, "--ws-url", "http://h:1/usp"), "--ws-url"},
		{with(ws, "--devices", "0"), "--devices: 0"},
		{with(ws, "--check-identity"), "--check-identity: needs a wss:// --ws-url"},
		{with(ws, "--device-certs", "--out", dir), "--device-certs: needs a wss:// --ws-url"},
		{with(ws, "--ws-url", "wss://127.0.0.1:1/usp", "--device-certs"), "--device-certs: give --out"},
		{with(ws, "--ws-url", "wss://127.0.0.1:1/usp", "--device-ca", notPEM), "--device-ca and --device-ca-key: give both"},
		{with(ws, "--ws-url", "wss://127.0.0.1:1/usp", "--device-ca", notPEM, "--device-ca-key", notPEM), "--device-ca: certs: CA certificate: no PEM"},
		{with(ws, "--unknown-controllers", "welcome"), `--unknown-controllers: unknown-controller policy "welcome": want "refuse" or "untrusted"`},
		{with(ws, "--board", "nosuch"), "--board: "},
		{with(ws, "--boards-mix", "uboot-nor=x"), "--boards-mix"},
		{with(ws, "--boards-mix", "nosuch=3"), "--boards-mix"},
		{with(ws, "--boards-mix", "uboot-nor=3", "--devices", "3"), "--devices: not with --boards-mix"},
		{with(ws, "--version", "1.x"), "--version"},
		{with(ws, "--ids", "nope"), "--ids"},
		{with(ws, "--serials", "SIM"), "--serials"},
		{with(ws, "--faults", filepath.Join(dir, "none.yaml")), "--faults"},
		{with(ws, "--faults", badFaults), "--faults: " + badFaults + ":3"},
		{with(ws, "--faults", badRule), "--faults: " + badRule + ": rule 1"},
		{with(ws, "--connect-rate", "-1"), "--connect-rate"},
		{with(ws, "--connect-jitter", "-1s"), "--connect-jitter"},
		{with(ws, "--duration", "-1s"), "--duration"},
		{with(ws, "--reboot", "-1s"), "--reboot"},
		{with(ws, "--retry-min-wait", "-1s"), "--retry-min-wait"},
		{with(ws, "--retry-min-wait", "1ns"), "whole seconds from 1s"},
		{with(ws, "--download-timeout", "0s"), "--download-timeout"},
		{with(ws, "--download-stall-timeout", "11m"), "at most --download-timeout"},
		{with(ws, "--downloads", "0"), "--downloads"},
		{[]string{"fleet", "--mqtt", "127.0.0.1:1883", "--controller-id", "proto::c", "--mqtt-qos", "2"}, "--mqtt-qos: 2: want 0 or 1"},
		{with(ws, "--mqtt-qos", "0"), "--mqtt-qos: only with --mqtt"},
		{with(ws, "--retry-min-wait", "1500ms"), "whole seconds from 1s"},
		{with(ws, "--retry-min-wait", "65536s"), "whole seconds from 1s"},
		{with(ws, "--retry-multiplier", "999"), "--retry-multiplier"},
		{with(ws, "--periodic", "1500ms"), "--periodic"},
		{with(ws, "--response-timeout", "0s"), "--response-timeout"},
		{with(ws, "--agent-topic", "a/{eid}"), "--agent-topic: only with --mqtt"},
		{with(ws, "--controller-dest", "/queue/c"), "--controller-dest: only with --stomp"},
		{with(ws, "--keepalive", "10s"), "--keepalive"},
		{with(ws, "--tls-ca", notPEM), "--tls-ca: the --ws-url is ws://"},
		{with(ws, "--tls-cert", notPEM), "--tls-key: required with --tls-cert"},
		{with(ws, "--ws-url", "wss://127.0.0.1:1/usp", "--tls-ca", filepath.Join(dir, "none.pem")), "--tls-ca"},
		{with(ws, "--ws-url", "wss://127.0.0.1:1/usp", "--tls-ca", notPEM), "--tls-ca"},
		{with(ws, "--sources", "bogus"), "--sources"},
		{with(ws, "--shard", "3/2"), "--shard"},
		{with(ws, "--devices", "2", "--shard", "1/3"), "--shard"},
		{with(ws, "--trust", filepath.Join(dir, "none.pem")), "--trust"},
		{with(ws, "--trust", notPEM), "--trust"},
		{with(ws, "--password", "x"), "--username: required"},
		{with(ws, "--password-file", filepath.Join(dir, "none")), "--password-file"},
		{with(ws, "--scenario", "nosuch"), "--scenario"},
		{with(ws, "--metrics-addr", "bogus"), "--metrics-addr"},
		{with(mq, "--mqtt", "ftp://h:1"), "--mqtt"},
		{with(mq, "--agent-topic", "usp/agent"), "--agent-topic"},
		{with(mq, "--controller-topic", "usp/#"), "--controller-topic"},
		{with(mq, "--mqtt-version", "4.2"), "--mqtt-version"},
		{with(mq, "--client-id", "fixed", "--devices", "2"), "--client-id"},
		{with(mq, "--mqtt", "tcp://127.0.0.1:1", "--tls-ca", notPEM), "--tls-ca"},
		{with(st, "--controller-dest", ""), "--controller-dest: required"},
		{with(st, "--agent-dest", "/queue/all"), "--agent-dest"},
		{with(st, "--stomp", "h"), "--stomp"},
		{with(st, "--agent-topic", "a/{eid}"), "--agent-topic: only with --mqtt"},
		{[]string{"fleet", "--dump-model", "--out", dir}, "--out"},
	} {
		out, errOut, code := runBrickyard(t, nil, tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: code %d, stdout %q, stderr %q; want 1 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

func TestFleet_DumpModel(t *testing.T) {
	out, errOut, code := runBrickyard(t, nil, "fleet", "--devices", "1", "--dump-model", "--board", "mcuboot-nrf52",
		"--ids", "os::012345-SIM{n:06}", "--version", "1.2.3")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	for _, want := range []string{
		"# os::012345-SIM000001: board mcuboot-nrf52, firmware 1.2.3",
		`Device.DeviceInfo.SoftwareVersion = "1.2.3"`,
		`Device.DeviceInfo.ManufacturerOUI = "012345"`,
		`Device.DeviceInfo.SerialNumber = "SIM000001"`,
		`Device.LocalAgent.EndpointID = "os::012345-SIM000001"`,
		`Device.LocalAgent.Controller.1.EndpointID = "proto::controller"  (rw)`,
		"Device.DeviceInfo.FirmwareImage.{i}.Download()  async  in: URL",
		"Device.Reboot()  sync",
		"Device.Boot!  args: CommandKey Cause Reason FirmwareUpdated ParameterMap",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the dump lacks %q:\n%s", want, out)
		}
	}
	// Sorted parameter lines.
	var params []string
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "Device.") && strings.Contains(line, " = ") {
			params = append(params, line)
		}
	}
	for i := 1; i < len(params); i++ {
		if params[i-1] > params[i] {
			t.Fatalf("not sorted: %q before %q", params[i-1], params[i])
		}
	}
	// A shard's first device is numbered after the shards before it.
	out, errOut, code = runBrickyard(t, nil, "fleet", "--devices", "10", "--shard", "2/2", "--dump-model")
	if code != 0 || !strings.Contains(out, `Device.LocalAgent.EndpointID = "os::00256D-SIM000006"`) || !strings.Contains(out, `SerialNumber = "SIM000006"`) {
		t.Fatalf("shard 2/2: code %d, stderr %s\n%s", code, errOut, out)
	}
}

// --write-key writes the fleet's key; images signed with it, or with a
// --trust key, are what the boards accept.
func TestFleet_WriteKeyAndTrust(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "fleet.key.pem")
	out, errOut, code := runBrickyard(t, nil, "fleet", "--dump-model", "--seed", "7", "--write-key", keyFile)
	if code != 0 || !strings.Contains(out, "fleet signing key") {
		t.Fatalf("code %d, stderr %s\n%s", code, errOut, out)
	}
	data, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := image.ParsePrivateKeyPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Equal(agents.SigningKey(7)) {
		t.Fatal("--write-key wrote another key than the fleet's")
	}
	pubData, err := os.ReadFile(keyFile + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.ParsePublicKeyPEM(pubData); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(keyFile); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode().Perm())
	}
	// A user's key (another seed's) is trusted with --trust.
	other := filepath.Join(dir, "other.key.pem")
	if _, errOut, code := runBrickyard(t, nil, "fleet", "--dump-model", "--seed", "8", "--write-key", other); code != 0 {
		t.Fatal(errOut)
	}
	_, errOut, code = runBrickyard(t, nil, "fleet", "--dump-model", "--seed", "7", "--trust", other+".pub")
	if code != 0 || !strings.Contains(errOut, `"trusted_keys":2`) {
		t.Fatalf("code %d, stderr %s", code, errOut)
	}
}

// testController is a controller under test: it accepts agents on l,
// asks each for its SoftwareVersion, subscribes it to Periodic! with
// NotifRetry and answers its Notifies. It runs until ctx ends.
type testController struct {
	mu       sync.Mutex
	versions map[string]string // agent → SoftwareVersion it answered
	notifies map[string]int
	wg       sync.WaitGroup
}

func serveTestController(ctx context.Context, t *testing.T, l mtp.Listener) *testController {
	tc := &testController{versions: map[string]string{}, notifies: map[string]int{}}
	codec := usp.Codec{LocalID: testCtrl}
	session := func(conn mtp.Conn) {
		defer conn.Close()
		id := conn.Info().Peer
		send := func(m *pb.Msg) {
			data, err := codec.Seal(id, m)
			if err == nil {
				err = conn.Send(ctx, data)
			}
			// A session the agent closed is over, not a failure: the fleet
			// stops at the end of its --duration while a Periodic! answer
			// may be on its way (the counts below catch a session lost early).
			if err != nil && ctx.Err() == nil && !errors.Is(err, mtp.ErrBroken) {
				t.Errorf("%s: send: %v", id, err)
			}
		}
		send(usp.NewRequest("get-1", &pb.Get{ParamPaths: []string{"Device.DeviceInfo.SoftwareVersion"}}))
		send(usp.NewRequest("add-1", &pb.Add{CreateObjs: []*pb.Add_CreateObject{{ObjPath: "Device.LocalAgent.Subscription.",
			ParamSettings: []*pb.Add_CreateParamSetting{
				{Param: "ID", Value: "periodic"}, {Param: "Enable", Value: "true"}, {Param: "NotifType", Value: "Event"},
				{Param: "ReferenceList", Value: "Device.LocalAgent.Periodic!"}, {Param: "NotifRetry", Value: "true"}}}}}))
		for {
			data, err := conn.Recv(ctx)
			if err != nil {
				return
			}
			in, err := codec.Open(data)
			if err != nil {
				t.Errorf("%s: %v", id, err)
				return
			}
			if in.Msg == nil {
				continue // the MTP's Connect Record
			}
			switch body := in.Msg.GetBody(); {
			case body.GetResponse().GetGetResp() != nil:
				for _, rr := range body.GetResponse().GetGetResp().GetReqPathResults() {
					for _, res := range rr.GetResolvedPathResults() {
						tc.mu.Lock()
						tc.versions[id] = res.GetResultParams()["SoftwareVersion"]
						tc.mu.Unlock()
					}
				}
			case body.GetRequest().GetNotify() != nil:
				n := body.GetRequest().GetNotify()
				tc.mu.Lock()
				tc.notifies[id]++
				tc.mu.Unlock()
				if n.GetSendResp() {
					send(usp.NewResponse(in.Msg.GetHeader().GetMsgId(), &pb.NotifyResp{SubscriptionId: n.GetSubscriptionId()}))
				}
			case body.GetError() != nil:
				t.Errorf("%s: Error %d %s", id, body.GetError().GetErrCode(), body.GetError().GetErrMsg())
			}
		}
	}
	tc.wg.Add(1)
	go func() {
		defer tc.wg.Done()
		for {
			conn, err := l.Accept(ctx)
			if err != nil {
				return
			}
			tc.wg.Add(1)
			go func() { defer tc.wg.Done(); session(conn) }()
		}
	}()
	return tc
}

// startTestController listens on a loopback WebSocket URL and serves the
// test controller there until the test ends: then cancel, the listener
// closes and its goroutines are waited for.
func startTestController(t *testing.T, ctx context.Context, cancel context.CancelFunc) (*websocket.Listener, *testController) {
	t.Helper()
	l, err := websocket.NewListener(websocket.Config{URL: "ws://127.0.0.1:0/usp", ControllerID: testCtrl})
	if err != nil {
		t.Fatal(err)
	}
	tc := serveTestController(ctx, t, l)
	t.Cleanup(func() { cancel(); l.Close(); tc.wg.Wait() })
	return l.(*websocket.Listener), tc
}

// noLeaks fails the test if goroutines it started outlive it (checked
// after every other cleanup and deferred call).
func noLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if g := runtime.NumGoroutine(); g > before {
			buf := make([]byte, 1<<20)
			t.Errorf("%d goroutines left, %d before:\n%s", g, before, buf[:runtime.Stack(buf, true)])
		}
	})
}

// runFleetFor runs brickyard with args in a goroutine, bounded by a
// timeout, and returns its output once it ends.
func runFleetFor(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	clearEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &out, &errb) }()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("brickyard %q: code %d\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errb.String())
		}
	case <-ctx.Done():
		t.Fatal("brickyard fleet did not end")
	}
	return out.String(), errb.String()
}

func readReport(t *testing.T, dir string) *report.Report {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
		t.Fatal(err)
	}
	return r
}

func countOf(cs []report.Count, name string) int {
	for _, c := range cs {
		if c.Name == name {
			return c.N
		}
	}
	return 0
}

// Three devices against a controller that is not brickyard's, over
// WebSocket: the controller's Get is answered, its subscription makes the
// devices notify, and the report counts what the devices saw.
func TestFleet_WebSocketEndToEnd(t *testing.T) {
	noLeaks(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	l, tc := startTestController(t, ctx, cancel)

	dir := t.TempDir()
	out, errOut := runFleetFor(t, "fleet", "--ws-url", l.URL(), "--controller-id", testCtrl,
		"--devices", "3", "--duration", "5s", "--periodic", "1s", "--out", dir, "--metrics-addr", "127.0.0.1:0", "--dump-model")

	tc.mu.Lock()
	if len(tc.versions) != 3 {
		t.Errorf("the controller got %d answers: %v", len(tc.versions), tc.versions)
	}
	for id, v := range tc.versions {
		if v != "1.0.0" {
			t.Errorf("%s runs %q", id, v)
		}
	}
	tc.mu.Unlock()

	r := readReport(t, dir)
	if r.Devices != 3 || len(r.Fleet) != 3 || r.MTP != "WebSocket" || r.Clock != "real" || r.Interrupted {
		t.Fatalf("report: %d devices, %d in fleet, MTP %s, clock %s, interrupted %v", r.Devices, len(r.Fleet), r.MTP, r.Clock, r.Interrupted)
	}
	for _, want := range []struct {
		name string
		n    int
	}{{"received Get", 3}, {"sent GetResp", 3}, {"received Add", 3}, {"sent AddResp", 3}} {
		if got := countOf(r.Messages, want.name); got != want.n {
			t.Errorf("messages %q: %d, want %d (%v)", want.name, got, want.n, r.Messages)
		}
	}
	notifies, resps := countOf(r.Messages, "sent Notify"), countOf(r.Messages, "received NotifyResp")
	if notifies < 3 || resps < 3 || r.Latency.Count < 3 || r.Latency.Count > resps {
		t.Errorf("notifies %d, responses %d, latencies %d", notifies, resps, r.Latency.Count)
	}
	for _, d := range r.Fleet {
		if d.Outcome != "pending" || d.Version != "1.0.0" || d.Boots != 1 || d.Board != "uboot-nor" {
			t.Errorf("device %+v", d)
		}
	}
	if countOf(r.Outcomes, "pending") != 3 || len(r.ByBoard) != 1 || len(r.Progress) < 2 {
		t.Errorf("outcomes %v, by board %v, %d samples", r.Outcomes, r.ByBoard, len(r.Progress))
	}
	for _, want := range []string{"3 devices against ws://127.0.0.1:", "messages the devices received (6 requests): Add 3  Get 3", "report.json",
		"# os::00256D-SIM000001: board uboot-nor, firmware 1.0.0", `Device.LocalAgent.Subscription.1.ReferenceList = "Device.LocalAgent.Periodic!"`} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"first session up", "connected 3/3"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// Two devices through an MQTT broker (the embedded mochi broker) to a
// controller listening on its own topic.
func TestFleet_MQTT(t *testing.T) {
	b, err := mqtt.NewEmbeddedBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	l, err := mqtt.NewListener(mqtt.Config{Broker: b.URL(), ControllerID: testCtrl, ControllerTopic: "test/controller"})
	if err != nil {
		t.Fatal(err)
	}
	tc := serveTestController(ctx, t, l)
	defer func() { cancel(); l.Close(); tc.wg.Wait() }()

	dir := t.TempDir()
	out, _ := runFleetFor(t, "fleet", "--mqtt", b.Addr(), "--controller-id", testCtrl, "--controller-topic", "test/controller",
		"--agent-topic", "test/agent/{eid}", "--boards-mix", "uboot-nor=1,esp32-ota=1@2.0.0", "--duration", "4s", "--out", dir, "--quiet",
		"--trace", "os::00256D-SIM000002")
	r := readReport(t, dir)
	// The traced device's Records, and only its: the controller's Get
	// in, the device's GetResp to it out, with the same msg_id.
	tb, err := os.ReadFile(filepath.Join(dir, "trace.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	gets := map[string]bool{}
	answered := 0
	lines := strings.Split(strings.TrimSpace(string(tb)), "\n")
	for _, ln := range lines {
		var l trace.Line
		if err := json.Unmarshal([]byte(ln), &l); err != nil {
			t.Fatalf("trace line %q: %v", ln, err)
		}
		if l.Device != "os::00256D-SIM000002" || l.Error != "" {
			t.Errorf("trace line of another device or undecoded: %+v", l)
		}
		switch {
		case l.Dir == "in" && l.Type == "GET":
			gets[l.MsgID] = true
		case l.Dir == "out" && l.Type == "GET_RESP" && gets[l.MsgID] && strings.Contains(string(l.Msg), "2.0.0"):
			answered++
		}
	}
	if answered != 1 || !strings.Contains(out, fmt.Sprintf("trace: %d Records", len(lines))) {
		t.Errorf("trace: %d Gets answered in %d lines, want 1; stdout:\n%s", answered, len(lines), out)
	}
	if r.MTP != "MQTT" || r.Devices != 2 || countOf(r.Messages, "received Get") != 2 || countOf(r.Messages, "sent GetResp") != 2 {
		t.Fatalf("report: MTP %s, %d devices, messages %v\n%s", r.MTP, r.Devices, r.Messages, out)
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.versions["os::00256D-SIM000001"] != "1.0.0" || tc.versions["os::00256D-SIM000002"] != "2.0.0" {
		t.Errorf("versions %v", tc.versions)
	}
}

// Two devices through a STOMP broker (go-stomp's, embedded).
func TestFleet_STOMP(t *testing.T) {
	b, err := stomp.NewEmbeddedBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	l, err := stomp.NewListener(stomp.Config{Addr: b.Addr(), ControllerID: testCtrl, ControllerDest: "/queue/test-controller", Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	tc := serveTestController(ctx, t, l)
	defer func() { cancel(); l.Close(); tc.wg.Wait() }()

	dir := t.TempDir()
	out, _ := runFleetFor(t, "fleet", "--stomp", b.Addr(), "--controller-id", testCtrl, "--controller-dest", "/queue/test-controller",
		"--devices", "2", "--duration", "3s", "--out", dir, "--quiet")
	r := readReport(t, dir)
	if r.MTP != "STOMP" || r.Devices != 2 || countOf(r.Messages, "received Get") != 2 || countOf(r.Messages, "sent GetResp") != 2 {
		t.Fatalf("report: MTP %s, %d devices, messages %v\n%s", r.MTP, r.Devices, r.Messages, out)
	}
}

// A controller that addresses the devices by the wrong endpoint ID: the
// log says so at the first Record, and the report counts the Records the
// devices dropped. A controller that says nothing at all is reported once
// --response-timeout has passed.
func TestFleet_WrongEndpointIDAndSilence(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	l, err := websocket.NewListener(websocket.Config{URL: "ws://127.0.0.1:0/usp", ControllerID: testCtrl})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer func() { cancel(); l.Close(); wg.Wait() }()
	var wrong atomic.Bool
	wrong.Store(true)
	wg.Add(1)
	go func() {
		defer wg.Done()
		codec := usp.Codec{LocalID: testCtrl}
		for {
			conn, err := l.Accept(ctx)
			if err != nil {
				return
			}
			if wrong.Load() {
				data, _ := codec.Seal("os::00256D-NOBODY", usp.NewRequest("g", &pb.Get{ParamPaths: []string{"Device."}}))
				_ = conn.Send(ctx, data)
			}
			wg.Add(1)
			go func() { // read until the session ends
				defer wg.Done()
				defer conn.Close()
				for {
					if _, err := conn.Recv(ctx); err != nil {
						return
					}
				}
			}()
		}
	}()
	dir := t.TempDir()
	url := l.(*websocket.Listener).URL()
	_, errOut := runFleetFor(t, "fleet", "--ws-url", url, "--controller-id", testCtrl, "--devices", "2", "--duration", "1500ms", "--out", dir, "--quiet")
	if !strings.Contains(errOut, "addressed to another endpoint") || !strings.Contains(errOut, "os::00256D-NOBODY") {
		t.Errorf("stderr:\n%s", errOut)
	}
	if r := readReport(t, dir); countOf(r.Errors, "received record for another endpoint") != 2 {
		t.Errorf("errors %v", r.Errors)
	}

	wrong.Store(false) // now a silent controller
	_, errOut = runFleetFor(t, "fleet", "--ws-url", url, "--controller-id", testCtrl, "--devices", "1", "--duration", "2500ms",
		"--response-timeout", "1s", "--quiet")
	if !strings.Contains(errOut, "none has received a Record from the controller") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

// An unreachable controller: the devices keep retrying, the log says why
// once, and the report counts them unreachable.
func TestFleet_Unreachable(t *testing.T) {
	dir := t.TempDir()
	out, errOut := runFleetFor(t, "fleet", "--ws-url", "ws://127.0.0.1:1/usp", "--controller-id", testCtrl,
		"--devices", "2", "--duration", "1500ms", "--out", dir)
	if n := strings.Count(errOut, "cannot open its session"); n != 1 || !strings.Contains(errOut, "connection refused") {
		t.Errorf("stderr (%d warnings):\n%s", n, errOut)
	}
	if !strings.Contains(errOut, "connecting 2") {
		t.Errorf("the progress line does not show the devices connecting:\n%s", errOut)
	}
	r := readReport(t, dir)
	if countOf(r.Outcomes, "unreachable") != 2 || countOf(r.Errors, "dial failed") != 2 {
		t.Errorf("outcomes %v, errors %v\n%s", r.Outcomes, r.Errors, out)
	}
}

// Interrupted (Ctrl-C) with no --duration: the fleet stops, exits 0 and
// writes its report, marked interrupted.
func TestFleet_Interrupt(t *testing.T) {
	noLeaks(t)
	clearEnv(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"fleet", "--ws-url", "ws://127.0.0.1:1/usp", "--controller-id", testCtrl, "--out", dir, "--quiet"}, &out, &errb)
	}()
	time.Sleep(time.Second)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("code %d: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the fleet did not stop")
	}
	if r := readReport(t, dir); !r.Interrupted || r.Devices != 1 || !strings.Contains(out.String(), "interrupted") {
		t.Fatalf("interrupted %v, %d devices\n%s", r.Interrupted, r.Devices, out.String())
	}
}

// --scenario takes the fleet section of a scenario: the built-in default's
// 400 uboot-nor, 300 mcuboot-nrf52 and 300 esp32-ota; shard 2 of 2 starts
// at device 501, an mcuboot-nrf52.
func TestFleet_ScenarioFleet(t *testing.T) {
	out, errOut, code := runBrickyard(t, nil, "fleet", "--scenario", "default", "--shard", "2/2", "--dump-model")
	if code != 0 || !strings.Contains(out, "# os::00256D-SIM000501: board mcuboot-nrf52, firmware 1.0.0") {
		t.Fatalf("code %d, stderr %s\n%s", code, errOut, out)
	}
}

// More devices than open files: refused before any dial, with how many
// fit and how to shard.
func TestFleet_OpenFileLimit(t *testing.T) {
	_, hard, err := fdlimit.Limit()
	if err != nil || hard >= 900_000 {
		t.Skipf("open-file limit %d (%v): the check cannot be made to fail within 1,000,000 devices", hard, err)
	}
	n := strconv.FormatUint(hard+1, 10)
	_, errOut, code := runBrickyard(t, nil, "fleet", "--ws-url", "ws://127.0.0.1:1/usp", "--controller-id", testCtrl, "--devices", n, "--workers", "1")
	if code != 1 || !strings.Contains(errOut, "--devices: ") || !strings.Contains(errOut, "run the fleet in shards, e.g. --shard 1/2") {
		t.Fatalf("code %d, stderr %s", code, errOut)
	}
}

// A controller's burst of Records to one agent through a real broker: what
// the agent's transport could not take is counted as dropped, by cause,
// so that the report accounts for every Record sent (once 961 of 2,003
// went missing without a trace). The agent speaks MQTT 3.1.1, whose
// client reads past an oversized PUBLISH and counts it.
func TestFleet_NothingDroppedSilently(t *testing.T) {
	broker := mtptest.StartMosquitto(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	l, err := mqtt.NewListener(mqtt.Config{Broker: broker, ControllerID: testCtrl, ControllerTopic: "test/controller"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const junk, huge = 2000, 3
	codec := usp.Codec{LocalID: testCtrl}
	answered := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := l.Accept(ctx)
		if err != nil {
			return
		}
		defer conn.Close()
		id := conn.Info().Peer
		for i := range junk {
			if err := conn.Send(ctx, []byte("junk-"+strconv.Itoa(i))); err != nil {
				t.Errorf("send: %v", err)
				return
			}
		}
		for range huge {
			if err := conn.Send(ctx, bytes.Repeat([]byte{0xA5}, 300<<10)); err != nil {
				t.Errorf("send: %v", err)
				return
			}
		}
		// A Get after the burst, sent until answered: once its answer
		// comes, every Record before it was handled or dropped.
		for attempt := 0; ; attempt++ {
			rec, _ := codec.Seal(id, usp.NewRequest("last-"+strconv.Itoa(attempt), &pb.Get{ParamPaths: []string{"Device.DeviceInfo.SoftwareVersion"}}))
			if err := conn.Send(ctx, rec); err != nil {
				return
			}
			wait, stop := context.WithTimeout(ctx, 2*time.Second)
			for {
				data, err := conn.Recv(wait)
				if err != nil {
					break
				}
				if in, err := codec.Open(data); err == nil && in.Msg.GetBody().GetResponse().GetGetResp() != nil {
					stop()
					close(answered)
					return
				}
			}
			stop()
			if ctx.Err() != nil {
				return
			}
		}
	}()
	dir := t.TempDir()
	runCtx, stopFleet := context.WithCancel(ctx)
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(runCtx, []string{"fleet", "--mqtt", broker, "--mqtt-version", "3.1.1", "--controller-id", testCtrl,
			"--controller-topic", "test/controller", "--out", dir, "--quiet"}, &out, &errb)
	}()
	select {
	case <-answered:
	case <-ctx.Done():
		t.Fatalf("the last Get was never answered\n%s", errb.String())
	}
	stopFleet()
	if code := <-done; code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	wg.Wait()
	r := readReport(t, dir)
	malformed, full, large := countOf(r.Errors, "received malformed record"), countOf(r.Dropped, "agents queue-full"), countOf(r.Dropped, "agents too-large")
	if malformed+full != junk || large != huge {
		t.Fatalf("of %d junk Records %d arrived and %d were dropped (queue full); %d of %d oversized dropped; dropped %v\n%s",
			junk, malformed, full, large, huge, r.Dropped, out.String())
	}
	t.Logf("%d junk Records arrived, %d dropped (queue full)", malformed, full)
}

// --unknown-controllers: a request from an endpoint that is none of the
// devices' Controllers gets Error 7006 (refuse, the default), or is
// served with the Untrusted role (untrusted): DeviceInfo is readable, the
// Controller table is not there for it.
func TestFleet_UnknownControllers(t *testing.T) {
	for _, tc := range []struct {
		policy string // "": the default
		want   string
	}{{"", "error 7006"}, {"refuse", "error 7006"}, {"untrusted", "version 1.0.0, controller path 7026"}} {
		t.Run("policy="+tc.policy, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			l, err := websocket.NewListener(websocket.Config{URL: "ws://127.0.0.1:0/usp", ControllerID: testCtrl})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			defer func() { cancel(); l.Close(); wg.Wait() }()
			got := make(chan string, 4)
			wg.Add(1)
			go func() {
				defer wg.Done()
				stranger := usp.Codec{LocalID: "proto::stranger"}
				for {
					conn, err := l.Accept(ctx)
					if err != nil {
						return
					}
					data, _ := stranger.Seal(conn.Info().Peer, usp.NewRequest("g", &pb.Get{ParamPaths: []string{
						"Device.DeviceInfo.SoftwareVersion", "Device.LocalAgent.Controller.1.EndpointID"}}))
					_ = conn.Send(ctx, data)
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer conn.Close()
						for {
							data, err := conn.Recv(ctx)
							if err != nil {
								return
							}
							in, err := stranger.Open(data)
							if err != nil || in.Msg == nil {
								continue // the Connect Record, or a Record for the fleet's controller
							}
							select {
							case got <- describeAnswer(in.Msg):
							default: // the first answers are enough
							}
						}
					}()
				}
			}()
			args := []string{"fleet", "--ws-url", l.(*websocket.Listener).URL(), "--controller-id", testCtrl, "--devices", "1", "--duration", "1500ms", "--quiet"}
			if tc.policy != "" {
				args = append(args, "--unknown-controllers", tc.policy)
			}
			runFleetFor(t, args...)
			select {
			case a := <-got:
				if a != tc.want {
					t.Fatalf("the stranger got %q, want %q", a, tc.want)
				}
			default:
				t.Fatal("the stranger got no answer")
			}
		})
	}
}

// describeAnswer says what a Get got: "error N", or the SoftwareVersion
// and the code of the Controller path.
func describeAnswer(m *pb.Msg) string {
	if e := m.GetBody().GetError(); e != nil {
		return fmt.Sprintf("error %d", e.GetErrCode())
	}
	var version string
	var code uint32
	for _, rr := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		if strings.HasPrefix(rr.GetRequestedPath(), "Device.LocalAgent.") {
			code = rr.GetErrCode()
		}
		for _, res := range rr.GetResolvedPathResults() {
			if v, ok := res.GetResultParams()["SoftwareVersion"]; ok {
				version = v
			}
		}
	}
	return fmt.Sprintf("version %s, controller path %d", version, code)
}

// A controller that runs an E2E session with a device over WebSocket:
// it sets the device's MaxUSPRecordSize to 1024, asks for the whole
// supported data model in its session, and gets it segmented in Records
// none larger than that, reassembled whole.
func TestFleet_E2ESession(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	l, err := websocket.NewListener(websocket.Config{URL: "ws://127.0.0.1:0/usp", ControllerID: testCtrl})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		records, largest, size int
		err                    error
	}
	done := make(chan result, 1)
	var wg sync.WaitGroup
	defer func() { cancel(); l.Close(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := l.Accept(ctx)
		if err != nil {
			return
		}
		defer conn.Close()
		done <- e2eGSDM(ctx, conn)
	}()
	runFleetFor(t, "fleet", "--ws-url", l.(*websocket.Listener).URL(), "--controller-id", testCtrl, "--devices", "1", "--duration", "3s", "--quiet")
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatal("no result")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("%d Records, the largest %d bytes, for a %d-byte answer", r.records, r.largest, r.size)
	if r.records < 2 || r.largest > 1024 || r.size < 1024 {
		t.Fatalf("%d Records, the largest %d bytes, for a %d-byte answer", r.records, r.largest, r.size)
	}
}

// e2eGSDM is the controller's side of TestFleet_E2ESession.
func e2eGSDM(ctx context.Context, conn mtp.Conn) (r struct {
	records, largest, size int
	err                    error
}) {
	codec := usp.Codec{LocalID: testCtrl}
	peer := conn.Info().Peer
	set, _ := codec.Seal(peer, usp.NewRequest("set", &pb.Set{UpdateObjs: []*pb.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.E2ESession.",
		ParamSettings: []*pb.Set_UpdateParamSetting{{Param: "MaxUSPRecordSize", Value: "1024", Required: true}}}}}))
	if r.err = conn.Send(ctx, set); r.err != nil {
		return r
	}
	var s *e2e.Session
	for {
		data, err := conn.Recv(ctx)
		if err != nil {
			r.err = fmt.Errorf("recv: %w", err)
			return r
		}
		in, err := codec.Open(data)
		if sr, ok := usp.IsSessionRecord(err); ok && s != nil {
			r.records++
			r.largest = max(r.largest, len(data))
			res, err := s.Receive(sr, time.Now())
			if err != nil {
				r.err = err
				return r
			}
			for _, b := range res.Out {
				_ = conn.Send(ctx, b)
			}
			for _, p := range res.Payloads {
				m, err := usp.DecodeMsg(p)
				if err != nil {
					r.err = err
					return r
				}
				if m.GetBody().GetResponse().GetGetSupportedDmResp() != nil {
					r.size = len(p)
					return r
				}
			}
			continue
		}
		if err != nil || in.Msg == nil {
			continue // the Connect Record; the device's Boot! and others
		}
		if in.Msg.GetBody().GetResponse().GetSetResp() != nil && s == nil {
			if s, r.err = e2e.New(e2e.Config{MaxRecordSize: 1024}, testCtrl, peer, 2, time.Now()); r.err != nil {
				return r
			}
			payload, _ := usp.EncodeMsg(usp.NewRequest("gsdm", &pb.GetSupportedDM{ObjPaths: []string{"Device."}, ReturnParams: true, ReturnCommands: true, ReturnEvents: true}))
			recs, err := s.Send(payload, time.Now())
			if err != nil {
				r.err = err
				return r
			}
			for _, b := range recs {
				if r.err = conn.Send(ctx, b); r.err != nil {
					return r
				}
			}
		} else if e := in.Msg.GetBody().GetError(); e != nil {
			r.err = fmt.Errorf("error %d %s", e.GetErrCode(), e.GetErrMsg())
			return r
		}
	}
}
