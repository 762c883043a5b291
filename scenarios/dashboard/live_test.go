package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"brickyard/sim/fleet"
	"brickyard/sim/index"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
	rec "brickyard/usp/usprecord"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func newIndex(t testing.TB, ids ...string) *index.Index {
	t.Helper()
	idx, err := index.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := idx.Put(index.Device{ID: id, Board: "uboot-nor", Version: "1.0.0"}); err != nil {
			t.Fatal(err)
		}
	}
	return idx
}

// record is a no_session_context Record of msg from → to.
func record(t testing.TB, from, to string, msg *pb.Msg) []byte {
	t.Helper()
	payload, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(&rec.Record{Version: "1.3", ToId: to, FromId: from,
		RecordType: &rec.Record_NoSessionContext{NoSessionContext: &rec.NoSessionContextRecord{Payload: payload}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func get(id string) *pb.Msg {
	return &pb.Msg{Header: &pb.Header{MsgId: id, MsgType: pb.Header_GET},
		Body: &pb.Body{MsgBody: &pb.Body_Request{Request: &pb.Request{ReqType: &pb.Request_Get{Get: &pb.Get{ParamPaths: []string{"Device."}}}}}}}
}

func getResp(id string) *pb.Msg {
	return &pb.Msg{Header: &pb.Header{MsgId: id, MsgType: pb.Header_GET_RESP},
		Body: &pb.Body{MsgBody: &pb.Body_Response{Response: &pb.Response{RespType: &pb.Response_GetResp{GetResp: &pb.GetResp{}}}}}}
}

func uspError(id string, code uint32) *pb.Msg {
	return &pb.Msg{Header: &pb.Header{MsgId: id, MsgType: pb.Header_ERROR},
		Body: &pb.Body{MsgBody: &pb.Body_Error{Error: &pb.Error{ErrCode: code, ErrMsg: "no"}}}}
}

func TestLive_Device(t *testing.T) {
	const dev, ctrl = "os::dev-1", "proto::ctrl"
	idx := newIndex(t, dev)
	l := New(Config{Title: "t", Index: idx, Start: t0, Events: 3, Messages: 2})
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	l.Record(dev, true, record(t, ctrl, dev, get("m1")), at(1))
	l.Record(dev, false, record(t, dev, ctrl, getResp("m1")), at(2))
	long := strings.Repeat("x", 60)
	l.Record(dev, true, record(t, ctrl, dev, get(long)), at(3))
	l.Record(dev, false, record(t, dev, ctrl, uspError(long, 7006)), at(4))
	l.Record(dev, true, []byte("not a record"), at(4))
	l.Link(dev, fleet.LinkUp, nil, at(0))
	l.Link(dev, fleet.LinkDown, errors.New("reset"), at(5))
	l.Link(dev, fleet.LinkFail, errors.New("refused"), at(6))
	l.Link(dev, fleet.LinkUp, nil, at(7))
	for i, k := range []string{"boot", "download-start", "downloaded", "power-cut", "rolled-back"} {
		l.Event(dev, k, fmt.Sprintf("n=%d", i), at(10+i))
	}

	v, ok := l.Device(dev)
	if !ok {
		t.Fatal("no device")
	}
	if v.Received != 2 || v.Sent != 2 || v.Sessions != 2 || v.EventsSeen != 5 || v.MessagesSeen != 4 {
		t.Errorf("counts: %+v", v)
	}
	var kinds []string
	for _, e := range v.Events {
		kinds = append(kinds, fmt.Sprintf("%g %s %s", e.T, e.Kind, e.Detail))
	}
	if got, want := strings.Join(kinds, "; "), "12 downloaded n=2; 13 power-cut n=3; 14 rolled-back n=4"; got != want {
		t.Errorf("events: %s, want %s", got, want)
	}
	if len(v.MessageList) != 2 {
		t.Fatalf("messages: %+v", v.MessageList)
	}
	m := v.MessageList[0]
	if m.Dir != "in" || m.Type != "Get" || m.Body != "request" || m.MsgID != strings.Repeat("x", msgIDBytes)+"…" || m.T != 3 {
		t.Errorf("message 0: %+v", m)
	}
	if m := v.MessageList[1]; m.Dir != "out" || m.Type != "Error" || m.Body != "error" || m.Code != 7006 {
		t.Errorf("message 1: %+v", m)
	}
	if u := v.Update; u == nil || u.Seconds != 3 || u.Result != "rolled-back" || !u.Done {
		t.Errorf("update: %+v", u)
	}
	if _, ok := l.Device("os::nobody"); ok {
		t.Error("a device the index does not have")
	}

	l.Sample(Sample{Elapsed: time.Second, Outcomes: idx.Counts(index.ByOutcome)})
	s := l.Snapshot()
	if s.Links != (Links{Up: 2, Failed: 1, Lost: 1, Reconnects: 1}) {
		t.Errorf("links %+v", s.Links)
	}
	msgs := map[string]Messages{}
	for _, m := range s.Messages {
		msgs[m.Type] = m
	}
	if msgs["Get"].Received != 2 || msgs["GetResp"].Sent != 1 || msgs["Error"].Sent != 1 || len(msgs) != 3 {
		t.Errorf("messages %+v", s.Messages)
	}
	if len(s.Errors) != 1 || s.Errors[0] != (ErrorCount{Code: 7006, N: 1}) {
		t.Errorf("errors %+v", s.Errors)
	}
	if len(s.Slowest) != 1 || s.Slowest[0].ID != dev || s.Slowest[0].Seconds != 3 {
		t.Errorf("slowest %+v", s.Slowest)
	}
	if s.Devices != 1 || s.Version != 1 || len(s.Series) != 1 {
		t.Errorf("devices %d version %d series %d", s.Devices, s.Version, len(s.Series))
	}
}

// An update under way counts until the latest time any device reported.
func TestLive_SlowestUnderWay(t *testing.T) {
	idx := newIndex(t, "a", "b", "c")
	l := New(Config{Index: idx, Start: t0})
	l.Event("a", "download-start", "", t0.Add(time.Second))
	l.Event("b", "download-start", "", t0.Add(2*time.Second))
	l.Event("b", "confirmed", "", t0.Add(4*time.Second))
	l.Event("c", "boot", "", t0.Add(10*time.Second))
	l.Sample(Sample{})
	got := l.Snapshot().Slowest
	want := []SlowRow{{ID: "a", Seconds: 9, Result: "under way"}, {ID: "b", Seconds: 2, Result: "confirmed", Done: true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("slowest %+v, want %+v", got, want)
	}
}

// The series keeps at most Points samples: past them, every other one.
func TestLive_SeriesBounded(t *testing.T) {
	idx := newIndex(t, "a")
	l := New(Config{Index: idx, Points: 10})
	for i := range 1000 {
		l.Sample(Sample{Elapsed: time.Duration(i) * time.Second, Outcomes: map[string]int{"pending": i}})
	}
	l.Sample(Sample{Elapsed: 999 * time.Second, Outcomes: map[string]int{"updated": 1}, Final: true})
	s := l.Snapshot()
	if len(s.Series) >= 10 || len(s.Series) < 4 {
		t.Fatalf("%d points", len(s.Series))
	}
	for i := 1; i < len(s.Series); i++ {
		if s.Series[i].T <= s.Series[i-1].T {
			t.Fatalf("points out of order: %+v", s.Series)
		}
	}
	if last := s.Series[len(s.Series)-1]; last.T != 999 || last.Outcomes["updated"] != 1 || !s.Final {
		t.Errorf("last point %+v, final %v", last, s.Final)
	}
}

// Error codes past MaxCodes are summed, not kept apart; latency types too.
func TestLive_Bounds(t *testing.T) {
	idx := newIndex(t, "a")
	l := New(Config{Index: idx})
	for c := range uint32(MaxCodes + 10) {
		l.Saw("a", true, usp.Glance{Kind: usp.RecordNoSession, HasMsg: true, Type: pb.Header_ERROR, Body: usp.BodyError, ErrCode: 7000 + c}, t0)
		l.Latency(fmt.Sprint("type", c), time.Millisecond)
	}
	s := l.Snapshot()
	if len(s.Errors) != MaxCodes+1 || !s.Errors[0].Other || s.Errors[0].N != 10 {
		t.Errorf("%d error rows, first %+v", len(s.Errors), s.Errors[0])
	}
	n := 0
	for _, lt := range s.Latency {
		n += lt.Count
	}
	if len(s.Latency) != MaxCodes+1 || n != MaxCodes+10 {
		t.Errorf("%d latency rows counting %d", len(s.Latency), n)
	}
	for _, bad := range []time.Duration{-time.Second, 0, 1 << 62} {
		l.Latency("Get", bad) // no panic; a negative latency counts as zero
	}
}

// Failing devices and the tables by board and wave come from the index:
// the devices' real state.
func TestLive_Tables(t *testing.T) {
	idx := newIndex(t)
	for i, d := range []index.Device{
		{ID: "a", Board: "esp32-ota", Wave: 1, Outcome: "updated"},
		{ID: "b", Board: "esp32-ota", Wave: 1, Outcome: "bricked"},
		{ID: "c", Board: "uboot-nor", Wave: 2, Outcome: "rolled_back"},
		{ID: "d", Board: "uboot-nor", Wave: 2},
	} {
		d.Version = fmt.Sprint(i)
		if err := idx.Put(d); err != nil {
			t.Fatal(err)
		}
	}
	l := New(Config{Index: idx})
	l.Sample(Sample{})
	s := l.Snapshot()
	if fmt.Sprint(s.Boards) != "[{esp32-ota map[bricked:1 updated:1]} {uboot-nor map[pending:1 rolled_back:1]}]" {
		t.Errorf("boards %v", s.Boards)
	}
	if fmt.Sprint(s.ByWave) != "[{wave 1 map[bricked:1 updated:1]} {wave 2 map[pending:1 rolled_back:1]}]" {
		t.Errorf("by wave %v", s.ByWave)
	}
	var ids []string
	for _, d := range s.Failing {
		ids = append(ids, d.ID+"="+d.Outcome)
	}
	if strings.Join(ids, " ") != "b=bricked c=rolled_back" {
		t.Errorf("failing %v", ids)
	}
}

// Changed is closed by the next Sample.
func TestLive_Changed(t *testing.T) {
	l := New(Config{Index: newIndex(t)})
	ch, v := l.Changed()
	select {
	case <-ch:
		t.Fatal("closed before a Sample")
	default:
	}
	l.Sample(Sample{})
	select {
	case <-ch:
	default:
		t.Fatal("not closed by a Sample")
	}
	if _, v2 := l.Changed(); v2 != v+1 {
		t.Errorf("version %d after %d", v2, v)
	}
}

// A nil Live takes every call and does nothing.
func TestLive_Nil(t *testing.T) {
	var l *Live
	l.Record("a", true, nil, t0)
	l.Saw("a", true, usp.Glance{}, t0)
	l.Link("a", fleet.LinkUp, nil, t0)
	l.Event("a", "boot", "", t0)
	l.Latency("Get", time.Second)
	l.Sample(Sample{})
}

func BenchmarkLive_Saw(b *testing.B) {
	idx := newIndex(b)
	l := New(Config{Index: idx})
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("os::dev-%d", i)
	}
	g, err := usp.Peek(record(b, "proto::ctrl", ids[0], get("m-123456")))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Saw(ids[i%len(ids)], i%2 == 0, g, t0)
			i++
		}
	})
}

// fleet10k is a Live following 10,000 devices, each with a full history:
// 16 events and 8 messages.
func fleet10k(b *testing.B) *Live {
	idx := newIndex(b)
	ds := make([]index.Device, 10000)
	for i := range ds {
		ds[i] = index.Device{ID: fmt.Sprintf("os::00256D-SIM%06d", i+1), Board: []string{"uboot-nor", "esp32-ota", "mcuboot-nrf52"}[i%3],
			Version: "1.0.0", Wave: 1 + i%4, Outcome: []string{"pending", "updated", "updated", "rolled_back"}[i%4]}
	}
	if err := idx.PutAll(ds); err != nil {
		b.Fatal(err)
	}
	l := New(Config{Index: idx, Start: t0})
	g, err := usp.Peek(record(b, "proto::ctrl", ds[0].ID, get("campaign-123456")))
	if err != nil {
		b.Fatal(err)
	}
	for i, d := range ds {
		for k := range DefaultEvents {
			l.Event(d.ID, "download-start", "row=2 url=http://127.0.0.1:8080/images/uboot-nor/2.0.0.img", t0.Add(time.Duration(i+k)*time.Millisecond))
		}
		for k := range DefaultMessages {
			l.Saw(d.ID, k%2 == 0, g, t0)
		}
	}
	return l
}

// The memory a Live holds per device with a full history.
func BenchmarkLive_MemoryPerDevice(b *testing.B) {
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		l := fleet10k(b)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/10000, "B/device")
		runtime.KeepAlive(l)
	}
}

