package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"brickyard/usp"
	rec "brickyard/usp/usprecord"
)

var t0 = time.Date(2025, 6, 9, 12, 0, 0, 0, time.UTC)

const (
	ctrl  = "proto::controller"
	agent = "os::00256D-SIM000001"
)

func decode(t testing.TB, b []byte) *rec.Record {
	t.Helper()
	r := &rec.Record{}
	if err := proto.Unmarshal(b, r); err != nil {
		t.Fatal(err)
	}
	return r
}

func payloadOf(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// A payload larger than MaxRecordSize goes as BEGIN, INPROCESS…, COMPLETE
// Records, none larger than the limit, and comes back whole.
func TestSegmentation(t *testing.T) {
	for _, tc := range []struct{ limit, size, records int }{
		{0, 100_000, 1}, {1024, 900, 1}, {1024, 1000, 2}, {1024, 20_000, 21}, {512, 5000, 12}, {4096, 4000, 1},
	} {
		t.Run(fmt.Sprintf("%d-%d", tc.limit, tc.size), func(t *testing.T) {
			a, _ := New(Config{MaxRecordSize: tc.limit}, ctrl, agent, 7, t0)
			b, _ := Accept(Config{}, agent, ctrl, 7, t0)
			p := payloadOf(tc.size, 3)
			recs, err := a.Send(p, t0)
			if err != nil || len(recs) != tc.records {
				t.Fatalf("%d records, %v; want %d", len(recs), err, tc.records)
			}
			var got [][]byte
			for i, raw := range recs {
				if tc.limit > 0 && (len(raw) > tc.limit || (i < len(recs)-1 && len(raw) < tc.limit-2)) {
					t.Errorf("record %d is %d bytes: want %d or at most 2 less", i, len(raw), tc.limit)
				}
				r := decode(t, raw)
				sc := r.GetSessionContext()
				want := rec.SessionContextRecord_INPROCESS
				switch {
				case len(recs) == 1:
					want = rec.SessionContextRecord_NONE
				case i == 0:
					want = rec.SessionContextRecord_BEGIN
				case i == len(recs)-1:
					want = rec.SessionContextRecord_COMPLETE
				}
				if sc.GetPayloadSarState() != want || sc.GetPayloadrecSarState() != want || sc.GetSequenceId() != uint64(i+1) || sc.GetSessionId() != 7 {
					t.Errorf("record %d: %v/%v seq %d", i, sc.GetPayloadSarState(), sc.GetPayloadrecSarState(), sc.GetSequenceId())
				}
				res, err := b.Receive(r, t0)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, res.Payloads...)
			}
			if len(got) != 1 || !bytes.Equal(got[0], p) {
				t.Fatalf("reassembled %d payloads", len(got))
			}
		})
	}
}

// link is a lossy, duplicating, reordering path between two sessions in
// virtual time, driven by a seeded generator.
type link struct {
	rng              *rand.Rand
	loss, dup, delay float64 // probabilities; delay: a Record is held back up to 300 ms
	q                []inflight
	sent, dropped    int
}

type inflight struct {
	at   time.Time
	to   int
	data []byte
}

func (l *link) send(now time.Time, to int, b []byte) {
	l.sent++
	if l.rng.Float64() < l.loss {
		l.dropped++
		return
	}
	n := 1
	if l.rng.Float64() < l.dup {
		n = 2
	}
	for range n {
		at := now.Add(time.Millisecond)
		if l.rng.Float64() < l.delay {
			at = at.Add(time.Duration(l.rng.IntN(300)) * time.Millisecond)
		}
		l.q = append(l.q, inflight{at: at, to: to, data: b})
	}
}

