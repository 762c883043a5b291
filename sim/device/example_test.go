package device_test

import (
	"fmt"
	"time"

	"brickyard/boards"
	"brickyard/boards/boardtest"
	"brickyard/boards/single"
	"brickyard/flash"
	"brickyard/sim/device"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// The shell's side of the loop, by hand: power on, connect, one request.
func Example() {
	// Once per fleet: the schema and a factory board.
	schema, err := device.NewSchema()
	if err != nil {
		panic(err)
	}
	g := flash.Geometry{Size: 1 << 20, SectorSize: 4096, WriteUnit: 1, Erased: 0xff}
	layout := boards.Layout{{Name: single.Slot, Offset: 0x10000, Size: 512 << 10}}
	img := boardtest.Blob(boardtest.Spec{Board: "demo", Version: "1.0.0", PayloadSize: 1000}, 0xff)
	factory, err := boardtest.Board("demo", g, layout, single.Loader{}, img)
	if err != nil {
		panic(err)
	}

	// Once per device.
	d, err := device.New(device.Config{EndpointID: "proto::dev-1", ControllerID: "proto::ctrl"}, factory.Clone(), schema)
	if err != nil {
		panic(err)
	}
	now := time.Date(2025, 6, 9, 12, 0, 0, 0, time.UTC)
	out := d.PowerOn(now)
	fmt.Println("connect:", out.Connect, "events:", out.Events[1].Kind, out.Events[1].Detail)
	out = d.Connected(now)

	ctrl := usp.Codec{LocalID: "proto::ctrl"}
	rec, _ := ctrl.Seal("proto::dev-1", usp.NewRequest("1", &pb.Get{ParamPaths: []string{"Device.DeviceInfo.SoftwareVersion"}}))
	out = d.Receive(now, rec)
	in, _ := ctrl.Open(out.Records[0].Data)
	for _, r := range in.Msg.GetBody().GetResponse().GetGetResp().GetReqPathResults()[0].GetResolvedPathResults() {
		fmt.Println(r.GetResolvedPath(), r.GetResultParams())
	}
	// Output:
	// connect: true events: boot slot=app version=1.0.0
	// Device.DeviceInfo. map[SoftwareVersion:1.0.0]
}
