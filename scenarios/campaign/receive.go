package campaign

import (
	"strconv"
	"strings"
	"time"

	"brickyard/sim/fleet"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

const rowPrefix = "Device.DeviceInfo.FirmwareImage."

// Receive implements fleet.Controller.
func (c *Campaign) Receive(agentID string, rec []byte, now time.Time) []fleet.Send {
	n, ok := c.byID[agentID]
	if !ok {
		c.errs++
		c.logf("%s: a Record from an agent not in the fleet", agentID)
		return nil
	}
	in, err := c.codec.Open(rec)
	if err != nil {
		c.errs++
		c.logf("%s: bad Record: %v", agentID, err)
		return nil
	}
	m := in.Msg
	if m == nil {
		return nil // a Connect or Disconnect record
	}
	c.message("received", m)
	if usp.IsRequest(m) {
		return c.request(n, m, now)
	}
	id := m.GetHeader().GetMsgId()
	if p := c.pend[id]; p == nil || p.dev != n {
		return nil // a late answer to a request sent again, or not ours
	}
	p := c.untrack(id)
	if c.cfg.Observe != nil {
		c.cfg.Observe(now.Sub(p.first))
	}
	if c.cfg.ObserveRequest != nil {
		c.cfg.ObserveRequest(usp.TypeName(usp.TypeOf(p.msg)), p.first, now.Sub(p.first))
	}
	if e := m.GetBody().GetError(); e != nil {
		c.errs++
		if c.cfg.ErrorCode != nil {
			c.cfg.ErrorCode(e.GetErrCode())
		}
		c.logf("%s: %s %s answered with error %d: %s", agentID, p.kind, id, e.GetErrCode(), e.GetErrMsg())
		if p.repeated() {
			return nil // the first attempt may be under way: requests.go
		}
		return c.failed(n, p.kind, now, nil)
	}
	return c.response(n, p, m, now)
}

// request handles a request from the agent: only Notify is expected.
func (c *Campaign) request(n int, m *pb.Msg, now time.Time) []fleet.Send {
	nt := m.GetBody().GetRequest().GetNotify()
	var out []fleet.Send
	if nt == nil {
		return c.seal(n, usp.ErrorMsg(m.GetHeader().GetMsgId(), usp.Errorf(usp.MessageNotSupported, "the controller accepts only Notify"), nil), out)
	}
	if nt.GetSendResp() {
		out = c.seal(n, usp.NewResponse(m.GetHeader().GetMsgId(), &pb.NotifyResp{SubscriptionId: nt.GetSubscriptionId()}), out)
	}
	d := &c.devs[n]
	switch {
	case nt.GetEvent() != nil:
		ev := nt.GetEvent()
		switch ev.GetEventName() {
		case "Boot!":
			out = c.boot(n, ev.GetParams(), now, out)
		case "TransferComplete!":
			if fc := ev.GetParams()["FaultCode"]; fc != "" && fc != "0" && d.stage == stDownload {
				c.outcome(n, DownloadFailed, now)
			}
		}
	case nt.GetOperComplete() != nil:
		oc := nt.GetOperComplete()
		row := rowOf(oc.GetObjPath())
		if row == 0 || row != d.target {
			break
		}
		failed := oc.GetCmdFailure() != nil
		switch {
		case oc.GetCommandName() == "Download()" && d.stage == stDownload:
			if failed {
				c.outcome(n, DownloadFailed, now)
				break
			}
			out = c.downloaded(n, now, out)
		case oc.GetCommandName() == "Activate()" && d.stage == stActivated && failed:
			c.outcome(n, ActivateFailed, now)
		}
	case nt.GetValueChange() != nil:
		if vc := nt.GetValueChange(); vc.GetParamPath() == "Device.DeviceInfo.SoftwareVersion" {
			d.version = vc.GetParamValue()
		}
	}
	return out
}

// boot handles Device.Boot!.
func (c *Campaign) boot(n int, args map[string]string, now time.Time, out []fleet.Send) []fleet.Send {
	d := &c.devs[n]
	c.rebooted(n)
	if v := params(args["ParameterMap"])["Device.DeviceInfo.SoftwareVersion"]; v != "" {
		d.version = v
	}
	if d.wave == 0 || d.stage == stIdle || (d.stage == stDone && d.seen != Unreachable) {
		return out
	}
	if d.opSess == d.sessions && d.stage != stDone {
		// The boot before this session's operation (see requests.go):
		// the operation goes on.
		return out
	}
	target := c.cfg.Waves[d.wave-1].Images[d.board].Version
	switch {
	case d.version == target && c.cfg.Soak > 0:
		if d.stage != stSoak {
			d.stage = stSoak
			c.soak = append(c.soak, soakEntry{dev: n, at: now.Add(c.cfg.Soak)})
		}
	case d.version == target:
		c.outcome(n, Updated, now)
	case d.stage == stActivated || d.stage == stSoak || d.stage == stDone:
		c.outcome(n, RolledBack, now)
	default: // rebooted before the download's result: power lost
		c.outcome(n, Interrupted, now)
	}
	return out
}

// response handles the answer to one of our requests.
func (c *Campaign) response(n int, p *pending, m *pb.Msg, now time.Time) []fleet.Send {
	d := &c.devs[n]
	resp := m.GetBody().GetResponse()
	kind := p.kind
	switch kind {
	case "get":
		for _, r := range resp.GetGetResp().GetReqPathResults() {
			for _, res := range r.GetResolvedPathResults() {
				for k, v := range res.GetResultParams() {
					switch res.GetResolvedPath() + k {
					case "Device.DeviceInfo.SoftwareVersion":
						d.version = v
					case "Device.DeviceInfo.ActiveFirmwareImage":
						d.active = rowOf(v)
					case "Device.DeviceInfo.FirmwareImageNumberOfEntries":
						d.rows, _ = strconv.Atoi(v)
					}
				}
			}
		}
		if d.rows == 0 {
			c.logf("%s: no FirmwareImage rows", d.id)
			return nil
		}
		d.known = true
		return c.start(n, now, nil)
	case "verify":
		if d.stage != stSoak {
			return nil
		}
		target := c.cfg.Waves[d.wave-1].Images[d.board].Version
		for _, r := range resp.GetGetResp().GetReqPathResults() {
			for _, res := range r.GetResolvedPathResults() {
				if v, ok := res.GetResultParams()["SoftwareVersion"]; ok {
					d.version = v
				}
			}
		}
		if d.version == target {
			c.outcome(n, Updated, now)
		} else {
			c.outcome(n, RolledBack, now)
		}
		return nil
	case "download", "activate", "reboot":
		for _, r := range resp.GetOperateResp().GetOperationResults() {
			if f := r.GetCmdFailure(); f != nil {
				c.logf("%s: %s failed: %d %s", d.id, kind, f.GetErrCode(), f.GetErrMsg())
				if p.repeated() {
					return nil // the first attempt may be under way: requests.go
				}
				return c.failed(n, kind, now, nil)
			}
		}
	case "boot-image":
		for _, r := range resp.GetSetResp().GetUpdatedObjResults() {
			if f := r.GetOperStatus().GetOperFailure(); f != nil {
				if p.repeated() {
					return nil
				}
				return c.failed(n, kind, now, nil)
			}
		}
		d.stage = stActivated
		return c.send(n, "reboot", usp.NewRequest(c.nextID(), &pb.Operate{Command: "Device.Reboot()", CommandKey: c.key(d), SendResp: true}), now, nil)
	}
	return nil
}

// failed: a request of kind was refused.
func (c *Campaign) failed(n int, kind string, now time.Time, out []fleet.Send) []fleet.Send {
	switch kind {
	case "download":
		c.outcome(n, DownloadFailed, now)
	case "activate", "boot-image", "reboot":
		c.outcome(n, ActivateFailed, now)
	}
	return out
}

// downloaded: the Download() succeeded; go on with the procedure.
func (c *Campaign) downloaded(n int, now time.Time, out []fleet.Send) []fleet.Send {
	d := &c.devs[n]
	row := rowPrefix + strconv.Itoa(d.target)
	switch c.cfg.Procedure {
	case DownloadAuto:
		d.stage = stActivated
	case DownloadActivate:
		d.stage = stActivated
		w := c.cfg.Window
		out = c.send(n, "activate", usp.NewRequest(c.nextID(), &pb.Operate{Command: row + ".Activate()", CommandKey: c.key(d), SendResp: true,
			InputArgs: map[string]string{
				"TimeWindow.1.Start": strconv.Itoa(int(w.Start / time.Second)),
				"TimeWindow.1.End":   strconv.Itoa(int(w.End / time.Second)),
				"TimeWindow.1.Mode":  w.Mode,
			}}), now, out)
	case BootImage:
		d.stage = stDownloaded
		out = c.send(n, "boot-image", usp.NewRequest(c.nextID(), &pb.Set{UpdateObjs: []*pb.Set_UpdateObject{{
			ObjPath: "Device.DeviceInfo.", ParamSettings: []*pb.Set_UpdateParamSetting{{Param: "BootFirmwareImage", Value: row, Required: true}},
		}}}), now, out)
	}
	return out
}

func (c *Campaign) key(d *dev) string { return "campaign-wave-" + strconv.Itoa(d.wave) }

// start sends device n its Download() if its wave is open and it is ready.
func (c *Campaign) start(n int, now time.Time, out []fleet.Send) []fleet.Send {
	d := &c.devs[n]
	if d.wave == 0 || !d.known || !d.online || d.stage != stIdle || c.aborted != "" {
		return out
	}
	w := &c.waves[d.wave-1]
	if !w.open || w.closed {
		return out
	}
	img := c.cfg.Waves[d.wave-1].Images[d.board]
	d.fromVer = d.version
	if d.version == img.Version {
		d.stage = stActivated
		c.outcome(n, Updated, now)
		return out
	}
	d.target = 1
	for r := 1; r <= d.rows; r++ {
		if r != d.active {
			d.target = r
			break
		}
	}
	args := map[string]string{
		"URL":          img.URL,
		"AutoActivate": strconv.FormatBool(c.cfg.Procedure == DownloadAuto),
		"FileSize":     strconv.Itoa(img.Size),
	}
	if img.SHA256 != "" {
		args["CheckSumAlgorithm"], args["CheckSum"] = "SHA-256", img.SHA256
	}
	if c.cfg.Username != "" {
		args["Username"], args["Password"] = c.cfg.Username, c.cfg.Password
	}
	d.stage = stDownload
	cmd := rowPrefix + strconv.Itoa(d.target) + ".Download()"
	return c.send(n, "download", usp.NewRequest(c.nextID(), &pb.Operate{Command: cmd, CommandKey: c.key(d), SendResp: true, InputArgs: args}), now, out)
}

// outcome records what the controller concluded of device n.
func (c *Campaign) outcome(n int, o string, now time.Time) {
	d := &c.devs[n]
	if d.stage == stDone && d.seen != Unreachable {
		return
	}
	first := d.seen == ""
	d.seen, d.stage = o, stDone
	if !first || d.wave == 0 {
		return
	}
	w := &c.waves[d.wave-1]
	w.done++
	if o != Updated {
		w.failed++
	}
	c.checkAbort(d.wave-1, now)
	if w.done == w.size && !w.closed {
		c.closeWave(d.wave-1, now)
	}
}

func (c *Campaign) checkAbort(i int, now time.Time) {
	a, w := c.cfg.Abort, &c.waves[i]
	if a == nil || c.aborted != "" || w.done < max(1, a.MinDevices) || w.size == 0 {
		return
	}
	if rate := float64(w.failed) / float64(w.size); rate > a.FailureRate {
		w.aborted = true
		c.aborted = "wave " + strconv.Itoa(i+1) + " failure rate " + strconv.FormatFloat(rate, 'f', 3, 64) +
			" > " + strconv.FormatFloat(a.FailureRate, 'f', -1, 64)
		c.abortedAt = now
		c.logf("campaign aborted: %s", c.aborted)
	}
}

func (c *Campaign) closeWave(i int, now time.Time) {
	w := &c.waves[i]
	w.closed, w.closedAt = true, now
	c.checkAbort(i, now)
	if i == c.next-1 {
		c.nextAt = now.Add(c.cfg.Pause)
	}
}

// Tick implements fleet.Controller: it opens waves, closes them at their
// deadlines and sends unanswered requests again.
func (c *Campaign) Tick(now time.Time) ([]fleet.Send, time.Time) {
	out := c.expire(now, nil)
	// Soaks that ended: ask the version once more.
	k := 0
	for ; k < len(c.soak) && !c.soak[k].at.After(now); k++ {
		e := c.soak[k]
		if d := &c.devs[e.dev]; d.stage == stSoak {
			out = c.send(e.dev, "verify", usp.NewRequest(c.nextID(), &pb.Get{ParamPaths: []string{"Device.DeviceInfo.SoftwareVersion"}}), now, out)
		}
	}
	c.soak = c.soak[k:]
	// Deadlines of open waves.
	for i := range c.waves {
		w := &c.waves[i]
		if w.open && !w.closed && !now.Before(w.opened.Add(c.cfg.Waves[i].Deadline)) {
			for n := range c.devs {
				if d := &c.devs[n]; d.wave == i+1 && d.seen == "" {
					c.outcome(n, Unreachable, now)
				}
			}
			if !w.closed {
				c.closeWave(i, now)
			}
		}
	}
	// The next wave.
	if c.aborted == "" && c.next < len(c.waves) && (c.next == 0 || c.waves[c.next-1].closed) && !now.Before(c.nextAt) {
		i := c.next
		c.next++
		c.waves[i].open, c.waves[i].opened = true, now
		if c.waves[i].size == 0 {
			c.closeWave(i, now)
		}
		for n := range c.devs {
			if c.devs[n].wave == i+1 {
				out = c.start(n, now, out)
			}
		}
	}
	return out, c.nextTick(now)
}

// nextTick is the earliest time something is due, and at most a Heartbeat
// away: the runners call Tick only when asked, and a Receive may have made
// something due sooner (a wave that closed, a new request).
func (c *Campaign) nextTick(now time.Time) time.Time {
	var t time.Time
	take := func(x time.Time) {
		if !x.IsZero() && (t.IsZero() || x.Before(t)) {
			t = x
		}
	}
	take(c.nextTimeout())
	if len(c.soak) > 0 {
		take(c.soak[0].at)
	}
	for i := range c.waves {
		if w := &c.waves[i]; w.open && !w.closed {
			take(w.opened.Add(c.cfg.Waves[i].Deadline))
		}
	}
	if c.aborted == "" && c.next < len(c.waves) && (c.next == 0 || c.waves[c.next-1].closed) {
		take(c.nextAt)
	}
	take(now.Add(c.cfg.Heartbeat))
	if t.Before(now) {
		t = now
	}
	return t
}

// rowOf is the instance number of a FirmwareImage row path ("…Image.2" or
// "…Image.2."), 0 when it is not one.
func rowOf(path string) int {
	s, ok := strings.CutPrefix(path, rowPrefix)
	if !ok {
		return 0
	}
	s = strings.TrimSuffix(s, ".")
	r, err := strconv.Atoi(s)
	if err != nil || r <= 0 {
		return 0
	}
	return r
}
