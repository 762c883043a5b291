package usp

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	pb "brickyard/usp/uspmsg"
	"brickyard/usp/usprecord"
)

// asGetResp is the GetResp results make, for the general encoder.
func asGetResp(results []GetResult) *pb.GetResp {
	resp := &pb.GetResp{}
	for _, r := range results {
		rr := &pb.GetResp_RequestedPathResult{RequestedPath: r.Requested, ErrCode: r.ErrCode, ErrMsg: r.ErrMsg}
		for _, rp := range r.Resolved {
			res := &pb.GetResp_ResolvedPathResult{ResolvedPath: rp.Path, ResultParams: map[string]string{}}
			for _, p := range rp.Params {
				res.ResultParams[p.Name] = p.Value
			}
			rr.ResolvedPathResults = append(rr.ResolvedPathResults, res)
		}
		resp.ReqPathResults = append(resp.ReqPathResults, rr)
	}
	return resp
}

// randomResults makes a GetResp's worth of results: empty and long
// strings, errors, objects without parameters, parameters without values.
func randomResults(rng *rand.Rand) []GetResult {
	str := func() string {
		switch rng.IntN(5) {
		case 0:
			return ""
		case 1:
			return strings.Repeat("x", 100+rng.IntN(300)) // two-byte lengths
		}
		return "Device.X." + strconv.Itoa(rng.IntN(1000)) + "é"
	}
	var out []GetResult
	for range rng.IntN(4) {
		r := GetResult{Requested: str()}
		if rng.IntN(4) == 0 {
			r.ErrCode, r.ErrMsg = uint32(7000+rng.IntN(30)), str()
		}
		for range rng.IntN(3) {
			rp := ResolvedParams{Path: str()}
			names := map[string]bool{}
			for range rng.IntN(6) {
				names["P"+strconv.Itoa(rng.IntN(40))] = true
			}
			for _, n := range slices.Sorted(func(yield func(string) bool) {
				for n := range names {
					if !yield(n) {
						return
					}
				}
			}) {
				rp.Params = append(rp.Params, Param{Name: n, Value: str()})
			}
			r.Resolved = append(r.Resolved, rp)
		}
		out = append(out, r)
	}
	return out
}

// AppendGetRespRecord writes the bytes Seal writes for the same GetResp.
func TestAppendGetRespRecord_IsSeal(t *testing.T) {
	c := Codec{LocalID: "os::00256D-SIM000001"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		results := randomResults(rng)
		id := "msg-" + strconv.Itoa(i)
		want, err := c.Seal("proto::controller", NewResponse(id, asGetResp(results)))
		if err != nil {
			t.Fatal(err)
		}
		prefix := []byte("prefix")
		got := c.AppendGetRespRecord(slices.Clone(prefix), "proto::controller", id, results)
		if !bytes.Equal(got[len(prefix):], want) || !bytes.HasPrefix(got, prefix) {
			t.Fatalf("case %d: the fast encoding differs from Seal's\nfast %x\nseal %x", i, got[len(prefix):], want)
		}
	}
}

// OpenGet accepts what Open decodes to a Get, decodes the same request,
// and leaves everything else to Open.
func TestOpenGet(t *testing.T) {
	agent := Codec{LocalID: "os::00256D-SIM000001"}
	ctrl := Codec{LocalID: "proto::controller"}
	seal := func(m *pb.Msg) []byte {
		b, err := ctrl.Seal(agent.LocalID, m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name, tc := range map[string]struct {
		rec []byte
		ok  bool
	}{
		"get":          {seal(NewRequest("g1", &pb.Get{ParamPaths: []string{"Device.DeviceInfo.", "Device.LocalAgent.EndpointID"}, MaxDepth: 2})), true},
		"get no paths": {seal(NewRequest("g2", &pb.Get{})), true},
		"set":          {seal(NewRequest("s1", &pb.Set{})), false},
		"response":     {seal(NewResponse("r1", &pb.GetResp{})), false},
		"no msg_id":    {seal(&pb.Msg{Header: &pb.Header{}, Body: &pb.Body{MsgBody: &pb.Body_Request{Request: &pb.Request{ReqType: &pb.Request_Get{Get: &pb.Get{}}}}}}), false},
		"to another":   {mustSeal(t, ctrl, "os::other", NewRequest("g3", &pb.Get{})), false},
		"bad version":  {bytes.Replace(seal(NewRequest("g4", &pb.Get{})), []byte("1.4"), []byte("2.4"), 1), false},
		"connect":      {mustMarshal(t, ctrl, ctrl.WebSocketConnect(agent.LocalID)), false},
		"disconnect":   {mustMarshal(t, ctrl, ctrl.Disconnect(agent.LocalID, "bye", InternalError)), false},
		"not protobuf": {[]byte("hello"), false},
		"empty":        {nil, false},
		"too large":    {append(seal(NewRequest("g5", &pb.Get{ParamPaths: []string{strings.Repeat("A", DefaultMaxRecordSize)}})), 0), false},
	} {
		t.Run(name, func(t *testing.T) {
			g, ok := agent.OpenGet(tc.rec)
			if ok != tc.ok {
				t.Fatalf("OpenGet ok %v, want %v", ok, tc.ok)
			}
			if ok {
				checkSameGet(t, agent, tc.rec, g)
			}
		})
	}
}

func mustSeal(t *testing.T, c Codec, to string, m *pb.Msg) []byte {
	t.Helper()
	b, err := c.Seal(to, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustMarshal(t *testing.T, c Codec, r *usprecord.Record) []byte {
	t.Helper()
	b, err := c.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkSameGet fails unless Open decodes rec to the Get g holds.
func checkSameGet(t testing.TB, c Codec, rec []byte, g GetRequest) {
	t.Helper()
	in, err := c.Open(rec)
	if err != nil {
		t.Fatalf("OpenGet accepted what Open refuses: %v", err)
	}
	get := in.Msg.GetBody().GetRequest().GetGet()
	if get == nil || in.From() != g.From || in.Msg.GetHeader().GetMsgId() != g.MsgID ||
		!slices.Equal(get.GetParamPaths(), g.Paths) || get.GetMaxDepth() != g.MaxDepth {
		t.Fatalf("OpenGet decoded %+v; Open decoded from %q, %v", g, in.From(), in.Msg)
	}
}

// Any bytes: what OpenGet accepts, Open accepts as the same Get.
func FuzzOpenGet(f *testing.F) {
	ctrl := Codec{LocalID: "proto::controller"}
	agent := Codec{LocalID: "os::00256D-SIM000001"}
	for _, m := range []*pb.Msg{
		NewRequest("g1", &pb.Get{ParamPaths: []string{"Device.DeviceInfo."}, MaxDepth: 1}),
		NewRequest("g2", &pb.Get{ParamPaths: []string{"Device.", "Device.LocalAgent.Controller.*.EndpointID"}}),
		NewRequest("s1", &pb.Set{}),
	} {
		b, _ := ctrl.Seal(agent.LocalID, m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		if g, ok := agent.OpenGet(rec); ok {
			checkSameGet(t, agent, rec, g)
		}
	})
}
