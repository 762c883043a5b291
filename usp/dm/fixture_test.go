package dm

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// testDev is the device a test model is bound to.
type testDev struct {
	version  string
	boot     time.Time
	reboots  int
	lastIn   map[string]string
	failWith error // Reboot() returns it
}

var t0 = time.Date(2025, 6, 9, 12, 0, 0, 0, time.UTC)

var (
	ctrl1 = Origin{EndpointID: "proto::ctrl-1"}
	ctrl2 = Origin{EndpointID: "proto::ctrl-2"}
)

var (
	schemaOnce sync.Once
	schemaVal  *Schema
)

// testSchema is a small TR-181 subset: Device.DeviceInfo with its
// FirmwareImage table, Device.Reboot(), Device.Boot!, and
// Device.LocalAgent with Controller (+BootParameter), Subscription and
// Request.
func testSchema(tb testing.TB) *Schema {
	schemaOnce.Do(func() {
		s, err := buildTestSchema()
		if err != nil {
			panic(err)
		}
		schemaVal = s
	})
	return schemaVal
}

func buildTestSchema() (*Schema, error) {
	b := NewBuilder(Options{URI: "urn:broadband-forum-org:tr-181-2-19-0", MaxPending: 8})
	declareTestSchema(b)
	return b.Build()
}

// declareTestSchema declares testSchema's objects.
func declareTestSchema(b *Builder) {
	dev := b.Object("Device.")
	dev.Command("Reboot()").In("Cause", "Reason").Default("Cause", "RemoteReboot").
		Sync(func(c Ctx, in map[string]string) (map[string]string, error) {
			d := c.Env.(*testDev)
			d.lastIn = in
			if d.failWith != nil {
				return nil, d.failWith
			}
			d.reboots++
			return nil, nil
		})
	dev.Command("FactoryReset()") // declared without handler
	dev.Command("SelfTestDiagnostics()").Async(nil).Out("Status", "Results")
	dev.Event("Boot!", "CommandKey", "Cause", "FirmwareUpdated", "ParameterMap")

	di := b.Object("Device.DeviceInfo.")
	di.String("Manufacturer").Default("Brickyard")
	di.String("ManufacturerOUI").Default("00256D")
	di.String("ModelName").Default("Sim-1")
	di.String("ProductClass").Default("SIM")
	di.String("SerialNumber").Persistent()
	di.String("HardwareVersion").Default("1.0")
	di.String("SoftwareVersion").Getter(func(c Ctx) string { return c.Env.(*testDev).version })
	di.String("FriendlyName").Writable().MaxLen(32)
	di.String("ProvisioningCode").Writable().Persistent()
	di.Uint("UpTime").IgnoreValueChange().Getter(func(c Ctx) string {
		return strconv.Itoa(int(c.Now.Sub(c.Env.(*testDev).boot) / time.Second))
	})
	di.String("ActiveFirmwareImage").RefTo("Device.DeviceInfo.FirmwareImage.{i}.")
	di.String("BootFirmwareImage").Writable().Persistent().RefTo("Device.DeviceInfo.FirmwareImage.{i}.").
		Validator(func(c Ctx, v string) error {
			if a, _ := c.Model.Value(v+".Available", c.Now); a != "true" {
				return usp.Errorf(usp.InvalidValue, "%s is not Available", v)
			}
			return nil
		})
	di.Uint("FirmwareImageNumberOfEntries")
	di.Uint("MaxNumberOfActivateTimeWindows").Default("2").Range(1, 5)
	di.Int("Temperature").Writable().Range(-40, 125)
	fw := di.Object("FirmwareImage.{i}.").Keys("Alias").MaxEntries(4)
	fw.String("Alias").WriteOnce()
	fw.String("Name").MaxLen(64)
	fw.String("Version").MaxLen(64)
	fw.Bool("Available").Writable()
	fw.String("Status").Default("NoImage").Enum("NoImage", "Active", "Downloading", "Validating", "Available",
		"DownloadFailed", "ValidationFailed", "InstallationFailed", "ActivationFailed")
	fw.String("BootFailureLog")
	fw.Command("Download()").Async(nil).Mandatory("URL").
		In("AutoActivate", "Username", "Password", "FileSize", "CheckSumAlgorithm", "CheckSum").Default("AutoActivate", "false")
	fw.Command("Activate()").Async(nil).
		Mandatory("TimeWindow.{i}.Start", "TimeWindow.{i}.End", "TimeWindow.{i}.Mode").
		In("TimeWindow.{i}.UserMessage", "TimeWindow.{i}.MaxRetries")

	la := b.Object("Device.LocalAgent.")
	la.String("EndpointID").Default("proto::agent")
	la.Uint("ControllerNumberOfEntries")
	la.Uint("SubscriptionNumberOfEntries")
	la.Uint("RequestNumberOfEntries")
	la.Event("TransferComplete!", "Command", "CommandKey", "Requestor", "TransferType", "Affected",
		"TransferURL", "StartTime", "CompleteTime", "FaultCode", "FaultString")
	ctl := la.Object("Controller.{i}.").Access(AddDelete).Keys("Alias").Keys("EndpointID").Persistent()
	ctl.String("Alias").WriteOnce()
	ctl.String("EndpointID").Writable().MaxLen(256)
	ctl.Bool("Enable").Writable()
	ctl.Uint("USPNotifRetryMinimumWaitInterval").Writable().Default("5").Min(1)
	ctl.Uint("USPNotifRetryIntervalMultiplier").Writable().Default("2000").Range(1000, 65535)
	ctl.String("Password").Writable().Secret()
	ctl.Uint("BootParameterNumberOfEntries")
	bp := ctl.Object("BootParameter.{i}.").Access(AddDelete).Keys("Alias").Keys("ParameterName").Persistent()
	bp.String("Alias").WriteOnce()
	bp.Bool("Enable").Writable()
	bp.String("ParameterName").Writable().MaxLen(256)
	b.UseControllers("Device.LocalAgent.Controller.{i}.")
	b.Subscriptions("Device.LocalAgent.Subscription.{i}.")
	b.Requests("Device.LocalAgent.Request.{i}.")
}

