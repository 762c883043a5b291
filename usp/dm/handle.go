package dm

import (
	"fmt"
	"strings"
	"time"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// Origin identifies the Controller a request comes from. The device shell
// fills it from the Record (from_id) and its Controller table.
type Origin struct {
	// EndpointID is the Controller's Endpoint ID (the Record's from_id).
	EndpointID string
	// Controller is its row in the Controller table without trailing dot,
	// "Device.LocalAgent.Controller.1". When empty and the schema names a
	// Controller table (Builder.UseControllers), the engine looks the row
	// up by EndpointID. A Subscription's Recipient is set to it (or to the
	// Endpoint ID when there is no Controller row).
	Controller string
}

// Effects is what the device must do after a call into the Model, besides
// sending the response. Ordering rules:
//
//   - The response to a request (Handle's first result) goes out first;
//     then Notify, in order. A notification is always caused by something
//     that happened before it, so a controller sees the AddResp before the
//     ObjectCreation of the row it created, the SetResp before the
//     ValueChange of its own Set (R-NOT.0a: all within the same call, far
//     inside the 10 s window), the OperateResp before any OperationComplete.
//   - Jobs are asynchronous commands the device must now start; Cancel are
//     jobs a Controller asked to cancel (Request.{i}.Cancel()). The Request
//     rows exist already; the device ends each job with Model.Complete.
//   - Wake is the earliest time the device must call Model.Tick (the next
//     Notify retry or subscription TimeToLive deadline); zero means no
//     timer is needed. Each call's Wake supersedes the previous one.
type Effects struct {
	Notify []Notification
	Jobs   []Job
	Cancel []Job
	Wake   time.Time
}

// Notification is a Notify to send to one Controller.
type Notification struct {
	To         string  // recipient Endpoint ID
	Controller string  // recipient Controller row (the Subscription's Recipient)
	Msg        *pb.Msg // the Notify request; its msg_id is the engine's
	Retry      bool    // a retransmission of an earlier Msg, same msg_id (R-NOT.1)
}

// begin and end bracket every public entry point. Calls made from inside
// a binding or handler (depth > 1) add their effects to the outer call's
// and return none themselves.
func (m *Model) begin() { m.depth++ }

func (m *Model) end() Effects {
	m.depth--
	if m.depth > 0 {
		return Effects{}
	}
	if m.wrote != nil {
		m.internRows()
	}
	var fx Effects
	if m.fx != nil {
		fx = *m.fx
		m.fx = nil
	}
	fx.Wake = m.nextWake()
	return fx
}

// effects is where the call in progress records its effects.
func (m *Model) effects() *Effects {
	if m.fx == nil {
		m.fx = &Effects{}
	}
	return m.fx
}

// Handle processes one USP message from a Controller and returns the
// response (nil when none is due: Operate with send_resp=false, a Notify
// response, or a message that carries no request) and the effects.
//
//   - Requests: Get, GetInstances, GetSupportedDM, GetSupportedProtocol,
//     Set, Add, Delete, Operate get their response or an Error carrying
//     only the codes TR-369 allows for that message; Notify, Register and
//     Deregister (not for an Agent) get Error 7001.
//   - NotifyResp (and an Error answering a Notify) ends the retries of the
//     Notify with that msg_id (R-MSG.9; the subscription_id is ignored,
//     R-NOT.9).
//   - A malformed Msg (no header, empty msg_id, empty oneof) gets Error
//     7004 when it is a request with a msg_id, and is dropped otherwise.
//
// Handle never panics on any message, whatever its content (bindings and
// handlers the device registers are its own business).
func (m *Model) Handle(from Origin, msg *pb.Msg, now time.Time) (*pb.Msg, Effects) {
	m.begin()
	resp := m.handle(from, msg, now)
	return resp, m.end()
}

func (m *Model) handle(from Origin, msg *pb.Msg, now time.Time) *pb.Msg {
	id := msg.GetHeader().GetMsgId()
	if err := usp.Validate(msg); err != nil {
		if id != "" && usp.IsRequest(msg) {
			return usp.ErrorMsg(id, err, nil)
		}
		return nil
	}
	if from.Controller == "" {
		from.Controller = m.controllerOf(from.EndpointID, now)
	}
	switch b := msg.GetBody().GetMsgBody().(type) {
	case *pb.Body_Response:
		if b.Response.GetNotifyResp() != nil {
			m.delivered(id, from)
		}
		return nil
	case *pb.Body_Error:
		m.delivered(id, from)
		return nil
	}
	req := msg.GetBody().GetRequest()
	if a := m.accessFor(from, now); a != nil {
		if a.refused != "" {
			return usp.ErrorMsg(id, errRefused(a), nil)
		}
		defer m.enter(m.enter(a)) // a for this request, the caller's back after it
	}
	switch r := req.GetReqType().(type) {
	case *pb.Request_Get:
		return m.get(id, r.Get, now)
	case *pb.Request_GetInstances:
		return m.getInstances(id, r.GetInstances, now)
	case *pb.Request_GetSupportedDm:
		return m.getSupportedDM(id, r.GetSupportedDm, now)
	case *pb.Request_GetSupportedProtocol:
		return usp.NewResponse(id, &pb.GetSupportedProtocolResp{AgentSupportedProtocolVersions: usp.SupportedVersions})
	case *pb.Request_Set:
		return m.set(id, from, r.Set, now)
	case *pb.Request_Add:
		return m.add(id, from, r.Add, now)
	case *pb.Request_Delete:
		return m.delete(id, from, r.Delete, now)
	case *pb.Request_Operate:
		return m.operate(id, from, r.Operate, now)
	}
	return usp.ErrorMsg(id, fmt.Errorf("%s is not a request an Agent handles: %w",
		strings.ToLower(usp.TypeOf(msg).String()), usp.MessageNotSupported), nil)
}

// tooMany refuses a request carrying more items than Options.MaxPaths.
func (m *Model) tooMany(id string, n int, what string) *pb.Msg {
	if n <= m.s.opts.MaxPaths {
		return nil
	}
	return usp.ErrorMsg(id, fmt.Errorf("%d %s exceed the limit of %d: %w", n, what, m.s.opts.MaxPaths, usp.ResourcesExceeded), nil)
}

// codeSet says which codes a place in a message may carry.
type codeSet struct {
	lo, hi   usp.Code // a range: lo..hi
	extra    []usp.Code
	fallback usp.Code
}

func (c codeSet) allows(code usp.Code) bool {
	if (code >= c.lo && code <= c.hi) || (code >= 7200 && code <= 7299) || (code >= 7800 && code <= 7999) {
		return true
	}
	for _, e := range c.extra {
		if e == code {
			return true
		}
	}
	return false
}

// Codes TR-369 allows, per message (its "Supported Error Codes" lists,
// joined with the applicability column of its error-code table, which
// also names 7021 and 7025 for Add and Set), plus the data-model
// (7200-7299) and vendor (7800-7999) ranges.
var (
	getCodes    = codeSet{7000, 7006, []usp.Code{7008, 7010, 7016, 7026}, usp.InternalError}
	instCodes   = codeSet{7000, 7006, []usp.Code{7008, 7016, 7018, 7026}, usp.InternalError}
	gsdmCodes   = codeSet{7000, 7006, []usp.Code{7008, 7016, 7026}, usp.InternalError}
	setCodes    = codeSet{7000, 7016, []usp.Code{7020, 7021, 7025, 7026}, usp.ParameterActionFailed}
	addCodes    = codeSet{7000, 7019, []usp.Code{7021, 7025, 7026}, usp.OperationError}
	deleteCodes = codeSet{7000, 7008, []usp.Code{7015, 7016, 7018, 7024, 7026}, usp.DeleteFailure}
	opCodes     = codeSet{7002, 7008, []usp.Code{7016, 7022, 7027}, usp.CommandFailure}
	opMsgCodes  = codeSet{7000, 7008, []usp.Code{7016, 7022, 7026, 7027}, usp.MessageFailed}
	doneCodes   = codeSet{7002, 7008, []usp.Code{7016, 7022, 7023}, usp.CommandFailure}
)

// fit returns err unchanged when the code it carries is allowed by c, and
// otherwise err's text under c's fallback code. An error carrying no code
// is left alone: usp.Reason reports it as 7003, which every set allows.
func (c codeSet) fit(err error) error {
	code, ok := usp.CodeOf(err)
	if !ok || c.allows(code) {
		return err
	}
	_, text := usp.Reason(err, nil)
	return &usp.Error{Code: c.fallback, Msg: text, Err: err}
}

// reason maps err through c and usp.Reason.
func (c codeSet) reason(err error) (usp.Code, string) {
	return usp.Reason(c.fit(err), nil)
}

// controllerOf finds the Controller row of an endpoint.
func (m *Model) controllerOf(eid string, now time.Time) string {
	c := m.s.ctrl
	if c == nil || eid == "" {
		return ""
	}
	for _, r := range m.rowsOf(c.table, m.ownerRow(c.table)) {
		if m.read(c.endpoint, r, now) == eid {
			return strings.TrimSuffix(objPath(c.table, r), ".")
		}
	}
	return ""
}

// ownerRow is the row under which a top-level table's rows live (the root
// row); nested tables have no single owner row.
func (m *Model) ownerRow(t *Object) *row {
	if t.parent.owner == m.s.root {
		return m.root
	}
	return nil
}

// ctx builds the context handed to bindings and handlers.
func (m *Model) ctx(from Origin, o *Object, r *row, now time.Time) Ctx {
	return Ctx{Model: m, Env: m.env, Now: now, Origin: from, obj: o, row: r}
}
