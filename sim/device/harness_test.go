package device

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"brickyard/boards"
	"brickyard/boards/boardtest"
	"brickyard/boards/profile"
	"brickyard/flash"
	"brickyard/sim/faults"
	"brickyard/usp"
	"brickyard/usp/dm"
	pb "brickyard/usp/uspmsg"
)

// The scripted controller: it owns the device's shell (MTP session,
// timers, fetches, power) in virtual time and plays a USP Controller.

const (
	ctrlID  = "proto::controller"
	agentID = "os::00256D-SIM0001"
)

var t0 = time.Date(2025, 6, 9, 12, 0, 0, 0, time.UTC)

var (
	testSchema   *dm.Schema
	testProfiles profile.Set
	factories    = map[string]*boards.Board{}
)

func schema(t testing.TB) *dm.Schema {
	t.Helper()
	if testSchema == nil {
		s, err := NewSchema()
		if err != nil {
			t.Fatal(err)
		}
		testSchema = s
	}
	return testSchema
}

func profiles(t testing.TB) profile.Set {
	t.Helper()
	if testProfiles == nil {
		data, err := os.ReadFile("../../configs/boards.yaml")
		if err != nil {
			t.Fatal(err)
		}
		set, err := profile.Parse("configs/boards.yaml", data, profile.Loaders())
		if err != nil {
			t.Fatal(err)
		}
		testProfiles = set
	}
	return testProfiles
}

// factory returns the factory board of profile name running 1.0.0. Every
// device gets a Clone.
func factory(t testing.TB, name string) *boards.Board {
	t.Helper()
	if b := factories[name]; b != nil {
		return b
	}
	p, err := profiles(t).Get(name)
	if err != nil {
		t.Fatal(err)
	}
	img := boardtest.Blob(boardtest.Spec{Board: name, Version: "1.0.0", PayloadSize: 6000}, p.Flash.Erased)
	b, err := p.Provision(boardtest.Keyring(), img)
	if err != nil {
		t.Fatal(err)
	}
	factories[name] = b
	return b
}

// fwImage is a signed image for board name.
func fwImage(name, version string, flags uint32) []byte {
	return boardtest.Image(boardtest.Spec{Board: name, Version: version, PayloadSize: 9000, Flags: flags})
}

var abBoards = []string{"uboot-nor", "mcuboot-nrf52", "esp32-ota"}

type item struct {
	at  time.Time
	seq int
	gen int // the device's power generation it belongs to (0: any)
	fn  func()
}

type harness struct {
	t      testing.TB
	d      *Device
	ctrl   usp.Codec
	board  string
	now    time.Time
	q      []item
	seq    int
	gen    int
	timers map[TimerID]time.Time
	files  map[string][]byte
	cancel map[FetchID]bool

	fetchDelay     time.Duration
	reachable      bool // the controller can be reached
	autoNotifyResp bool // answer every Notify with send_resp
	online         bool
	dead           bool
	quiet          bool // do not fail on unexpected Records

	msgs        []*pb.Msg
	events      []Event
	disconnects int
	msgID       int
}

func newHarness(t testing.TB, board string, mod func(*Config)) *harness {
	t.Helper()
	return newHarnessOn(t, board, factory(t, board).Clone(), mod)
}

// newHarnessOn is newHarness with the device's board given: b, of profile
// board.
func newHarnessOn(t testing.TB, board string, b *boards.Board, mod func(*Config)) *harness {
	t.Helper()
	cfg := Config{EndpointID: agentID, ControllerID: ctrlID, SerialNumber: "SIM0001", MTP: "WebSocket", Seed: 7}
	if mod != nil {
		mod(&cfg)
	}
	s := schema(t)
	if cfg.Model != nil {
		var err error
		if s, err = NewSchemaWith(cfg.Model); err != nil {
			t.Fatal(err)
		}
	}
	d, err := New(cfg, b, s)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, d: d, ctrl: usp.Codec{LocalID: ctrlID}, board: board, now: t0,
		timers: map[TimerID]time.Time{}, files: map[string][]byte{}, cancel: map[FetchID]bool{},
		fetchDelay: 3 * time.Second, reachable: true, autoNotifyResp: true}
	return h
}

// boot powers the device on and runs until it is connected.
func (h *harness) boot() *harness {
	h.t.Helper()
	h.apply(h.d.PowerOn(h.now))
	h.runUntil(func() bool { return h.online }, time.Minute)
	if !h.online {
		h.t.Fatalf("device did not connect: %v", h.events)
	}
	return h
}

