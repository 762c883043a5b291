package fleet

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"brickyard/boards/boardtest"
	"brickyard/mtp"
	"brickyard/mtp/inproc"
	"brickyard/sim/device"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// stateCtl is a scripted controller for one device over mtp/inproc.
type stateCtl struct {
	t     *testing.T
	conn  mtp.Conn
	codec usp.Codec
	agent string
	n     int
	seen  []*pb.Msg // every Msg received
}

func (c *stateCtl) recv(ctx context.Context) *pb.Msg {
	c.t.Helper()
	for {
		rec, err := c.conn.Recv(ctx)
		if err != nil {
			c.t.Fatalf("recv: %v", err)
		}
		in, err := c.codec.Open(rec)
		if err != nil || in.Msg == nil {
			continue // the Connect Record
		}
		c.seen = append(c.seen, in.Msg)
		if n := in.Msg.GetBody().GetRequest().GetNotify(); n != nil && n.GetSendResp() {
			b, _ := c.codec.Seal(c.agent, usp.NewResponse(in.Msg.GetHeader().GetMsgId(), &pb.NotifyResp{SubscriptionId: n.GetSubscriptionId()}))
			c.conn.Send(ctx, b)
		}
		return in.Msg
	}
}

// ask sends a request made by mk and returns its answer (Notifies
// meanwhile go to seen).
func (c *stateCtl) ask(ctx context.Context, mk func(id string) *pb.Msg) *pb.Msg {
	c.t.Helper()
	c.n++
	id := fmt.Sprintf("s-%d", c.n)
	b, err := c.codec.Seal(c.agent, mk(id))
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.conn.Send(ctx, b); err != nil {
		c.t.Fatal(err)
	}
	for {
		m := c.recv(ctx)
		if m.GetHeader().GetMsgId() == id {
			return m
		}
	}
}