// exchange sends msgs[0] from a to b and msgs[1] from b to a over l and
// runs until both have every payload, in order, or the session fails or
// the time bound passes.
func exchange(t *testing.T, l *link, cfg Config, msgs [2][][]byte) ([2][][]byte, error) {
	t.Helper()
	a, err := New(cfg, ctrl, agent, 42, t0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Accept(cfg, agent, ctrl, 42, t0)
	ss := [2]*Session{a, b}
	var got [2][][]byte
	now := t0
	for side := range 2 {
		for _, m := range msgs[side] {
			recs, err := ss[side].Send(m, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				l.send(now, 1-side, r)
			}
			now = now.Add(10 * time.Millisecond)
		}
	}
	limit := t0.Add(10 * time.Minute)
	for now.Before(limit) {
		if len(got[0]) == len(msgs[1]) && len(got[1]) == len(msgs[0]) && len(l.q) == 0 && a.Pending() == 0 && b.Pending() == 0 {
			break
		}
		// The next event: a delivery or a session's timer.
		next := limit
		for _, x := range l.q {
			if x.at.Before(next) {
				next = x.at
			}
		}
		for _, s := range ss {
			if w := s.Wake(); !w.IsZero() && w.Before(next) {
				next = w
			}
		}
		now = next
		slices.SortStableFunc(l.q, func(x, y inflight) int { return x.at.Compare(y.at) })
		for len(l.q) > 0 && !l.q[0].at.After(now) {
			x := l.q[0]
			l.q = l.q[1:]
			res, err := ss[x.to].Receive(decode(t, x.data), now)
			if err != nil {
				return got, err
			}
			got[x.to] = append(got[x.to], res.Payloads...)
			for _, r := range res.Out {
				l.send(now, 1-x.to, r)
			}
		}
		for side, s := range ss {
			if w := s.Wake(); !w.IsZero() && !w.After(now) {
				out, err := s.Tick(now)
				if err != nil {
					return got, err
				}
				for _, r := range out {
					l.send(now, 1-side, r)
				}
			}
		}
	}
	return got, nil
}

// Records lost, duplicated and reordered on the way: every payload,
// segmented or not, arrives exactly once and in order, by retransmission.
func TestLossyLink(t *testing.T) {
	for _, tc := range []struct {
		name             string
		loss, dup, delay float64
	}{
		{"clean", 0, 0, 0}, {"loss10", 0.10, 0, 0}, {"loss25", 0.25, 0, 0}, {"dup30", 0, 0.30, 0},
		{"reorder50", 0, 0, 0.5}, {"all", 0.15, 0.15, 0.3},
	} {
		for seed := uint64(1); seed <= 8; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", tc.name, seed), func(t *testing.T) {
				l := &link{rng: rand.New(rand.NewPCG(seed, 99)), loss: tc.loss, dup: tc.dup, delay: tc.delay}
				var msgs [2][][]byte
				for i := range 6 {
					msgs[0] = append(msgs[0], payloadOf(200+i*3000, seed*10+uint64(i)))
					msgs[1] = append(msgs[1], payloadOf(5000+i*2000, seed*20+uint64(i)))
				}
				cfg := Config{MaxRecordSize: 1024, MaxRetransmitTries: 20, RetransmitWait: time.Second}
				got, err := exchange(t, l, cfg, msgs)
				if err != nil {
					t.Fatalf("session failed after %d records (%d dropped): %v", l.sent, l.dropped, err)
				}
				if tc.loss > 0 && l.dropped == 0 {
					t.Fatal("the link lost nothing: the test proves nothing")
				}
				for side := range 2 {
					if len(got[1-side]) != len(msgs[side]) {
						t.Fatalf("side %d got %d of %d payloads (%d records sent, %d dropped)", 1-side, len(got[1-side]), len(msgs[side]), l.sent, l.dropped)
					}
					for i := range msgs[side] {
						if !bytes.Equal(got[1-side][i], msgs[side][i]) {
							t.Fatalf("payload %d to side %d differs", i, 1-side)
						}
					}
				}
			})
		}
	}
}

// A dead link fails the session with ErrRetransmit in bounded time.
func TestDeadLink(t *testing.T) {
	l := &link{rng: rand.New(rand.NewPCG(1, 2)), loss: 1}
	_, err := exchange(t, l, Config{MaxRecordSize: 1024}, [2][][]byte{{payloadOf(3000, 1)}, nil})
	if !errors.Is(err, ErrRetransmit) || !errors.Is(err, usp.SessionContextTerminated) {
		t.Fatalf("err %v, want ErrRetransmit (7105)", err)
	}
}

