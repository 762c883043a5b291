package misbehave

import (
	"strings"
	"testing"
	"time"

	"brickyard/sim/faults"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

const dev, ctrl = "os::dev-1", "proto::ctrl"

func seal(t testing.TB, m *pb.Msg) []byte {
	t.Helper()
	b, err := usp.Codec{LocalID: dev}.Seal(ctrl, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func getResp(id string) *pb.Msg { return usp.NewResponse(id, &pb.GetResp{}) }
func notify(id string) *pb.Msg {
	return usp.NewRequest(id, &pb.Notify{SubscriptionId: "s", SendResp: true,
		Notification: &pb.Notify_Event_{Event: &pb.Notify_Event{ObjPath: "Device.", EventName: "Boot!"}}})
}

func operComplete(id string) *pb.Msg {
	return usp.NewRequest(id, usp.OperComplete("s", true, "Device.DeviceInfo.FirmwareImage.2.", "Download()", "k", nil, nil, nil))
}

// glance is what a controller reads of one Record: its to_id and msg_id,
// or why it is not a Record.
func glance(b []byte) string {
	g, err := usp.Peek(b)
	if err != nil {
		return "not a record"
	}
	return string(g.To) + " " + string(g.MsgID)
}

func TestSend(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    faults.Behaviour
		msgs []*pb.Msg // sent in turn; the last one's result is checked
		want string    // what goes out: "after glance" per Record, ";"-separated
		note string
	}{
		{"delay fixed", faults.Behaviour{Kind: faults.AnswerDelay, Delay: 2 * time.Second},
			[]*pb.Msg{getResp("a")}, "2s proto::ctrl a", "answer-delay msg_id=a by=2s"},
		{"delay spares requests", faults.Behaviour{Kind: faults.AnswerDelay, Delay: 2 * time.Second},
			[]*pb.Msg{notify("n")}, "0s proto::ctrl n", ""},
		{"tail", faults.Behaviour{Kind: faults.AnswerDelay, Delay: time.Second, Tail: 1, TailDelay: time.Minute},
			[]*pb.Msg{getResp("a")}, "1m0s proto::ctrl a", "answer-delay msg_id=a by=1m0s"},
		{"drop", faults.Behaviour{Kind: faults.AnswerDrop}, []*pb.Msg{getResp("a")}, "", "answer-drop msg_id=a"},
		{"duplicate", faults.Behaviour{Kind: faults.AnswerDuplicate}, []*pb.Msg{getResp("a")},
			"0s proto::ctrl a;0s proto::ctrl a", "answer-duplicate msg_id=a"},
		{"notify repeat", faults.Behaviour{Kind: faults.NotifyRepeat, Count: 2}, []*pb.Msg{notify("n")},
			"0s proto::ctrl n;0s proto::ctrl n;0s proto::ctrl n", "notify-repeat msg_id=n copies=2"},
		{"notify repeat spares answers", faults.Behaviour{Kind: faults.NotifyRepeat, Count: 2}, []*pb.Msg{getResp("a")},
			"0s proto::ctrl a", ""},
		{"msgid wrong", faults.Behaviour{Kind: faults.MsgIDWrong}, []*pb.Msg{getResp("a"), getResp("b")},
			"0s proto::ctrl misbehave-2", "msgid-wrong msg_id=b sent=misbehave-2"},
		{"msgid reuse", faults.Behaviour{Kind: faults.MsgIDReuse}, []*pb.Msg{getResp("a"), getResp("b")},
			"0s proto::ctrl a", "msgid-reuse msg_id=b sent=a"},
		{"msgid reuse, first answer", faults.Behaviour{Kind: faults.MsgIDReuse}, []*pb.Msg{getResp("a")},
			"0s proto::ctrl a", ""},
		{"late complete", faults.Behaviour{Kind: faults.LateComplete}, []*pb.Msg{operComplete("oc")},
			"0s proto::ctrl oc late", "late-complete msg_id=oc held until the next boot"},
		{"late complete spares other Notifies", faults.Behaviour{Kind: faults.LateComplete}, []*pb.Msg{notify("n")},
			"0s proto::ctrl n", ""},
		{"wrong to", faults.Behaviour{Kind: faults.RecordWrongTo}, []*pb.Msg{notify("n")},
			"0s proto::brickyard-nobody n", "record-wrong-to to=proto::brickyard-nobody"},
		{"wrong to, named", faults.Behaviour{Kind: faults.RecordWrongTo, To: "proto::other"}, []*pb.Msg{getResp("a")},
			"0s proto::other a", "record-wrong-to to=proto::other"},
		{"malformed", faults.Behaviour{Kind: faults.RecordMalformed}, []*pb.Msg{getResp("a")}, "0s not a record", "record-malformed"},
		{"truncated", faults.Behaviour{Kind: faults.RecordTruncated}, []*pb.Msg{getResp("a")}, "0s not a record", "record-truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := New([]faults.Behaviour{tc.b}, 7)
			var outs []Out
			var notes []Note
			for _, m := range tc.msgs {
				outs, notes = d.Send(seal(t, m))
			}
			var got []string
			for _, o := range outs {
				g := o.After.String() + " " + glance(o.Data)
				if o.Late {
					g += " late"
				}
				got = append(got, g)
			}
			if s := strings.Join(got, ";"); s != tc.want {
				t.Errorf("sent %q, want %q", s, tc.want)
			}
			var ns []string
			for _, n := range notes {
				ns = append(ns, string(n.Kind)+" "+n.Detail)
			}
			if s := strings.Join(ns, ";"); !strings.HasPrefix(s, tc.note) || (tc.note == "") != (s == "") {
				t.Errorf("notes %q, want %q", s, tc.note)
			}
		})
	}
}

// An oversized Record is still a Record, with the same Msg, and at least
// the size asked.
func TestSend_Oversized(t *testing.T) {
	d := New([]faults.Behaviour{{Kind: faults.RecordOversized, Size: 1 << 20}}, 1)
	outs, _ := d.Send(seal(t, getResp("big")))
	if len(outs) != 1 || len(outs[0].Data) < 1<<20 {
		t.Fatalf("%d Records, %d bytes", len(outs), len(outs[0].Data))
	}
	in, err := usp.Codec{LocalID: ctrl, MaxRecordSize: 2 << 20}.Open(outs[0].Data)
	if err != nil || in.Msg.GetHeader().GetMsgId() != "big" {
		t.Fatalf("open: %v %v", err, in.Msg)
	}
}

// Truncation cuts inside the last field, wherever the rng draws: never a
// Record a decoder takes.
func TestSend_TruncatedNeverParses(t *testing.T) {
	d := New([]faults.Behaviour{{Kind: faults.RecordTruncated}}, 3)
	data := seal(t, getResp("a"))
	for i := range 2000 {
		outs, _ := d.Send(data)
		if len(outs[0].Data) >= len(data) || len(outs[0].Data) < 1 {
			t.Fatalf("%d: cut to %d of %d", i, len(outs[0].Data), len(data))
		}
		if _, err := usp.Peek(outs[0].Data); err == nil {
			t.Fatalf("%d: %x still parses", i, outs[0].Data)
		}
	}
	if outs, _ := d.Send([]byte{1}); len(outs[0].Data) != 0 {
		t.Errorf("a byte cut to %d", len(outs[0].Data))
	}
	if outs, _ := d.Send(nil); len(outs) != 1 || len(outs[0].Data) != 0 {
		t.Errorf("nothing: %v", outs)
	}
}

// The input is never modified: the caller may still own it.
func TestSend_LeavesInputAlone(t *testing.T) {
	bs := []faults.Behaviour{{Kind: faults.MsgIDWrong}, {Kind: faults.RecordWrongTo}, {Kind: faults.RecordMalformed},
		{Kind: faults.RecordTruncated}, {Kind: faults.RecordOversized, Size: 100}}
	d := New(bs, 1)
	data := seal(t, getResp("a"))
	keep := string(data)
	for range 10 {
		d.Send(data)
	}
	if string(data) != keep {
		t.Fatal("Send changed its input")
	}
}

// Chance picks that share of the Records, reproducibly from the seed.
func TestSend_Chance(t *testing.T) {
	run := func(seed uint64) (dropped int) {
		d := New([]faults.Behaviour{{Kind: faults.AnswerDrop, Chance: 0.25}}, seed)
		data := seal(t, getResp("a"))
		for range 4000 {
			if outs, _ := d.Send(data); len(outs) == 0 {
				dropped++
			}
		}
		return dropped
	}
	a, b := run(5), run(5)
	if a != b || a < 850 || a > 1150 {
		t.Errorf("dropped %d and %d of 4000 at chance 0.25", a, b)
	}
}

// The latency distributions stay in their bounds; a log-normal's median
// is its delay.
func TestLatency(t *testing.T) {
	for _, tc := range []struct {
		b        faults.Behaviour
		lo, hi   time.Duration
		medianLo time.Duration
		medianHi time.Duration
	}{
		{faults.Behaviour{Dist: faults.DistUniform, Delay: time.Second, MaxDelay: 3 * time.Second}, time.Second, 3 * time.Second, 1800 * time.Millisecond, 2200 * time.Millisecond},
		{faults.Behaviour{Dist: faults.DistLogNormal, Delay: 100 * time.Millisecond, Sigma: 1, MaxDelay: 10 * time.Second}, 0, 10 * time.Second, 90 * time.Millisecond, 110 * time.Millisecond},
		{faults.Behaviour{Dist: faults.DistLogNormal, Delay: time.Hour, Sigma: 10}, 0, maxDelay, 0, maxDelay},
	} {
		d := New([]faults.Behaviour{{Kind: faults.AnswerDelay}}, 9)
		var ds []time.Duration
		for range 4001 {
			x := d.latency(tc.b)
			if x < tc.lo || x > tc.hi {
				t.Fatalf("%+v: %v outside [%v, %v]", tc.b, x, tc.lo, tc.hi)
			}
			ds = append(ds, x)
		}
		med := median(ds)
		if med < tc.medianLo || med > tc.medianHi {
			t.Errorf("%+v: median %v", tc.b, med)
		}
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2]
}

// A nil Device sends every Record as it is.
func TestNil(t *testing.T) {
	if New(nil, 1) != nil {
		t.Fatal("New(nil) is not nil")
	}
	var d *Device
	data := seal(t, getResp("a"))
	outs, notes := d.Send(data)
	if len(outs) != 1 || &outs[0].Data[0] != &data[0] || notes != nil {
		t.Fatalf("%v %v", outs, notes)
	}
}

func FuzzSend(f *testing.F) {
	f.Add(seal(f, getResp("a")), uint8(0))
	f.Add(seal(f, notify("n")), uint8(3))
	f.Add([]byte{0x0a, 0x03, '1', '.', '3'}, uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, pick uint8) {
		all := []faults.Behaviour{{Kind: faults.AnswerDelay, Dist: faults.DistLogNormal, Delay: time.Millisecond, Sigma: 2},
			{Kind: faults.AnswerDrop, Chance: 0.5}, {Kind: faults.AnswerDuplicate}, {Kind: faults.MsgIDWrong}, {Kind: faults.MsgIDReuse},
			{Kind: faults.NotifyRepeat, Count: 2}, {Kind: faults.RecordMalformed, Chance: 0.1}, {Kind: faults.RecordTruncated, Chance: 0.1},
			{Kind: faults.RecordWrongTo}, {Kind: faults.RecordOversized, Size: 64}, {Kind: faults.LateComplete}}
		var bs []faults.Behaviour
		for i, b := range all {
			if pick&(1<<(i%8)) != 0 {
				bs = append(bs, b)
			}
		}
		keep := string(data)
		d := New(bs, uint64(pick))
		outs, _ := d.Send(data)
		if len(outs) > 1+2+2*2 {
			t.Fatalf("%d Records out of one", len(outs))
		}
		for _, o := range outs {
			if o.After < 0 || o.After > maxDelay {
				t.Fatalf("after %v", o.After)
			}
		}
		if string(data) != keep {
			t.Fatal("input modified")
		}
	})
}