// One Sample and one page update (the State as JSON) of 10,000 devices:
// what the dashboard costs a second, per page open.
func BenchmarkLive_SampleAndSnapshot(b *testing.B) {
	l := fleet10k(b)
	idx := l.cfg.Index
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		l.Sample(Sample{Elapsed: time.Duration(i) * time.Second, Outcomes: idx.Counts(index.ByOutcome), Conn: idx.Counts(index.ByConn),
			Phases: idx.Counts(index.ByPhase)})
		if _, err := json.Marshal(l.Snapshot()); err != nil {
			b.Fatal(err)
		}
	}
}

// A point holds the outcomes of the first MaxGroups boards and waves, the
// rest summed as other, at every fifth recount and at the last.
func TestLive_Groups(t *testing.T) {
	idx := newIndex(t)
	for i := range 12 {
		if err := idx.Put(index.Device{ID: fmt.Sprint("d", i), Board: fmt.Sprintf("b%02d", i), Version: "1", Wave: 1 + i%2}); err != nil {
			t.Fatal(err)
		}
	}
	l := New(Config{Index: idx})
	for i := range 7 {
		l.Sample(Sample{Elapsed: time.Duration(i) * time.Second, Final: i == 6})
	}
	var with []float64
	var names []string
	for _, p := range l.Snapshot().Series {
		if p.Groups != nil {
			with = append(with, p.T)
			if names == nil {
				for _, g := range p.Groups {
					names = append(names, fmt.Sprintf("%s %d", g.Name, g.Outcomes["pending"]))
				}
			}
		}
	}
	if fmt.Sprint(with) != "[0 5 6]" {
		t.Errorf("groups at %v", with)
	}
	want := "[board b00 1 board b01 1 board b02 1 board b03 1 board b04 1 board b05 1 board b06 1 board b07 1 board other 4 wave 1 6 wave 2 6]"
	if fmt.Sprint(names) != want {
		t.Errorf("groups %v\nwant %v", names, want)
	}
}