// fixture is a model with two firmware images (1 Active, 2 NoImage) and
// two Controllers (1: proto::ctrl-1, 2: proto::ctrl-2).
type fixture struct {
	t   testing.TB
	m   *Model
	dev *testDev
	now time.Time
	n   int // msg ids
}

func newFixture(tb testing.TB) *fixture {
	dev := &testDev{version: "1.0.0", boot: t0.Add(-time.Hour)}
	f := &fixture{t: tb, dev: dev, now: t0,
		m: NewModel(testSchema(tb), Config{Env: dev, Rand: rand.New(rand.NewPCG(1, 2))})}
	f.mustAdd("Device.DeviceInfo.FirmwareImage.", map[string]string{"Name": "fw-a", "Version": "1.0.0", "Available": "true", "Status": "Active"})
	f.mustAdd("Device.DeviceInfo.FirmwareImage.", nil)
	f.mustSet("Device.DeviceInfo.ActiveFirmwareImage", "Device.DeviceInfo.FirmwareImage.1")
	f.mustSet("Device.DeviceInfo.BootFirmwareImage", "Device.DeviceInfo.FirmwareImage.1")
	f.mustSet("Device.DeviceInfo.SerialNumber", "SIM000001")
	f.mustAdd("Device.LocalAgent.Controller.", map[string]string{"EndpointID": ctrl1.EndpointID, "Enable": "true"})
	f.mustAdd("Device.LocalAgent.Controller.", map[string]string{"EndpointID": ctrl2.EndpointID, "Enable": "true"})
	return f
}

func (f *fixture) mustAdd(table string, vals map[string]string) string {
	f.t.Helper()
	p, _, err := f.m.AddRow(table, 0, vals, f.now)
	if err != nil {
		f.t.Fatalf("AddRow %s: %v", table, err)
	}
	return p
}

func (f *fixture) mustSet(p, v string) {
	f.t.Helper()
	if _, err := f.m.SetValue(p, v, f.now); err != nil {
		f.t.Fatalf("SetValue %s: %v", p, err)
	}
}

func (f *fixture) value(p string) string {
	f.t.Helper()
	v, err := f.m.Value(p, f.now)
	if err != nil {
		f.t.Fatalf("Value %s: %v", p, err)
	}
	return v
}

// do sends a request body from Controller o.
func do[T usp.RequestBody](f *fixture, o Origin, body T) (*pb.Msg, Effects) {
	f.n++
	return f.m.Handle(o, usp.NewRequest(fmt.Sprintf("m%d", f.n), body), f.now)
}

// subscribe adds an enabled subscription for Controller o and returns its
// instance path.
func (f *fixture) subscribe(o Origin, id, typ, refs string, retry bool) string {
	f.t.Helper()
	resp, _ := do(f, o, &pb.Add{CreateObjs: []*pb.Add_CreateObject{{ObjPath: "Device.LocalAgent.Subscription.",
		ParamSettings: []*pb.Add_CreateParamSetting{
			{Param: "Enable", Value: "true"}, {Param: "ID", Value: id}, {Param: "NotifType", Value: typ},
			{Param: "ReferenceList", Value: refs}, {Param: "NotifRetry", Value: strconv.FormatBool(retry)},
		}}}})
	ok := resp.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()[0].GetOperStatus().GetOperSuccess()
	if ok == nil {
		f.t.Fatalf("subscribe: %v", resp)
	}
	return ok.GetInstantiatedPath()
}

func getResp(tb testing.TB, m *pb.Msg) *pb.GetResp {
	tb.Helper()
	r := m.GetBody().GetResponse().GetGetResp()
	if r == nil {
		tb.Fatalf("not a GetResp: %v", m)
	}
	return r
}

func errCode(m *pb.Msg) usp.Code { return usp.Code(m.GetBody().GetError().GetErrCode()) }
