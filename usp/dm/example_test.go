package dm_test

import (
	"fmt"
	"time"

	"brickyard/usp"
	"brickyard/usp/dm"
	pb "brickyard/usp/uspmsg"
)

type device struct{ version string }

func Example() {
	// Once per device type: the schema.
	b := dm.NewBuilder(dm.Options{URI: "urn:broadband-forum-org:tr-181-2-19-0"})
	di := b.Object("Device.DeviceInfo.")
	di.String("Manufacturer").Default("Brickyard")
	di.String("SoftwareVersion").Getter(func(c dm.Ctx) string { return c.Env.(*device).version })
	di.String("FriendlyName").Writable().MaxLen(32)
	di.Uint("FirmwareImageNumberOfEntries")
	fw := di.Object("FirmwareImage.{i}.").Keys("Alias").MaxEntries(2)
	fw.String("Alias").WriteOnce()
	fw.String("Status").Default("NoImage").Enum("NoImage", "Active", "Available")
	fw.Command("Download()").Async(nil).Mandatory("URL").In("AutoActivate").Default("AutoActivate", "false")
	ctl := b.Object("Device.LocalAgent.Controller.{i}.").Access(dm.AddDelete).Keys("Alias").Keys("EndpointID").Persistent()
	ctl.String("Alias").WriteOnce()
	ctl.String("EndpointID").Writable()
	b.UseControllers("Device.LocalAgent.Controller.{i}.")
	b.Subscriptions("Device.LocalAgent.Subscription.{i}.")
	b.Requests("Device.LocalAgent.Request.{i}.")
	schema, err := b.Build()
	if err != nil {
		panic(err)
	}

	// Once per device: the model, bound to the device.
	now := time.Date(2025, 6, 9, 12, 0, 0, 0, time.UTC)
	m := dm.NewModel(schema, dm.Config{Env: &device{version: "1.0.0"}})
	m.AddRow("Device.DeviceInfo.FirmwareImage.", 1, map[string]string{"Status": "Active"}, now)
	m.AddRow("Device.LocalAgent.Controller.", 1, map[string]string{"EndpointID": "proto::ctrl"}, now)
	ctrl := dm.Origin{EndpointID: "proto::ctrl"}

	// The controller subscribes to FriendlyName, then sets it.
	m.Handle(ctrl, usp.NewRequest("1", &pb.Add{CreateObjs: []*pb.Add_CreateObject{{
		ObjPath: "Device.LocalAgent.Subscription.",
		ParamSettings: []*pb.Add_CreateParamSetting{{Param: "Enable", Value: "true"}, {Param: "ID", Value: "vc"},
			{Param: "NotifType", Value: "ValueChange"}, {Param: "ReferenceList", Value: "Device.DeviceInfo.FriendlyName"}},
	}}}), now)
	resp, fx := m.Handle(ctrl, usp.NewRequest("2", &pb.Set{UpdateObjs: []*pb.Set_UpdateObject{{
		ObjPath: "Device.DeviceInfo.", ParamSettings: []*pb.Set_UpdateParamSetting{{Param: "FriendlyName", Value: "lab-7", Required: true}},
	}}}), now)
	res := resp.GetBody().GetResponse().GetSetResp().GetUpdatedObjResults()[0].GetOperStatus().GetOperSuccess().GetUpdatedInstResults()[0]
	fmt.Println(res.GetAffectedPath(), res.GetUpdatedParams())
	for _, n := range fx.Notify {
		vc := n.Msg.GetBody().GetRequest().GetNotify().GetValueChange()
		fmt.Println("notify", n.To, vc.GetParamPath(), vc.GetParamValue())
	}

	// An async command: the device gets a job and completes it later.
	resp, fx = m.Handle(ctrl, usp.NewRequest("3", &pb.Operate{Command: "Device.DeviceInfo.FirmwareImage.1.Download()",
		CommandKey: "k1", SendResp: true, InputArgs: map[string]string{"URL": "https://fw.example/2.0.bin"}}), now)
	fmt.Println(resp.GetBody().GetResponse().GetOperateResp().GetOperationResults()[0].GetReqObjPath(), fx.Jobs[0].Input)
	m.Complete(fx.Jobs[0].ID, nil, nil, now.Add(time.Minute))

	resp, _ = m.Handle(ctrl, usp.NewRequest("4", &pb.Get{ParamPaths: []string{"Device.DeviceInfo.SoftwareVersion", "Device.LocalAgent.Request."}}), now)
	for _, rr := range resp.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, r := range rr.GetResolvedPathResults() {
			fmt.Println(rr.GetRequestedPath(), "->", r.GetResolvedPath(), r.GetResultParams())
		}
		if len(rr.GetResolvedPathResults()) == 0 {
			fmt.Println(rr.GetRequestedPath(), "-> no rows (the Request row went with the completion)")
		}
	}
	// Output:
	// Device.DeviceInfo. map[FriendlyName:lab-7]
	// notify proto::ctrl Device.DeviceInfo.FriendlyName lab-7
	// Device.LocalAgent.Request.1. map[AutoActivate:false URL:https://fw.example/2.0.bin]
	// Device.DeviceInfo.SoftwareVersion -> Device.DeviceInfo. map[SoftwareVersion:1.0.0]
	// Device.LocalAgent.Request. -> no rows (the Request row went with the completion)
}
