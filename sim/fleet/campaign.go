package fleet

import (
	"slices"
	"strconv"
	"time"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// Campaign is a minimal Controller for tests and benchmarks: on an agent's
// first session it subscribes (persistently, with retries) to Device.Boot!,
// TransferComplete! and the FirmwareImage OperationCompletes, and to
// Periodic! if asked; it answers every Notify that wants a response; and
// from At on, it sends each connected agent one
// FirmwareImage.{Row}.Download() with AutoActivate. It is not safe for
// concurrent use (the runners serialise their calls).
type Campaign struct {
	ID       string                      // the controller's Endpoint ID; default "proto::controller"
	URL      func(agentID string) string // the image for an agent; nil or "": no download
	At       time.Time                   // when downloads start
	Row      int                         // the FirmwareImage row to download into; default 2
	Periodic bool                        // also subscribe to Device.LocalAgent.Periodic!

	agents map[string]*campAgent
	msgID  uint64
	ticked bool

	// Counts of what arrived (each Notify counted once per msg_id and agent).
	Boots, Transfers, OperComplete, Periodics, OnBoards, Errors int
}

type campAgent struct {
	online, subscribed, sent bool
	seen                     map[string]bool
}

func (c *Campaign) codec() usp.Codec {
	if c.ID == "" {
		c.ID = "proto::controller"
	}
	return usp.Codec{LocalID: c.ID}
}

func (c *Campaign) agent(id string) *campAgent {
	if c.agents == nil {
		c.agents = map[string]*campAgent{}
	}
	a := c.agents[id]
	if a == nil {
		a = &campAgent{seen: map[string]bool{}}
		c.agents[id] = a
	}
	return a
}

func (c *Campaign) seal(to string, m *pb.Msg, out []Send) []Send {
	rec, err := c.codec().Seal(to, m)
	if err != nil {
		c.Errors++
		return out
	}
	return append(out, Send{To: to, Data: rec})
}

func (c *Campaign) next() string {
	c.msgID++
	return "c-" + strconv.FormatUint(c.msgID, 10)
}

func (c *Campaign) sub(to, id, typ, ref string, out []Send) []Send {
	ps := []*pb.Add_CreateParamSetting{
		{Param: "Enable", Value: "true", Required: true},
		{Param: "ID", Value: id, Required: true},
		{Param: "NotifType", Value: typ, Required: true},
		{Param: "ReferenceList", Value: ref, Required: true},
		{Param: "Persistent", Value: "true", Required: true},
		{Param: "NotifRetry", Value: strconv.FormatBool(typ != "Event" || ref != "Device.LocalAgent.Periodic!"), Required: true},
	}
	return c.seal(to, usp.NewRequest(c.next(), &pb.Add{CreateObjs: []*pb.Add_CreateObject{{ObjPath: "Device.LocalAgent.Subscription.", ParamSettings: ps}}}), out)
}

// Connected implements Controller.
func (c *Campaign) Connected(agentID string, now time.Time) []Send {
	a := c.agent(agentID)
	a.online = true
	var out []Send
	if !a.subscribed {
		a.subscribed = true
		out = c.sub(agentID, "boot", "Event", "Device.Boot!", out)
		out = c.sub(agentID, "xfer", "Event", "Device.LocalAgent.TransferComplete!", out)
		out = c.sub(agentID, "oc", "OperationComplete", "Device.DeviceInfo.FirmwareImage.", out)
		if c.Periodic {
			out = c.sub(agentID, "periodic", "Event", "Device.LocalAgent.Periodic!", out)
		}
	}
	return c.download(agentID, a, now, out)
}

func (c *Campaign) download(agentID string, a *campAgent, now time.Time, out []Send) []Send {
	if a.sent || !a.online || c.URL == nil || now.Before(c.At) {
		return out
	}
	url := c.URL(agentID)
	if url == "" {
		return out
	}
	a.sent = true
	row := c.Row
	if row == 0 {
		row = 2
	}
	cmd := "Device.DeviceInfo.FirmwareImage." + strconv.Itoa(row) + ".Download()"
	return c.seal(agentID, usp.NewRequest(c.next(), &pb.Operate{Command: cmd, CommandKey: "campaign", SendResp: true,
		InputArgs: map[string]string{"URL": url, "AutoActivate": "true"}}), out)
}

// Disconnected implements Controller.
func (c *Campaign) Disconnected(agentID string, now time.Time) { c.agent(agentID).online = false }

// Receive implements Controller.
func (c *Campaign) Receive(agentID string, rec []byte, now time.Time) []Send {
	in, err := c.codec().Open(rec)
	if err != nil {
		c.Errors++
		return nil
	}
	m := in.Msg
	if m == nil {
		return nil
	}
	n := m.GetBody().GetRequest().GetNotify()
	if n == nil {
		if e := m.GetBody().GetError(); e != nil {
			c.Errors++
		}
		return nil
	}
	a := c.agent(agentID)
	if id := m.GetHeader().GetMsgId(); !a.seen[id] {
		a.seen[id] = true
		switch {
		case n.GetOperComplete() != nil:
			c.OperComplete++
		case n.GetEvent().GetEventName() == "Boot!":
			c.Boots++
		case n.GetEvent().GetEventName() == "TransferComplete!":
			c.Transfers++
		case n.GetEvent().GetEventName() == "Periodic!":
			c.Periodics++
			delete(a.seen, id) // periodic notifies are not retried: keep the set small
		case n.GetOnBoardReq() != nil:
			c.OnBoards++
			delete(a.seen, id) // answered at once: keep the set small
		}
	}
	if !n.GetSendResp() {
		return nil
	}
	return c.seal(agentID, usp.NewResponse(m.GetHeader().GetMsgId(), &pb.NotifyResp{SubscriptionId: n.GetSubscriptionId()}), nil)
}

// Tick implements Controller: at At it sends the downloads to the agents
// already connected.
func (c *Campaign) Tick(now time.Time) ([]Send, time.Time) {
	if now.Before(c.At) {
		return nil, c.At
	}
	if c.ticked {
		return nil, time.Time{}
	}
	c.ticked = true
	var out []Send
	for _, id := range sortedKeys(c.agents) {
		out = c.download(id, c.agents[id], now, out)
	}
	return out, time.Time{}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