func (h *harness) at(t time.Time, gen int, fn func()) {
	h.seq++
	h.q = append(h.q, item{at: t, seq: h.seq, gen: gen, fn: fn})
}

// step runs the next scheduled item; false when there is none.
func (h *harness) step(limit time.Time) bool {
	if len(h.q) == 0 {
		return false
	}
	i := 0
	for j, it := range h.q {
		if it.at.Before(h.q[i].at) || (it.at.Equal(h.q[i].at) && it.seq < h.q[i].seq) {
			i = j
		}
	}
	it := h.q[i]
	if it.at.After(limit) {
		return false
	}
	h.q = slices.Delete(h.q, i, i+1)
	if it.at.After(h.now) {
		h.now = it.at
	}
	if it.gen == 0 || it.gen == h.gen {
		it.fn()
	}
	return true
}

// run advances virtual time by d, running everything due.
func (h *harness) run(d time.Duration) {
	limit := h.now.Add(d)
	for n := 0; h.step(limit); n++ {
		if n > 100000 {
			h.t.Fatal("runaway simulation")
		}
	}
	h.now = limit
}

// runUntil runs until cond holds or d has passed.
func (h *harness) runUntil(cond func() bool, d time.Duration) {
	limit := h.now.Add(d)
	for n := 0; !cond(); n++ {
		if !h.step(limit) || n > 100000 {
			return
		}
	}
}

// apply is the shell: it carries out an Output in the documented order.
func (h *harness) apply(out Output) {
	h.t.Helper()
	h.events = append(h.events, out.Events...)
	for _, r := range out.Records {
		if r.To != ctrlID {
			h.t.Errorf("record to %q", r.To)
		}
		if !h.online {
			h.t.Errorf("record emitted while the session is down")
		}
		h.deliverToController(r.Data)
	}
	if out.Disconnect {
		h.online = false
	}
	if !out.Reboot.IsZero() {
		h.gen++
		h.online = false
		clear(h.timers)
		at := out.Reboot
		h.at(at, 0, func() { h.apply(h.d.PowerOn(h.now)) })
		return
	}
	if out.Dead {
		h.dead = true
		h.online = false
		return
	}
	for _, tm := range out.Timers {
		if tm.At.IsZero() {
			delete(h.timers, tm.ID)
			continue
		}
		h.timers[tm.ID] = tm.At
		id, at := tm.ID, tm.At
		h.at(at, h.gen, func() {
			if cur, ok := h.timers[id]; ok && cur.Equal(at) {
				delete(h.timers, id)
				h.apply(h.d.Timer(h.now, id))
			}
		})
	}
	for _, id := range out.CancelFetches {
		h.cancel[id] = true
	}
	for _, f := range out.Fetches {
		h.fetch(f)
	}
	if out.Connect {
		h.at(h.now.Add(100*time.Millisecond), h.gen, func() {
			if h.reachable {
				h.online = true
				h.apply(h.d.Connected(h.now))
			} else {
				h.apply(h.d.Disconnected(h.now))
			}
		})
	}
}

func (h *harness) fetch(f Fetch) {
	// Every download is bounded by a slot of the board: the shell must not
	// hold more for it.
	if fits := func() bool {
		for _, s := range h.d.board.Loader.Slots() {
			if p, _ := h.d.board.Layout.Get(s); p.Size == f.MaxSize {
				return true
			}
		}
		return false
	}(); !fits {
		h.t.Errorf("fetch %s: MaxSize %d is no slot's size", f.URL, f.MaxSize)
	}
	data, ok := h.files[f.URL]
	var err error
	if !ok {
		err = errors.New("HTTP 404 Not Found")
	} else {
		data = slices.Clone(data)
		if f.Truncate > 0 {
			data = data[:int(float64(len(data))*f.Truncate)]
		}
		if f.Corrupt && len(data) > 0 {
			data[len(data)/2] ^= 0x40
		}
	}
	if f.PowerCut != nil {
		h.at(h.now.Add(time.Duration(float64(h.fetchDelay)*f.PowerCut.Fraction)), h.gen, func() {
			h.apply(h.d.PowerCut(h.now))
		})
	}
	h.at(h.now.Add(h.fetchDelay), h.gen, func() {
		if !h.cancel[f.ID] {
			h.apply(h.d.FetchDone(h.now, f.ID, data, err))
		}
	})
}

