package fleet_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"brickyard/mtp"
	"brickyard/mtp/mqtt"
	"brickyard/mtp/mtptest"
	"brickyard/sim/device"
	"brickyard/sim/fleet"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// TestMTPMove: through Debian's mosquitto, a controller Sets its
// Controller.1.MTP.1.MQTT.Topic and the agent moves there, as TR-369's
// MQTT binding says: its SetResp comes back on the old topic, then its
// DisconnectRecord, and its next session announces itself (mqtt_connect)
// on the new topic, where requests reach it. Adding an
// MQTT.Client.1.Subscription row makes it subscribe to that filter too.
func TestMTPMove(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	broker := mtptest.StartMosquitto(t)
	const ctlID, oldTopic, newTopic = "proto::mover", "usp/controller/old", "ops/controller/new"
	host, port, _ := net.SplitHostPort(broker)
	pn, _ := strconv.Atoi(port)
	tr, err := device.FillTransport(device.Transport{Protocol: "MQTT", Host: host, Port: uint32(pn), ControllerTopic: oldTopic}, "MQTT")
	if err != nil {
		t.Fatal(err)
	}
	cfgOf := func(topic string) mqtt.Config {
		return mqtt.Config{Broker: "tcp://" + broker, ControllerID: ctlID, ControllerTopic: topic, AgentTopic: "usp/agent/{eid}", DialTimeout: 5 * time.Second}
	}
	oldL, err := mqtt.NewListener(cfgOf(oldTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer oldL.Close()
	newL, err := mqtt.NewListener(cfgOf(newTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer newL.Close()
	dialer, err := mqtt.NewDialer(cfgOf(oldTopic))
	if err != nil {
		t.Fatal(err)
	}
	factory, schema := fleet.Factory(t, "uboot-nor")
	r, err := fleet.NewReal(fleet.RealConfig{Seed: 1, ControllerID: ctlID, Schema: schema, Dialer: dialer,
		Boards: []fleet.BoardGroup{{Name: "uboot-nor", Factory: factory, Count: 1}},
		Device: func(_ int, c *device.Config) { c.Transport, c.Onboarded = tr, true }})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- r.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	}()
	agent := r.ID(0)
	codec := usp.Codec{LocalID: ctlID}
	n := 0
	ask := func(c mtp.Conn, body func(id string) *pb.Msg) *pb.Msg {
		t.Helper()
		n++
		id := "mv-" + strconv.Itoa(n)
		b, _ := codec.Seal(agent, body(id))
		if err := c.Send(ctx, b); err != nil {
			t.Fatal(err)
		}
		for {
			rec, err := c.Recv(ctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", id, err)
			}
			in, err := codec.Open(rec)
			if err == nil && in.Msg != nil && in.Msg.GetHeader().GetMsgId() == id {
				return in.Msg
			}
		}
	}
	accept := func(l mtp.Listener) mtp.Conn {
		t.Helper()
		c, err := l.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Info().Peer != agent {
			t.Fatalf("peer %s", c.Info().Peer)
		}
		return c
	}
	old := accept(oldL)
	resp := ask(old, func(id string) *pb.Msg {
		return usp.NewRequest(id, &pb.Set{UpdateObjs: []*pb.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.MTP.1.",
			ParamSettings: []*pb.Set_UpdateParamSetting{{Param: "MQTT.Topic", Value: newTopic, Required: true}}}}})
	})
	if resp.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("SetResp %v", resp)
	}
	// The agent's next session is on the new topic.
	moved := accept(newL)
	get := func(c mtp.Conn, p string) string {
		m := ask(c, func(id string) *pb.Msg { return usp.NewRequest(id, &pb.Get{ParamPaths: []string{p}}) })
		for _, rr := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
			for _, res := range rr.GetResolvedPathResults() {
				for _, v := range res.GetResultParams() {
					return v
				}
			}
		}
		return ""
	}
	if v := get(moved, "Device.LocalAgent.Controller.1.MTP.1.MQTT.Topic"); v != newTopic {
		t.Fatalf("Topic %q on the new session", v)
	}
	// A new Subscription row: the agent also hears that filter.
	resp = ask(moved, func(id string) *pb.Msg {
		return usp.NewRequest(id, &pb.Add{CreateObjs: []*pb.Add_CreateObject{{ObjPath: "Device.MQTT.Client.1.Subscription.",
			ParamSettings: []*pb.Add_CreateParamSetting{{Param: "Topic", Value: "ops/fleet/#", Required: true}, {Param: "Enable", Value: "true", Required: true}}}}})
	})
	if resp.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("AddResp %v", resp)
	}
	again := accept(newL) // the session moved again (to subscribe)
	if v := get(again, "Device.MQTT.Client.1.Subscription.2.Status"); v != "Subscribed" {
		t.Errorf("Subscription.2.Status %q", v)
	}
	if v := get(again, "Device.MQTT.Client.1.SubscriptionNumberOfEntries"); v != "2" {
		t.Errorf("SubscriptionNumberOfEntries %q", v)
	}
}
