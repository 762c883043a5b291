package dm

import (
	"fmt"
	"runtime"
	"testing"

	"brickyard/usp"
	"brickyard/usp/path"
	pb "brickyard/usp/uspmsg"
)

// BenchmarkGetDeviceInfo: Get of Device.DeviceInfo. with max_depth 1 on a
// provisioned device: its 22 parameters, two of them bound.
func BenchmarkGetDeviceInfo(b *testing.B) {
	m := NewModel(benchSchema(b), Config{})
	provision(b, m, 1)
	req := usp.NewRequest("g", &pb.Get{ParamPaths: []string{"Device.DeviceInfo."}, MaxDepth: 1})
	b.ReportAllocs()
	for b.Loop() {
		resp, _ := m.Handle(ctrl1, req, t0)
		if n := len(resp.GetBody().GetResponse().GetGetResp().GetReqPathResults()[0].GetResolvedPathResults()[0].GetResultParams()); n != 22 {
			b.Fatalf("%d params", n)
		}
	}
}

// BenchmarkSetOneParam: Set of one writable parameter, with a ValueChange
// subscription on another one.
func BenchmarkSetOneParam(b *testing.B) {
	f := newFixture(b)
	f.subscribe(ctrl1, "vc", "ValueChange", "Device.DeviceInfo.ProvisioningCode", false)
	reqs := [2]*pb.Msg{
		usp.NewRequest("s", setMsg(false, upd("Device.DeviceInfo.", ps("FriendlyName", "a", true)))),
		usp.NewRequest("s", setMsg(false, upd("Device.DeviceInfo.", ps("FriendlyName", "b", true)))),
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		resp, _ := f.m.Handle(ctrl1, reqs[i&1], f.now)
		if resp.GetBody().GetResponse().GetSetResp() == nil {
			b.Fatal(resp)
		}
		i++
	}
}