// deliverToController decodes a Record as the controller and answers
// Notifies that ask for it.
func (h *harness) deliverToController(b []byte) {
	in, err := h.ctrl.Open(b)
	if err != nil {
		h.t.Errorf("controller cannot open a device record: %v", err)
		return
	}
	if in.Record.GetDisconnect() != nil {
		h.disconnects++
		return
	}
	if in.Msg == nil {
		return
	}
	h.msgs = append(h.msgs, in.Msg)
	if n := in.Msg.GetBody().GetRequest().GetNotify(); n != nil && n.GetSendResp() && h.autoNotifyResp {
		h.send(usp.NewResponse(in.Msg.GetHeader().GetMsgId(), &pb.NotifyResp{SubscriptionId: n.GetSubscriptionId()}))
	}
}

// send delivers a Msg from the controller to the device (while online).
func (h *harness) send(m *pb.Msg) {
	rec, err := h.ctrl.Seal(agentID, m)
	if err != nil {
		h.t.Fatal(err)
	}
	h.sendRaw(rec)
}

func (h *harness) sendRaw(rec []byte) {
	h.at(h.now, h.gen, func() {
		if h.online {
			h.apply(h.d.Receive(h.now, rec))
		}
	})
}

func (h *harness) nextID() string {
	h.msgID++
	return fmt.Sprintf("c-%d", h.msgID)
}

// request sends a request and runs until its answer arrives.
func (h *harness) request(m *pb.Msg) *pb.Msg {
	h.t.Helper()
	id := m.GetHeader().GetMsgId()
	start := len(h.msgs)
	h.send(m)
	var resp *pb.Msg
	h.runUntil(func() bool {
		for _, x := range h.msgs[start:] {
			if x.GetHeader().GetMsgId() == id && !usp.IsRequest(x) {
				resp = x
				return true
			}
		}
		return false
	}, 10*time.Second)
	if resp == nil {
		h.t.Fatalf("no answer to %s (%v)", id, usp.TypeOf(m))
	}
	return resp
}

func (h *harness) get(paths ...string) map[string]string {
	h.t.Helper()
	resp := h.request(usp.NewRequest(h.nextID(), &pb.Get{ParamPaths: paths}))
	out := map[string]string{}
	for _, rr := range resp.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		if rr.GetErrCode() != 0 {
			h.t.Fatalf("get %s: %d %s", rr.GetRequestedPath(), rr.GetErrCode(), rr.GetErrMsg())
		}
		for _, r := range rr.GetResolvedPathResults() {
			for k, v := range r.GetResultParams() {
				out[r.GetResolvedPath()+k] = v
			}
		}
	}
	return out
}

func (h *harness) value(p string) string {
	h.t.Helper()
	v, ok := h.get(p)[p]
	if !ok {
		h.t.Fatalf("get %s: no value", p)
	}
	return v
}

func (h *harness) set(obj string, required bool, kv ...string) *pb.Msg {
	var ps []*pb.Set_UpdateParamSetting
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, &pb.Set_UpdateParamSetting{Param: kv[i], Value: kv[i+1], Required: required})
	}
	return h.request(usp.NewRequest(h.nextID(), &pb.Set{UpdateObjs: []*pb.Set_UpdateObject{{ObjPath: obj, ParamSettings: ps}}}))
}

func (h *harness) add(obj string, kv ...string) *pb.Msg {
	var ps []*pb.Add_CreateParamSetting
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, &pb.Add_CreateParamSetting{Param: kv[i], Value: kv[i+1], Required: true})
	}
	return h.request(usp.NewRequest(h.nextID(), &pb.Add{CreateObjs: []*pb.Add_CreateObject{{ObjPath: obj, ParamSettings: ps}}}))
}

// subscribe adds an enabled subscription.
func (h *harness) subscribe(id, typ, ref string, persistent, retry bool) {
	h.t.Helper()
	resp := h.add("Device.LocalAgent.Subscription.", "Enable", "true", "ID", id, "NotifType", typ,
		"ReferenceList", ref, "Persistent", fmt.Sprint(persistent), "NotifRetry", fmt.Sprint(retry),
		"NotifExpiration", "3600")
	if resp.GetBody().GetResponse().GetAddResp() == nil {
		h.t.Fatalf("subscribe %s: %v", id, resp)
	}
}

