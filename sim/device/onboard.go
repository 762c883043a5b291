package device

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"brickyard/usp"
	"brickyard/usp/dm"
	pb "brickyard/usp/uspmsg"
)

// Onboarding (TR-369 R-NOT.5/6, TR-181 Controller.{i}.OnBoardingComplete).
//
// An enabled Controller row whose OnBoardingComplete is false (the
// factory value) gets an OnBoardRequest — ManufacturerOUI, ProductClass,
// SerialNumber and the agent's USP versions — once per boot, when the
// session first comes up, after Boot! (§7.5). It is sent with
// send_resp=true and retried like a subscription's Notify until the
// controller's NotifyResp, never expiring (R-NOT.6a). Once answered, if
// OnBoardingComplete is still false and OnBoardingRestartTime is not 0,
// another goes out that many seconds later. A controller ends it by
// setting OnBoardingComplete to true; setting it to false, or calling
// SendOnBoardRequest(), starts it again at once. A FactoryReset() brings
// the factory Controller row back, OnBoardingComplete false included.

var timeZero time.Time

// onboard sends an OnBoardRequest to every enabled controller that has not
// completed onboarding (rows: all when nil).
func (d *Device) onboard(now time.Time, rows []string) {
	if rows == nil {
		rows, _ = d.m.Instances(pathController, now)
	}
	for _, r := range rows {
		if v, _ := d.m.Value(r+"Enable", now); v != "true" {
			continue
		}
		if v, _ := d.m.Value(r+"OnBoardingComplete", now); v == "true" {
			continue
		}
		eid, _ := d.m.Value(r+"EndpointID", now)
		if eid == "" || d.onboardPending(eid) {
			continue
		}
		n := usp.OnBoardRequest(d.cfg.ManufacturerOUI(), d.cfg.ProductClass(), d.cfg.SerialNumber)
		fx := d.m.SendNotify(dm.Origin{EndpointID: eid, Controller: strings.TrimSuffix(r, ".")}, n, now)
		for _, nt := range fx.Notify {
			x := d.busy()
			x.onboards = append(x.onboards, onboardReq{to: eid, msgID: nt.Msg.GetHeader().GetMsgId()})
		}
		d.event(now, EvOnBoardRequest, "to=%s", eid)
		d.apply(now, fx)
	}
}

// onboardReq is an OnBoardRequest waiting for its NotifyResp, or (msgID
// "") the restart of one.
type onboardReq struct {
	to, msgID string
	at        time.Time // restart time
}

func (d *Device) onboardPending(eid string) bool {
	return d.x != nil && slices.ContainsFunc(d.x.onboards, func(o onboardReq) bool { return o.to == eid })
}

// onboardAnswered handles a NotifyResp (or Error) that may answer an
// OnBoardRequest: OnBoardingRestartTime schedules the next.
func (d *Device) onboardAnswered(now time.Time, from string, msg *pb.Msg) {
	if d.x == nil || len(d.x.onboards) == 0 {
		return
	}
	b := msg.GetBody()
	if b.GetResponse().GetNotifyResp() == nil && b.GetError() == nil {
		return
	}
	id := msg.GetHeader().GetMsgId()
	k := slices.IndexFunc(d.x.onboards, func(o onboardReq) bool { return o.msgID == id && o.to == from })
	if k < 0 {
		return
	}
	d.x.onboards = slices.Delete(d.x.onboards, k, k+1)
	row := d.controllerRow(from, now)
	if row == "" {
		return
	}
	if v, _ := d.m.Value(row+"OnBoardingComplete", now); v == "true" {
		return
	}
	secs, _ := d.m.Value(row+"OnBoardingRestartTime", now)
	if n, err := strconv.ParseUint(secs, 10, 32); err == nil && n > 0 {
		x := d.busy()
		x.onboards = append(x.onboards, onboardReq{to: from, at: now.Add(time.Duration(n) * time.Second)})
		d.armOnboard()
	}
}

// armOnboard sets the onboarding timer to the earliest restart.
func (d *Device) armOnboard() {
	var at time.Time
	if d.x == nil {
		d.setTimer(TimerOnBoard, at)
		return
	}
	for _, o := range d.x.onboards {
		if o.msgID == "" && (at.IsZero() || o.at.Before(at)) {
			at = o.at
		}
	}
	d.setTimer(TimerOnBoard, at)
}

// onboardTimer sends the restarts that are due.
func (d *Device) onboardTimer(now time.Time) {
	var rows []string
	x := d.busy()
	x.onboards = slices.DeleteFunc(x.onboards, func(o onboardReq) bool {
		if o.msgID != "" || now.Before(o.at) {
			return false
		}
		if r := d.controllerRow(o.to, now); r != "" {
			rows = append(rows, r)
		}
		return true
	})
	if len(rows) > 0 {
		d.onboard(now, rows)
	}
	d.armOnboard()
}

// onBoardingSet is the Setter of OnBoardingComplete: false asks for an
// OnBoardRequest (sent once the SetResp is out), true stops the restarts.
func onBoardingSet(c dm.Ctx, v string) error {
	d := dev(c)
	eid, _ := c.Get("EndpointID")
	if v == "true" {
		x := d.busy()
		x.onboards = slices.DeleteFunc(x.onboards, func(o onboardReq) bool { return o.to == eid && o.msgID == "" })
		return nil
	}
	x := d.busy()
	x.onboardAsk = append(x.onboardAsk, c.Path())
	return nil
}

// sendOnBoardRequestCmd is Controller.{i}.SendOnBoardRequest(): for an
// enabled row, OnBoardingComplete becomes false and an OnBoardRequest goes
// out after the OperateResp.
func sendOnBoardRequestCmd(c dm.Ctx, _ map[string]string) (map[string]string, error) {
	d := dev(c)
	if v, _ := c.Get("Enable"); v != "true" {
		return nil, usp.Errorf(usp.CommandFailure, "%s is not enabled", strings.TrimSuffix(c.Path(), "."))
	}
	if _, err := c.Model.SetValue(c.Path()+"OnBoardingComplete", "false", c.Now); err != nil {
		return nil, err
	}
	eid, _ := c.Get("EndpointID")
	x := d.busy()
	x.onboards = slices.DeleteFunc(x.onboards, func(o onboardReq) bool { return o.to == eid })
	x.onboardAsk = append(x.onboardAsk, c.Path())
	return nil, nil
}