// benchSchema is a TR-181 device of about 150 parameters, as the device
// simulator declares it.
func benchSchema(tb testing.TB) *Schema {
	b := NewBuilder(Options{URI: "urn:broadband-forum-org:tr-181-2-19-0"})
	dev := b.Object("Device.")
	dev.String("RootDataModelVersion").Default("2.19")
	dev.Command("Reboot()").In("Cause", "Reason").Sync(func(Ctx, map[string]string) (map[string]string, error) { return nil, nil })
	dev.Command("FactoryReset()").Sync(func(Ctx, map[string]string) (map[string]string, error) { return nil, nil })
	dev.Event("Boot!", "CommandKey", "Cause", "FirmwareUpdated", "ParameterMap")
	di := b.Object("Device.DeviceInfo.")
	for _, n := range []string{"Manufacturer", "ManufacturerOUI", "ModelName", "Description", "ProductClass", "HardwareVersion",
		"AdditionalHardwareVersion", "AdditionalSoftwareVersion", "ModelNumber", "CID", "PEN"} {
		di.String(n).Default("x-" + n)
	}
	di.String("SerialNumber").Persistent()
	di.String("SoftwareVersion").Getter(func(c Ctx) string { return "1.2.3" })
	di.String("FriendlyName").Writable()
	di.String("ProvisioningCode").Writable().Persistent()
	di.Uint("UpTime").IgnoreValueChange().Getter(func(c Ctx) string { return "42" })
	di.DateTime("FirstUseDate")
	di.String("ActiveFirmwareImage")
	di.String("BootFirmwareImage").Writable().Persistent()
	di.Uint("FirmwareImageNumberOfEntries")
	di.Uint("MaxNumberOfActivateTimeWindows").Default("2")
	di.List("VendorLogFileNumberOfEntries", path.UnsignedInt)
	ms := di.Object("MemoryStatus.")
	ms.Uint("Total").Default("65536")
	ms.Uint("Free").Default("32768")
	ps := di.Object("ProcessStatus.")
	ps.Uint("CPUUsage")
	ps.Uint("ProcessNumberOfEntries")
	rb := di.Object("Reboots.")
	for _, n := range []string{"BootCount", "CurrentVersionBootCount", "WatchdogBootCount", "ColdBootCount", "WarmBootCount", "MaxRebootEntries"} {
		rb.Uint(n).Persistent()
	}
	fw := di.Object("FirmwareImage.{i}.").Keys("Alias").MaxEntries(4).Persistent()
	fw.String("Alias").WriteOnce()
	for _, n := range []string{"Name", "Version", "BootFailureLog"} {
		fw.String(n)
	}
	fw.Bool("Available").Writable()
	fw.String("Status").Default("NoImage")
	fw.Command("Download()").Async(nil).Mandatory("URL").In("AutoActivate", "Username", "Password", "FileSize", "CheckSumAlgorithm", "CheckSum")
	fw.Command("Activate()").Async(nil).Mandatory("TimeWindow.{i}.Start", "TimeWindow.{i}.End", "TimeWindow.{i}.Mode")
	tm := b.Object("Device.Time.")
	tm.Bool("Enable").Writable()
	tm.String("Status").Default("Disabled")
	tm.String("NTPServer1").Writable()
	tm.String("NTPServer2").Writable()
	tm.DateTime("CurrentLocalTime")
	tm.String("LocalTimeZone").Writable()
	for _, n := range []string{"NTPServer3", "NTPServer4", "NTPServer5", "Interface"} {
		tm.String(n).Writable()
	}
	np := di.Object("NetworkProperties.")
	np.Uint("MaxTCPWindowSize")
	np.String("TCPImplementation")
	vc := di.Object("VendorConfigFile.{i}.").Keys("Alias")
	vc.String("Alias").WriteOnce()
	for _, n := range []string{"Name", "Version", "Description"} {
		vc.String(n)
	}
	vc.DateTime("Date")
	vc.Bool("UseForBackupRestore")
	la := b.Object("Device.LocalAgent.")
	for _, n := range []string{"EndpointID", "SoftwareVersion", "SupportedProtocols", "SupportedFingerprintAlgorithms", "AdvertisedDeviceSubtypes"} {
		la.String(n)
	}
	la.Uint("UpTime").IgnoreValueChange()
	la.Uint("MaxSubscriptionChangeAdoptionTime").Default("5")
	for _, n := range []string{"MTP", "Controller", "Subscription", "Request"} {
		la.Uint(n + "NumberOfEntries")
	}
	la.Event("TransferComplete!", "Command", "CommandKey", "Requestor", "TransferType", "Affected", "TransferURL", "StartTime", "CompleteTime", "FaultCode", "FaultString")
	la.Event("Periodic!")
	mtp := la.Object("MTP.{i}.").Access(AddDelete).Keys("Alias").Keys("Protocol").Persistent()
	mtp.String("Alias").WriteOnce()
	mtp.Bool("Enable").Writable()
	mtp.String("Status").Default("Down")
	mtp.String("Protocol").Writable()
	mtp.Bool("EnableMDNS").Writable().Default("true")
	mq := mtp.Object("MQTT.")
	for _, n := range []string{"Reference", "ResponseTopicConfigured", "ResponseTopicDiscovered"} {
		mq.String(n).Writable()
	}
	mq.Uint("PublishQoS").Writable()
	st := mtp.Object("STOMP.")
	for _, n := range []string{"Reference", "Destination", "DestinationFromServer"} {
		st.String(n).Writable()
	}
	ws := mtp.Object("WebSocket.")
	ws.String("Interfaces").Writable()
	ws.Uint("Port").Writable().Default("8443")
	ws.String("Path").Writable()
	ws.Bool("EnableEncryption").Writable().Default("true")
	ws.Uint("KeepAliveInterval").Writable().Default("60")
	ctl := la.Object("Controller.{i}.").Access(AddDelete).Keys("Alias").Keys("EndpointID").Persistent()
	ctl.String("Alias").WriteOnce()
	ctl.String("EndpointID").Writable()
	ctl.Bool("Enable").Writable()
	for _, n := range []string{"AssignedRole", "InheritedRole", "Credential", "ControllerCode", "ProvisioningCode"} {
		ctl.String(n).Writable()
	}
	ctl.Uint("PeriodicNotifInterval").Writable().Default("86400")
	ctl.DateTime("PeriodicNotifTime").Writable()
	ctl.Uint("USPNotifRetryMinimumWaitInterval").Writable().Default("5")
	ctl.Uint("USPNotifRetryIntervalMultiplier").Writable().Default("2000")
	ctl.Bool("OnBoardingComplete").Writable()
	ctl.Uint("OnBoardingRestartTime").Writable()
	ctl.Uint("MTPNumberOfEntries")
	ctl.Uint("BootParameterNumberOfEntries")
	ctl.Command("SendOnBoardRequest()").Sync(nil)
	cm := ctl.Object("MTP.{i}.").Access(AddDelete).Keys("Alias").Keys("Protocol").Persistent()
	cm.String("Alias").WriteOnce()
	cm.Bool("Enable").Writable()
	cm.String("Protocol").Writable()
	cm.Uint("Order").Writable().Default("1")
	cws := cm.Object("WebSocket.")
	cws.String("Host").Writable()
	cws.Uint("Port").Writable().Default("443")
	cws.String("Path").Writable()
	cws.Bool("EnableEncryption").Writable().Default("true")
	cws.Uint("KeepAliveInterval").Writable().Default("30")
	cws.Uint("CurrentRetryCount")
	cws.Uint("SessionRetryMinimumWaitInterval").Writable().Default("5")
	cws.Uint("SessionRetryIntervalMultiplier").Writable().Default("2000")
	cmq := cm.Object("MQTT.")
	cmq.String("Topic").Writable()
	cmq.Bool("PublishRetainResponse").Writable()
	cmq.Bool("PublishRetainNotify").Writable()
	cmq.String("AgentMTPReference").Writable()
	cst := cm.Object("STOMP.")
	for _, n := range []string{"Reference", "Destination", "USPServiceRef"} {
		cst.String(n).Writable()
	}
	e2e := ctl.Object("E2ESession.")
	e2e.String("SessionMode").Writable().Default("Allow")
	e2e.String("Status").Default("Down")
	e2e.String("PayloadSecurity").Default("TLS")
	for _, n := range []string{"SessionExpiration", "SessionRetryMinimumWaitInterval", "SessionRetryIntervalMultiplier",
		"CurrentRetryCount", "SegmentedPayloadChunkSize", "MaxUSPRecordSize", "MaxRetransmitTries"} {
		e2e.Uint(n).Writable()
	}
	ctl.Object("TransferCompletePolicy.").String("ResultTypeFilter").Writable().Default("Both")
	bp := ctl.Object("BootParameter.{i}.").Access(AddDelete).Keys("Alias").Keys("ParameterName").Persistent()
	bp.String("Alias").WriteOnce()
	bp.Bool("Enable").Writable()
	bp.String("ParameterName").Writable()
	b.UseControllers("Device.LocalAgent.Controller.{i}.")
	b.Subscriptions("Device.LocalAgent.Subscription.{i}.")
	b.Requests("Device.LocalAgent.Request.{i}.")
	s, err := b.Build()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// provision gives a bench model the state of a device after boot and
// onboarding: two firmware images, its own MTP, one Controller with its
// MTP, a Boot! subscription and a few per-device values.
func provision(tb testing.TB, m *Model, n int) {
	now := t0
	must := func(_ string, _ Effects, err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	set := func(p, v string) {
		if _, err := m.SetValue(p, v, now); err != nil {
			tb.Fatal(err)
		}
	}
	must(m.AddRow("Device.DeviceInfo.FirmwareImage.", 0, map[string]string{"Name": "fw-1.2.3", "Version": "1.2.3", "Available": "true", "Status": "Active"}, now))
	must(m.AddRow("Device.DeviceInfo.FirmwareImage.", 0, map[string]string{"Name": "fw-1.2.2", "Version": "1.2.2", "Available": "true", "Status": "Available"}, now))
	set("Device.DeviceInfo.SerialNumber", fmt.Sprintf("SIM%06d", n))
	set("Device.DeviceInfo.ActiveFirmwareImage", "Device.DeviceInfo.FirmwareImage.1")
	set("Device.DeviceInfo.BootFirmwareImage", "Device.DeviceInfo.FirmwareImage.1")
	set("Device.LocalAgent.EndpointID", fmt.Sprintf("os::00256D-SIM%06d", n))
	set("Device.LocalAgent.SupportedProtocols", "WebSocket,MQTT")
	must(m.AddRow("Device.LocalAgent.MTP.", 0, map[string]string{"Enable": "true", "Protocol": "WebSocket"}, now))
	must(m.AddRow("Device.LocalAgent.Controller.", 0, map[string]string{"EndpointID": "proto::controller", "Enable": "true"}, now))
	must(m.AddRow("Device.LocalAgent.Controller.1.MTP.", 0, map[string]string{"Enable": "true", "Protocol": "WebSocket",
		"WebSocket.Host": "controller.lab", "WebSocket.Path": "/usp"}, now))
	resp, _ := m.Handle(Origin{EndpointID: "proto::controller"}, usp.NewRequest("a", addMsg(false, cobj("Device.LocalAgent.Subscription.",
		cps("Enable", "true", true), cps("ID", "boot", true), cps("NotifType", "Event", true),
		cps("ReferenceList", "Device.Boot!", true), cps("Persistent", "true", true), cps("NotifRetry", "true", true)))), now)
	if resp.GetBody().GetResponse().GetAddResp() == nil {
		tb.Fatal(resp)
	}
}

// BenchmarkModelMemory reports the heap held per provisioned Model, over
// 10,000 models of one ~150-parameter schema.
func BenchmarkModelMemory(b *testing.B) {
	s := benchSchema(b)
	if n := len(s.params); n < 140 {
		b.Fatalf("bench schema has %d parameters", n)
	}
	const n = 10000
	var perModel float64
	for b.Loop() {
		models := make([]*Model, n)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range models {
			models[i] = NewModel(s, Config{})
			provision(b, models[i], i)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perModel = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(models)
	}
	b.ReportMetric(perModel, "bytes/model")
	b.ReportMetric(float64(len(s.params)), "params")
}

func TestBenchSchemaProvision(t *testing.T) {
	m := NewModel(benchSchema(t), Config{})
	provision(t, m, 7)
	if v, _ := m.Value("Device.LocalAgent.Controller.1.MTP.1.WebSocket.Host", t0); v != "controller.lab" {
		t.Errorf("%q", v)
	}
	t.Logf("%d parameters, snapshot %d bytes", len(m.s.params), len(m.Snapshot()))
}