func TestExpiration(t *testing.T) {
	s, _ := New(Config{Expiration: time.Minute}, ctrl, agent, 5, t0)
	if w := s.Wake(); !w.Equal(t0.Add(time.Minute)) {
		t.Fatalf("wake %v", w)
	}
	if _, err := s.Tick(t0.Add(59 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tick(t0.Add(time.Minute)); !errors.Is(err, ErrExpired) {
		t.Fatalf("err %v, want ErrExpired", err)
	}
	if _, err := s.Send([]byte("x"), t0); !errors.Is(err, ErrFailed) {
		t.Fatalf("a failed session sent: %v", err)
	}
}

// sc builds a Record of session 9 from the controller to the agent.
func sc(seq, expected, retransmit uint64, st rec.SessionContextRecord_PayloadSARState, payload ...[]byte) *rec.Record {
	return &rec.Record{Version: "1.4", ToId: agent, FromId: ctrl, RecordType: &rec.Record_SessionContext{SessionContext: &rec.SessionContextRecord{
		SessionId: 9, SequenceId: seq, ExpectedId: expected, RetransmitId: retransmit, PayloadSarState: st, PayloadrecSarState: st, Payload: payload}}}
}

// Bad Records fail the session with a named error; nothing is delivered
// from them.
func TestBadRecords(t *testing.T) {
	B, I, C, N := rec.SessionContextRecord_BEGIN, rec.SessionContextRecord_INPROCESS, rec.SessionContextRecord_COMPLETE, rec.SessionContextRecord_NONE
	x := []byte("x")
	for _, tc := range []struct {
		name string
		recs []*rec.Record
		want error
	}{
		{"sequence 0", []*rec.Record{sc(0, 1, 0, N, x)}, ErrSequence},
		{"sequence jump", []*rec.Record{sc(1000, 1, 0, N, x)}, ErrSequence},
		{"sequence at the limit", []*rec.Record{sc(seqLimit, 1, 0, N, x)}, ErrSequence},
		{"expected_id ahead", []*rec.Record{sc(1, 50, 0, N, x)}, ErrSequence},
		{"continue without begin", []*rec.Record{sc(1, 1, 0, I, x)}, ErrSegmentation},
		{"complete without begin", []*rec.Record{sc(1, 1, 0, C, x)}, ErrSegmentation},
		{"begin inside", []*rec.Record{sc(1, 1, 0, B, x), sc(2, 1, 0, B, x)}, ErrSegmentation},
		{"unsegmented inside", []*rec.Record{sc(1, 1, 0, B, x), sc(2, 1, 0, N, x)}, ErrSegmentation},
		{"states disagree", []*rec.Record{func() *rec.Record {
			r := sc(1, 1, 0, B, x)
			r.GetSessionContext().PayloadrecSarState = N
			return r
		}()}, ErrSegmentation},
		{"unknown state", []*rec.Record{sc(1, 1, 0, 7, x)}, ErrSegmentation},
		{"too large", []*rec.Record{sc(1, 1, 0, B, make([]byte, 600)), sc(2, 1, 0, I, make([]byte, 600))}, ErrTooLarge},
		{"TLS12", []*rec.Record{func() *rec.Record {
			r := sc(1, 1, 0, N, x)
			r.PayloadSecurity = rec.Record_TLS12
			return r
		}()}, ErrPayloadSecured},
		{"retransmit of nothing", []*rec.Record{sc(1, 1, 5, N, x)}, ErrRetransmit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := Accept(Config{MaxMessageSize: 1000, MaxBuffered: 16}, agent, ctrl, 9, t0)
			var err error
			var delivered int
			for _, r := range tc.recs {
				var res Result
				res, err = s.Receive(r, t0)
				delivered += len(res.Payloads)
				if err != nil {
					break
				}
			}
			if !errors.Is(err, tc.want) || s.Failed() == nil || delivered != 0 {
				t.Fatalf("err %v (delivered %d, failed %v), want %v", err, delivered, s.Failed(), tc.want)
			}
			if _, ok := usp.CodeOf(err); !ok {
				t.Errorf("%v carries no USP code", err)
			}
		})
	}
	// A Record of another session is refused without failing this one.
	s, _ := Accept(Config{}, agent, ctrl, 10, t0)
	if _, err := s.Receive(sc(1, 1, 0, N, x), t0); err == nil || s.Failed() != nil {
		t.Fatalf("another session's Record: %v, failed %v", err, s.Failed())
	}
	if _, err := New(Config{}, ctrl, agent, 1, t0); err == nil {
		t.Error("session_id 1 accepted (R-E2E.3)")
	}
	if _, err := New(Config{MaxRecordSize: 100}, ctrl, agent, 2, t0); err == nil {
		t.Error("a MaxRecordSize of 100 accepted")
	}
}

// Duplicates and Records ahead of a gap are handled as R-E2E.20 says: a
// duplicate is ignored (and acknowledged), a Record ahead is kept and the
// missing one asked for; the gap closes in order.
func TestReceiveOrder(t *testing.T) {
	s, _ := Accept(Config{}, agent, ctrl, 9, t0)
	N := rec.SessionContextRecord_NONE
	res, err := s.Receive(sc(2, 1, 0, N, []byte("two")), t0)
	if err != nil || len(res.Payloads) != 0 || len(res.Out) != 1 || decode(t, res.Out[0]).GetSessionContext().GetRetransmitId() != 1 {
		t.Fatalf("ahead: %v %v", res, err)
	}
	res, _ = s.Receive(sc(1, 1, 0, N, []byte("one")), t0)
	if len(res.Payloads) != 2 || string(res.Payloads[0]) != "one" || string(res.Payloads[1]) != "two" {
		t.Fatalf("in order: %q", res.Payloads)
	}
	res, err = s.Receive(sc(2, 1, 0, N, []byte("two")), t0)
	if err != nil || len(res.Payloads) != 0 || len(res.Out) != 1 {
		t.Fatalf("duplicate: %v %v", res, err)
	}
	if e := decode(t, res.Out[0]).GetSessionContext().GetExpectedId(); e != 3 {
		t.Fatalf("the acknowledgement expects %d, want 3", e)
	}
}

// Near the end of the sequence_id space the session must be replaced
// (R-E2E.9).
func TestExhausted(t *testing.T) {
	s, _ := New(Config{}, ctrl, agent, 3, t0)
	s.next = seqLimit - 1
	if _, err := s.Send([]byte("a"), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send([]byte("b"), t0); !errors.Is(err, ErrExhausted) {
		t.Fatalf("err %v, want ErrExhausted", err)
	}
}

// FuzzReceive: any Record, in any order, never panics, never delivers
// more than MaxMessageSize, and a failed session stays failed.
func FuzzReceive(f *testing.F) {
	for _, r := range []*rec.Record{sc(1, 1, 0, rec.SessionContextRecord_NONE, []byte("x")), sc(1, 1, 0, rec.SessionContextRecord_BEGIN, []byte("x")),
		sc(3, 1, 2, rec.SessionContextRecord_COMPLETE, []byte("y"))} {
		b, _ := proto.Marshal(r)
		f.Add(b, b)
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		s, _ := Accept(Config{MaxMessageSize: 4096, MaxBuffered: 8}, agent, ctrl, 9, t0)
		peer, _ := New(Config{}, ctrl, agent, 9, t0)
		_, _ = peer.Send([]byte("hello"), t0)
		for i, raw := range [][]byte{a, b, a} {
			r := &rec.Record{}
			if proto.Unmarshal(raw, r) != nil || r.GetSessionContext() == nil {
				continue
			}
			res, err := s.Receive(r, t0.Add(time.Duration(i)*time.Second))
			for _, p := range res.Payloads {
				if len(p) > 4096 {
					t.Fatalf("delivered %d bytes", len(p))
				}
			}
			if err != nil && s.Failed() != nil {
				if _, err := s.Receive(r, t0); !errors.Is(err, ErrFailed) {
					t.Fatalf("a failed session accepted a Record: %v", err)
				}
			}
			_, _ = s.Tick(t0.Add(time.Hour))
			_ = s.Wake()
		}
	})
}

// BenchmarkRoundTrip is the E2E framing of one request and its answer:
// a 300-byte payload sent in a session and received by the peer, and a
// 1,500-byte one back, each acknowledged by the other's next Record.
func BenchmarkRoundTrip(b *testing.B) {
	ctrlEnd, _ := New(Config{}, ctrl, agent, 5, t0)
	agentEnd, _ := Accept(Config{}, agent, ctrl, 5, t0)
	req, resp := payloadOf(300, 1), payloadOf(1500, 2)
	b.ReportAllocs()
	for b.Loop() {
		recs, _ := ctrlEnd.Send(req, t0)
		res, err := agentEnd.Receive(decodeB(recs[0]), t0)
		if err != nil || len(res.Payloads) != 1 {
			b.Fatal(err)
		}
		recs, _ = agentEnd.Send(resp, t0)
		res, err = ctrlEnd.Receive(decodeB(recs[0]), t0)
		if err != nil || len(res.Payloads) != 1 {
			b.Fatal(err)
		}
	}
}

func decodeB(raw []byte) *rec.Record {
	r := &rec.Record{}
	_ = proto.Unmarshal(raw, r)
	return r
}

// FuzzSegment: a payload of any size (its bytes drawn from seed: the
// content is not what is fuzzed) at any Record size limit is segmented
// into Records none larger than the limit (or refused by Check) and comes
// back whole and once from the peer, the Records delivered in any order
// the fuzzer picks.
func FuzzSegment(f *testing.F) {
	f.Add(uint16(512), uint16(5), uint64(1), []byte{0})
	f.Add(uint16(600), uint16(5000), uint64(2), []byte{3, 1, 2, 0})
	f.Add(uint16(100), uint16(1), uint64(3), []byte(nil))
	f.Add(uint16(0), uint16(0), uint64(4), []byte(nil))
	f.Fuzz(func(t *testing.T, limit, size uint16, seed uint64, order []byte) {
		payload := payloadOf(int(size), seed)
		cfg := Config{MaxRecordSize: int(limit)}
		a, err := New(cfg, ctrl, agent, 4, t0)
		if err != nil {
			if cfg.Check() == nil {
				t.Fatalf("New refused a Config Check accepts: %v", err)
			}
			return
		}
		recs, err := a.Send(payload, t0)
		if len(payload) == 0 {
			if err == nil {
				t.Fatal("an empty payload was sent")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range recs {
			if limit > 0 && len(r) > int(limit) {
				t.Fatalf("Record %d is %d bytes, over %d", i, len(r), limit)
			}
		}
		// Deliver in the fuzzer's order: Records ahead are held, the gap
		// closes when the missing one comes.
		b, _ := Accept(Config{MaxBuffered: len(recs) + 1}, agent, ctrl, 4, t0)
		idx := make([]int, len(recs))
		for i := range idx {
			idx[i] = i
		}
		for i, o := range order {
			if len(idx) < 2 {
				break
			}
			j, k := i%len(idx), int(o)%len(idx)
			idx[j], idx[k] = idx[k], idx[j]
		}
		var got [][]byte
		for _, i := range idx {
			res, err := b.Receive(decode(t, recs[i]), t0)
			if err != nil {
				t.Fatalf("Record %d of %d: %v", i, len(recs), err)
			}
			got = append(got, res.Payloads...)
		}
		if len(got) != 1 || !bytes.Equal(got[0], payload) {
			t.Fatalf("%d payloads back, want the one sent", len(got))
		}
	})
}
