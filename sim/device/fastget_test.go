package device

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// A Get answered the fast way (usp.Codec.OpenGet, dm.Model.Get,
// AppendGetRespRecord) sends the bytes the general way sends: the same
// Get with an unknown field appended, which Open ignores and OpenGet
// leaves to it, is the general way's answer. Paths of every kind: objects
// at any depth, parameters, searches, errors, write-only and secret ones.
func TestFastGetIsGeneralGet(t *testing.T) {
	for _, mtp := range []string{"WebSocket", "MQTT", "STOMP"} {
		t.Run(mtp, func(t *testing.T) { testFastGet(t, mtp) })
	}
}

func testFastGet(t *testing.T, mtp string) {
	h := newHarness(t, "uboot-nor", func(c *Config) { c.MTP = mtp }).boot()
	h.standardSubs()
	h.run(90 * time.Second) // counters, CPU and temperature move
	for _, tc := range []struct {
		paths    []string
		maxDepth uint32
	}{
		{[]string{"Device.DeviceInfo."}, 0},
		{[]string{"Device."}, 0},
		{[]string{"Device."}, 1},
		{[]string{"Device."}, 2},
		{[]string{"Device.DeviceInfo.SoftwareVersion", "Device.DeviceInfo.FirmwareImage.*.Status"}, 0},
		{[]string{"Device.DeviceInfo.FirmwareImage.[Status==\"Active\"].Version"}, 0},
		{[]string{"Device.LocalAgent.Subscription.*."}, 0},
		{[]string{"Device.LocalAgent.Controller.1.", "Device.NoSuchThing.", "Device..bad", "Device.Reboot()"}, 0},
		{[]string{"Device.LocalAgent.Subscription.99."}, 0},
		{[]string{"Device.LocalAgent.MTP.", "Device.LocalAgent.Controller.*.MTP.*."}, 0},
		{[]string{"Device.MQTT.", "Device.STOMP.Connection.*.Status", "Device.MQTT.Client.*.Subscription.*.Topic"}, 0},
		{[]string{"Device.Ethernet.Interface.1.Stats.", "Device.IP.Interface.*.IPv4Address.*.IPAddress", "Device.IP.Interface.1.Stats.BytesReceived"}, 0},
		{[]string{"Device.DeviceInfo.MemoryStatus.", "Device.DeviceInfo.ProcessStatus.Process.[PID==212].", "Device.DeviceInfo.TemperatureStatus."}, 0},
		{[]string{"Device.Time.", "Device.DeviceInfo.VendorLogFile.*.Name", "Device.DeviceInfo.Location."}, 2},
		{[]string{}, 0},
	} {
		id := h.nextID()
		rec, err := h.ctrl.Seal(agentID, usp.NewRequest(id, &pb.Get{ParamPaths: tc.paths, MaxDepth: tc.maxDepth}))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := h.d.codec().OpenGet(rec); !ok {
			t.Fatalf("%v: not taken the fast way", tc.paths)
		}
		slow := protowire.AppendVarint(protowire.AppendTag(bytes.Clone(rec), 15, protowire.VarintType), 1)
		if _, ok := h.d.codec().OpenGet(slow); ok {
			t.Fatal("the unknown field did not send the Get the general way")
		}
		fast, general := h.d.Receive(h.now, rec), h.d.Receive(h.now, slow)
		if len(fast.Records) != 1 || len(general.Records) != 1 {
			t.Fatalf("%v: %d and %d records", tc.paths, len(fast.Records), len(general.Records))
		}
		if !bytes.Equal(fast.Records[0].Data, general.Records[0].Data) {
			t.Errorf("%v depth %d: the fast answer differs from the general one", tc.paths, tc.maxDepth)
		}
	}
}