// TestStateDir: a farm stopped and started again with --state-dir finds
// its device as a power cycle leaves it: the firmware it updated to, its
// configuration, its persistent subscription (Boot! reaches it), its
// first-use date and instance numbers; a non-persistent subscription is
// gone. A damaged state file is a named error.
func TestStateDir(t *testing.T) {
	img := boardtest.Image(boardtest.Spec{Board: "uboot-nor", Version: "2.0.0", PayloadSize: 9000})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) }))
	defer srv.Close()
	f, s := factory(t, "uboot-nor")
	dir := t.TempDir()
	const ctlID = "proto::controller"

	run := func(script func(ctx context.Context, c *stateCtl, l mtp.Listener)) {
		t.Helper()
		net := inproc.NewNetwork(1, inproc.Faults{}, 0)
		l, err := net.Listen(ctlID)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		r, err := NewReal(RealConfig{Seed: 3, Schema: s, Dialer: net.Dialer(ctlID), StateDir: dir,
			Boards:  []BoardGroup{{Name: "uboot-nor", Factory: f, Count: 1}},
			Fetcher: &HTTPFetcher{Client: srv.Client()},
			Device: func(_ int, c *device.Config) {
				c.RebootDuration, c.TrialPeriod, c.Onboarded = 50*time.Millisecond, 2*time.Second, true
			}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		runCtx, stop := context.WithCancel(ctx)
		ran := make(chan error, 1)
		go func() { ran <- r.Run(runCtx) }()
		conn, err := l.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		script(ctx, &stateCtl{t: t, conn: conn, codec: usp.Codec{LocalID: ctlID}, agent: r.ID(0)}, l)
		stop()
		if err := <-ran; err != nil {
			t.Fatal(err)
		}
	}
	get := func(ctx context.Context, c *stateCtl, p string) string {
		m := c.ask(ctx, func(id string) *pb.Msg { return usp.NewRequest(id, &pb.Get{ParamPaths: []string{p}}) })
		for _, rr := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
			for _, res := range rr.GetResolvedPathResults() {
				for _, v := range res.GetResultParams() {
					return v
				}
			}
		}
		return ""
	}
	var firstUse string
	run(func(ctx context.Context, c *stateCtl, l mtp.Listener) {
		c.ask(ctx, func(id string) *pb.Msg {
			return usp.NewRequest(id, &pb.Set{UpdateObjs: []*pb.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.",
				ParamSettings: []*pb.Set_UpdateParamSetting{{Param: "PeriodicNotifInterval", Value: "1234", Required: true}}}}})
		})
		for _, sub := range []struct{ id, persist string }{{"boot", "true"}, {"gone", "false"}} {
			c.ask(ctx, func(id string) *pb.Msg {
				return usp.NewRequest(id, &pb.Add{CreateObjs: []*pb.Add_CreateObject{{ObjPath: "Device.LocalAgent.Subscription.", ParamSettings: []*pb.Add_CreateParamSetting{
					{Param: "Enable", Value: "true"}, {Param: "ID", Value: sub.id}, {Param: "NotifType", Value: "Event"},
					{Param: "ReferenceList", Value: "Device.Boot!"}, {Param: "Persistent", Value: sub.persist}, {Param: "NotifRetry", Value: "true"}}}}})
			})
		}
		firstUse = get(ctx, c, "Device.DeviceInfo.FirstUseDate")
		c.ask(ctx, func(id string) *pb.Msg {
			return usp.NewRequest(id, &pb.Operate{Command: "Device.DeviceInfo.FirmwareImage.2.Download()", CommandKey: "k", SendResp: true,
				InputArgs: map[string]string{"URL": srv.URL + "/fw.img", "AutoActivate": "true"}})
		})
		// The device installs 2.0.0, reboots and comes back: its Boot!
		// answered confirms the image on trial.
		conn, err := l.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.conn = conn
		for {
			if n := c.recv(ctx).GetBody().GetRequest().GetNotify(); n.GetEvent().GetEventName() == "Boot!" && n.GetEvent().GetParams()["FirmwareUpdated"] == "true" {
				break
			}
		}
		if v := get(ctx, c, "Device.DeviceInfo.SoftwareVersion"); v != "2.0.0" {
			t.Fatalf("SoftwareVersion %s after the update", v)
		}
	})
	if _, err := os.Stat(filepath.Join(dir, "os::00256D-SIM000001.state")); err != nil {
		t.Fatal(err)
	}
	// The download and reboot ran on after the controller went: the
	// second run sees where they left the device.
	run(func(ctx context.Context, c *stateCtl, _ mtp.Listener) {
		var boot *pb.Notify
		for boot == nil {
			if n := c.recv(ctx).GetBody().GetRequest().GetNotify(); n.GetEvent().GetEventName() == "Boot!" {
				boot = n
			}
		}
		if boot.GetSubscriptionId() != "boot" || boot.GetEvent().GetParams()["Cause"] != "LocalReboot" {
			t.Errorf("Boot! after the restart: %v", boot)
		}
		for p, want := range map[string]string{
			"Device.LocalAgent.Controller.1.PeriodicNotifInterval": "1234",
			"Device.DeviceInfo.FirstUseDate":                       firstUse,
			"Device.LocalAgent.SubscriptionNumberOfEntries":        "1",
			"Device.LocalAgent.Subscription.1.ID":                  "boot",
		} {
			if got := get(ctx, c, p); got != want {
				t.Errorf("after the restart %s = %q, want %q", p, got, want)
			}
		}
		// The flash kept the update: 2.0.0 runs from row 2.
		if v := get(ctx, c, "Device.DeviceInfo.SoftwareVersion"); v != "2.0.0" {
			t.Errorf("SoftwareVersion %s after the restart, want 2.0.0", v)
		}
		if v := get(ctx, c, "Device.DeviceInfo.ActiveFirmwareImage"); v != "Device.DeviceInfo.FirmwareImage.2" {
			t.Errorf("ActiveFirmwareImage %s after the restart", v)
		}
	})
	// A damaged file.
	os.WriteFile(filepath.Join(dir, "os::00256D-SIM000001.state"), []byte("BYST\x01\x05abc"), 0o644)
	if _, err := NewReal(RealConfig{Schema: s, Dialer: inproc.NewNetwork(1, inproc.Faults{}, 0).Dialer(ctlID), StateDir: dir,
		Boards: []BoardGroup{{Name: "uboot-nor", Factory: f, Count: 1}}}); err == nil {
		t.Error("a damaged state file was accepted")
	}
}