// standardSubs are the TP-469 firmware subscriptions, persistent.
func (h *harness) standardSubs() {
	h.subscribe("boot", "Event", "Device.Boot!", true, true)
	h.subscribe("xfer", "Event", "Device.LocalAgent.TransferComplete!", true, true)
	h.subscribe("oc", "OperationComplete", "Device.DeviceInfo.FirmwareImage.", true, true)
}

func (h *harness) operate(cmd, key string, args ...string) *pb.OperateResp_OperationResult {
	h.t.Helper()
	in := map[string]string{}
	for i := 0; i+1 < len(args); i += 2 {
		in[args[i]] = args[i+1]
	}
	resp := h.request(usp.NewRequest(h.nextID(), &pb.Operate{Command: cmd, CommandKey: key, SendResp: true, InputArgs: in}))
	rs := resp.GetBody().GetResponse().GetOperateResp().GetOperationResults()
	if len(rs) != 1 {
		h.t.Fatalf("operate %s: %v", cmd, resp)
	}
	return rs[0]
}

// events_ lists the Notify events name since from, one per msg_id.
func (h *harness) events_(name string, from int) []*pb.Notify_Event {
	var out []*pb.Notify_Event
	seen := map[string]bool{}
	for _, m := range h.msgs[from:] {
		if e := m.GetBody().GetRequest().GetNotify().GetEvent(); e != nil && e.GetEventName() == name && !seen[m.GetHeader().GetMsgId()] {
			seen[m.GetHeader().GetMsgId()] = true
			out = append(out, e)
		}
	}
	return out
}

// operComplete lists the OperationCompletes for command since from, one
// per msg_id (a Notify retried after a reboot counts once, as a
// controller deduplicates it).
func (h *harness) operComplete(command string, from int) []*pb.Notify_OperationComplete {
	var out []*pb.Notify_OperationComplete
	seen := map[string]bool{}
	for _, m := range h.msgs[from:] {
		if oc := m.GetBody().GetRequest().GetNotify().GetOperComplete(); oc != nil && oc.GetCommandName() == command && !seen[m.GetHeader().GetMsgId()] {
			seen[m.GetHeader().GetMsgId()] = true
			out = append(out, oc)
		}
	}
	return out
}

// waitEvent runs until the n-th Notify event name since from arrives.
func (h *harness) waitEvent(name string, from, n int, d time.Duration) []*pb.Notify_Event {
	h.t.Helper()
	h.runUntil(func() bool { return len(h.events_(name, from)) >= n }, d)
	es := h.events_(name, from)
	if len(es) < n {
		h.t.Fatalf("%d %s events within %s, want %d; events:\n%s", len(es), name, d, n, h.eventLog())
	}
	return es
}

func (h *harness) hasEvent(k EventKind) bool {
	return slices.ContainsFunc(h.events, func(e Event) bool { return e.Kind == k })
}

func (h *harness) eventLog() string {
	var b strings.Builder
	for _, e := range h.events {
		fmt.Fprintf(&b, "+%-8s %s", e.At.Sub(t0), e.Kind)
		if e.Detail != "" {
			b.WriteString(" " + e.Detail)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// serve publishes an image at url.
func (h *harness) serve(url string, img []byte) { h.files[url] = img }

func withFaults(f faults.Faults) func(*Config) { return func(c *Config) { c.Faults = f } }

var _ = flash.ErrPowerLost

// checkMsgIDs fails if two different Notifies share a msg_id: only a
// retransmission may repeat one (R-NOT.1).
func (h *harness) checkMsgIDs() {
	h.t.Helper()
	byID := map[string]*pb.Msg{}
	for _, m := range h.msgs {
		if m.GetBody().GetRequest().GetNotify() == nil {
			continue
		}
		id := m.GetHeader().GetMsgId()
		if prev, ok := byID[id]; ok && !proto.Equal(prev, m) {
			h.t.Fatalf("msg_id %s reused:\n%v\n%v", id, prev, m)
		}
		byID[id] = m
	}
}

func sha256hex(b []byte) string {
	h := newHash("SHA-256")
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func slicesSort(s []string) { slices.Sort(s) }

// fwImageSize is a signed image with a payload of n bytes.
func fwImageSize(name, version string, n int) []byte {
	return boardtest.Image(boardtest.Spec{Board: name, Version: version, PayloadSize: n})
}
