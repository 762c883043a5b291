package agents

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"brickyard/sim/device"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// dumpModel prints device d's data model as its controller ctrlID would
// read it: every parameter with its value (Get "Device."), sorted, writable
// ones marked, then the commands and events it supports (GetSupportedDM).
// A device that is off (rebooting) is powered on first; a bricked one has
// no model to show. It asks the device itself, through Receive, so what it
// prints is exactly what a controller gets.
func dumpModel(w io.Writer, d *device.Device, id, ctrlID, board, protocol string, now time.Time) error {
	switch d.State() {
	case device.Dead:
		_, err := fmt.Fprintf(w, "# %s (board %s) is bricked: it answers nothing, there is no data model to show\n", id, board)
		return err
	case device.Off:
		d.PowerOn(now)
		if d.State() != device.On {
			_, err := fmt.Fprintf(w, "# %s (board %s) does not boot (state %s): no data model to show\n", id, board, d.State())
			return err
		}
	}
	get, getSize, err := askDevice(d, id, ctrlID, now, usp.NewRequest("dump-model-get", &pb.Get{ParamPaths: []string{"Device."}}))
	if err != nil {
		return err
	}
	gsdm, _, err := askDevice(d, id, ctrlID, now, usp.NewRequest("dump-model-gsdm", &pb.GetSupportedDM{
		ObjPaths: []string{"Device."}, ReturnCommands: true, ReturnEvents: true, ReturnParams: true}))
	if err != nil {
		return err
	}
	// Access by supported path ("Device.DeviceInfo.FirmwareImage.{i}.Alias").
	writable := map[string]bool{}
	type cmdInfo struct {
		path, kind string
		in, out    []string
	}
	var cmds []cmdInfo
	events := map[string][]string{}
	for _, rr := range gsdm.GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults() {
		for _, o := range rr.GetSupportedObjs() {
			base := o.GetSupportedObjPath()
			for _, p := range o.GetSupportedParams() {
				if p.GetAccess() != pb.GetSupportedDMResp_PARAM_READ_ONLY {
					writable[base+p.GetParamName()] = true
				}
			}
			for _, c := range o.GetSupportedCommands() {
				kind := "sync"
				if c.GetCommandType() == pb.GetSupportedDMResp_CMD_ASYNC {
					kind = "async"
				}
				cmds = append(cmds, cmdInfo{base + c.GetCommandName(), kind, c.GetInputArgNames(), c.GetOutputArgNames()})
			}
			for _, e := range o.GetSupportedEvents() {
				events[base+e.GetEventName()] = e.GetArgNames()
			}
		}
	}
	params := map[string]string{}
	for _, rr := range get.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		if rr.GetErrCode() != 0 {
			return fmt.Errorf("Get Device.: %d %s", rr.GetErrCode(), rr.GetErrMsg())
		}
		for _, res := range rr.GetResolvedPathResults() {
			for k, v := range res.GetResultParams() {
				params[res.GetResolvedPath()+k] = v
			}
		}
	}
	paths := make([]string, 0, len(params))
	for p := range params {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	version, _ := d.Value("Device.DeviceInfo.SoftwareVersion", now)
	fmt.Fprintf(w, "# %s: board %s, firmware %s; controller %s over %s\n", id, board, version, ctrlID, protocol)
	fmt.Fprintf(w, "# %d parameters as Get Device. returns them; (rw): a controller may Set it\n", len(paths))
	if getSize > usp.DefaultMaxRecordSize {
		fmt.Fprintf(w, "# the GetResp of Device. is a %d-byte Record: more than the %d a controller on brickyard's MTPs takes; ask for less than Device. at once\n",
			getSize, usp.DefaultMaxRecordSize)
	}
	for _, p := range paths {
		mark := ""
		if writable[supportedPath(p)] {
			mark = "  (rw)"
		}
		fmt.Fprintf(w, "%s = %s%s\n", p, strconv.Quote(params[p]), mark)
	}
	slices.SortFunc(cmds, func(a, b cmdInfo) int { return strings.Compare(a.path, b.path) })
	fmt.Fprintf(w, "\n# %d commands (Operate)\n", len(cmds))
	for _, c := range cmds {
		fmt.Fprintf(w, "%s  %s", c.path, c.kind)
		if len(c.in) > 0 {
			fmt.Fprintf(w, "  in: %s", strings.Join(c.in, " "))
		}
		if len(c.out) > 0 {
			fmt.Fprintf(w, "  out: %s", strings.Join(c.out, " "))
		}
		fmt.Fprintln(w)
	}
	names := make([]string, 0, len(events))
	for e := range events {
		names = append(names, e)
	}
	slices.Sort(names)
	fmt.Fprintf(w, "\n# %d events (subscribe: Add Device.LocalAgent.Subscription. with NotifType Event, ReferenceList the event)\n", len(names))
	for _, e := range names {
		fmt.Fprintf(w, "%s", e)
		if args := events[e]; len(args) > 0 {
			fmt.Fprintf(w, "  args: %s", strings.Join(args, " "))
		}
		fmt.Fprintln(w)
	}
	return nil
}

// supportedPath turns instance numbers into {i}:
// Device.DeviceInfo.FirmwareImage.1.Alias → Device.DeviceInfo.FirmwareImage.{i}.Alias.
func supportedPath(p string) string {
	parts := strings.Split(p, ".")
	for i, s := range parts {
		if s != "" && strings.Trim(s, "0123456789") == "" {
			parts[i] = "{i}"
		}
	}
	return strings.Join(parts, ".")
}

// askDevice hands the device one request from ctrlID and returns its
// response. The device emits Records only while it believes its session
// is up; the request goes in after Connected when it does not.
//
// The answer is read whatever its size (a vendor model's Get of Device.
// can pass a controller's usual 256 KiB): --dump-model shows the model,
// and says how large the answer was when it is more than a controller on
// brickyard's MTPs takes (usp.DefaultMaxRecordSize).
func askDevice(d *device.Device, id, ctrlID string, now time.Time, req *pb.Msg) (*pb.Msg, int, error) {
	codec := usp.Codec{LocalID: ctrlID, MaxRecordSize: maxDumpRecord}
	data, err := codec.Seal(id, req)
	if err != nil {
		return nil, 0, err
	}
	var recs []device.Record
	if !d.Online() {
		recs = append(recs, d.Connected(now).Records...)
	}
	recs = append(recs, d.Receive(now, data).Records...)
	var openErr error
	for _, rec := range recs {
		in, err := codec.Open(rec.Data)
		if err != nil {
			openErr = err
			continue
		}
		if in.Msg == nil || in.Msg.GetHeader().GetMsgId() != req.GetHeader().GetMsgId() {
			continue
		}
		if e := in.Msg.GetBody().GetError(); e != nil {
			return nil, 0, fmt.Errorf("the device answered %s with Error %d: %s", usp.TypeName(usp.TypeOf(req)), e.GetErrCode(), e.GetErrMsg())
		}
		return in.Msg, len(rec.Data), nil
	}
	if openErr != nil {
		return nil, 0, fmt.Errorf("the device's answer cannot be read: %w", openErr)
	}
	return nil, 0, errors.New("the device did not answer")
}

// maxDumpRecord bounds the answer --dump-model reads.
const maxDumpRecord = 256 << 20
