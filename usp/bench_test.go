package usp_test

import (
	"fmt"
	"testing"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// BenchmarkGetRecordRoundTrip: a controller seals a Get, the agent opens it.
func BenchmarkGetRecordRoundTrip(b *testing.B) {
	ctrl, agent := usp.Codec{LocalID: ctrlID}, usp.Codec{LocalID: agentID}
	req := usp.NewRequest("get-1", &pb.Get{ParamPaths: []string{"Device.DeviceInfo.", "Device.DeviceInfo.FirmwareImage.*.Status"}})
	b.ReportAllocs()
	for b.Loop() {
		raw, err := ctrl.Seal(agentID, req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := agent.Open(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetRespRecordRoundTrip: the agent seals a GetResp with 20
// parameters, the controller opens it.
func BenchmarkGetRespRecordRoundTrip(b *testing.B) {
	ctrl, agent := usp.Codec{LocalID: ctrlID}, usp.Codec{LocalID: agentID}
	params := make(map[string]string, 20)
	for i := range 20 {
		params[fmt.Sprintf("Parameter%02d", i)] = fmt.Sprintf("value-%d-%s", i, "0123456789abcdef")
	}
	resp := usp.NewResponse("get-1", &pb.GetResp{ReqPathResults: []*pb.GetResp_RequestedPathResult{{
		RequestedPath: "Device.DeviceInfo.",
		ResolvedPathResults: []*pb.GetResp_ResolvedPathResult{{
			ResolvedPath: "Device.DeviceInfo.", ResultParams: params}},
	}}})
	b.ReportAllocs()
	for b.Loop() {
		raw, err := agent.Seal(ctrlID, resp)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ctrl.Open(raw); err != nil {
			b.Fatal(err)
		}
	}
}
