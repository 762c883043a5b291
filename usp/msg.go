package usp

import (
	"errors"
	"fmt"
	"strings"

	pb "brickyard/usp/uspmsg"
)

// RequestBody is any USP request message.
type RequestBody interface {
	*pb.Get | *pb.GetSupportedDM | *pb.GetInstances | *pb.Set | *pb.Add | *pb.Delete |
		*pb.Operate | *pb.Notify | *pb.GetSupportedProtocol | *pb.Register | *pb.Deregister
}

// ResponseBody is any USP response message.
type ResponseBody interface {
	*pb.GetResp | *pb.GetSupportedDMResp | *pb.GetInstancesResp | *pb.SetResp | *pb.AddResp |
		*pb.DeleteResp | *pb.OperateResp | *pb.NotifyResp | *pb.GetSupportedProtocolResp |
		*pb.RegisterResp | *pb.DeregisterResp
}

// NewRequest builds a request Msg; the header's msg_type follows the body.
//
//	usp.NewRequest("42", &pb.Get{ParamPaths: []string{"Device.DeviceInfo."}})
func NewRequest[T RequestBody](msgID string, body T) *pb.Msg {
	r := new(pb.Request)
	switch b := any(body).(type) {
	case *pb.Get:
		r.ReqType = &pb.Request_Get{Get: b}
	case *pb.GetSupportedDM:
		r.ReqType = &pb.Request_GetSupportedDm{GetSupportedDm: b}
	case *pb.GetInstances:
		r.ReqType = &pb.Request_GetInstances{GetInstances: b}
	case *pb.Set:
		r.ReqType = &pb.Request_Set{Set: b}
	case *pb.Add:
		r.ReqType = &pb.Request_Add{Add: b}
	case *pb.Delete:
		r.ReqType = &pb.Request_Delete{Delete: b}
	case *pb.Operate:
		r.ReqType = &pb.Request_Operate{Operate: b}
	case *pb.Notify:
		r.ReqType = &pb.Request_Notify{Notify: b}
	case *pb.GetSupportedProtocol:
		r.ReqType = &pb.Request_GetSupportedProtocol{GetSupportedProtocol: b}
	case *pb.Register:
		r.ReqType = &pb.Request_Register{Register: b}
	case *pb.Deregister:
		r.ReqType = &pb.Request_Deregister{Deregister: b}
	}
	return withHeader(msgID, &pb.Body{MsgBody: &pb.Body_Request{Request: r}})
}

// NewResponse builds a response Msg answering the request msgID.
func NewResponse[T ResponseBody](msgID string, body T) *pb.Msg {
	r := new(pb.Response)
	switch b := any(body).(type) {
	case *pb.GetResp:
		r.RespType = &pb.Response_GetResp{GetResp: b}
	case *pb.GetSupportedDMResp:
		r.RespType = &pb.Response_GetSupportedDmResp{GetSupportedDmResp: b}
	case *pb.GetInstancesResp:
		r.RespType = &pb.Response_GetInstancesResp{GetInstancesResp: b}
	case *pb.SetResp:
		r.RespType = &pb.Response_SetResp{SetResp: b}
	case *pb.AddResp:
		r.RespType = &pb.Response_AddResp{AddResp: b}
	case *pb.DeleteResp:
		r.RespType = &pb.Response_DeleteResp{DeleteResp: b}
	case *pb.OperateResp:
		r.RespType = &pb.Response_OperateResp{OperateResp: b}
	case *pb.NotifyResp:
		r.RespType = &pb.Response_NotifyResp{NotifyResp: b}
	case *pb.GetSupportedProtocolResp:
		r.RespType = &pb.Response_GetSupportedProtocolResp{GetSupportedProtocolResp: b}
	case *pb.RegisterResp:
		r.RespType = &pb.Response_RegisterResp{RegisterResp: b}
	case *pb.DeregisterResp:
		r.RespType = &pb.Response_DeregisterResp{DeregisterResp: b}
	}
	return withHeader(msgID, &pb.Body{MsgBody: &pb.Body_Response{Response: r}})
}

func withHeader(msgID string, body *pb.Body) *pb.Msg {
	m := &pb.Msg{Header: &pb.Header{MsgId: msgID}, Body: body}
	m.Header.MsgType = TypeOf(m)
	return m
}

// TypeOf is the message type as the body says it; TR-369 makes the body win
// over a disagreeing header. A Msg with an empty body reads as ERROR; use
// Validate to refuse it.
func TypeOf(m *pb.Msg) pb.Header_MsgType {
	b := m.GetBody()
	if req := b.GetRequest(); req != nil {
		switch req.GetReqType().(type) {
		case *pb.Request_Get:
			return pb.Header_GET
		case *pb.Request_GetSupportedDm:
			return pb.Header_GET_SUPPORTED_DM
		case *pb.Request_GetInstances:
			return pb.Header_GET_INSTANCES
		case *pb.Request_Set:
			return pb.Header_SET
		case *pb.Request_Add:
			return pb.Header_ADD
		case *pb.Request_Delete:
			return pb.Header_DELETE
		case *pb.Request_Operate:
			return pb.Header_OPERATE
		case *pb.Request_Notify:
			return pb.Header_NOTIFY
		case *pb.Request_GetSupportedProtocol:
			return pb.Header_GET_SUPPORTED_PROTO
		case *pb.Request_Register:
			return pb.Header_REGISTER
		case *pb.Request_Deregister:
			return pb.Header_DEREGISTER
		}
	}
	if resp := b.GetResponse(); resp != nil {
		switch resp.GetRespType().(type) {
		case *pb.Response_GetResp:
			return pb.Header_GET_RESP
		case *pb.Response_GetSupportedDmResp:
			return pb.Header_GET_SUPPORTED_DM_RESP
		case *pb.Response_GetInstancesResp:
			return pb.Header_GET_INSTANCES_RESP
		case *pb.Response_SetResp:
			return pb.Header_SET_RESP
		case *pb.Response_AddResp:
			return pb.Header_ADD_RESP
		case *pb.Response_DeleteResp:
			return pb.Header_DELETE_RESP
		case *pb.Response_OperateResp:
			return pb.Header_OPERATE_RESP
		case *pb.Response_NotifyResp:
			return pb.Header_NOTIFY_RESP
		case *pb.Response_GetSupportedProtocolResp:
			return pb.Header_GET_SUPPORTED_PROTO_RESP
		case *pb.Response_RegisterResp:
			return pb.Header_REGISTER_RESP
		case *pb.Response_DeregisterResp:
			return pb.Header_DEREGISTER_RESP
		}
	}
	return pb.Header_ERROR
}

// ResponseTo is the response type that answers a request type, and false
// for a type that is not a request.
func ResponseTo(req pb.Header_MsgType) (pb.Header_MsgType, bool) {
	switch req {
	case pb.Header_GET, pb.Header_SET, pb.Header_OPERATE, pb.Header_ADD, pb.Header_DELETE,
		pb.Header_GET_SUPPORTED_DM, pb.Header_GET_INSTANCES, pb.Header_GET_SUPPORTED_PROTO,
		pb.Header_REGISTER, pb.Header_DEREGISTER:
		return req + 1, true
	case pb.Header_NOTIFY:
		return pb.Header_NOTIFY_RESP, true
	}
	return pb.Header_ERROR, false
}

// Answers reports whether resp answers req: the same msg_id (R-MSG.9), and
// either the matching response type or an Error.
func Answers(req, resp *pb.Msg) bool {
	if req.GetHeader().GetMsgId() == "" || req.GetHeader().GetMsgId() != resp.GetHeader().GetMsgId() {
		return false
	}
	if resp.GetBody().GetError() != nil {
		return true
	}
	want, ok := ResponseTo(TypeOf(req))
	return ok && TypeOf(resp) == want
}

// IsRequest, IsResponse and IsError tell the three kinds of body apart.
func IsRequest(m *pb.Msg) bool  { return m.GetBody().GetRequest() != nil }
func IsResponse(m *pb.Msg) bool { return m.GetBody().GetResponse() != nil }
func IsError(m *pb.Msg) bool    { return m.GetBody().GetError() != nil }

// Validate checks the rules every Msg must meet before it is handled: a
// header with a msg_id, and exactly one member in each body oneof (R-ENC.5).
// The error wraps InvalidArguments (7004).
func Validate(m *pb.Msg) error {
	switch {
	case m.GetHeader() == nil:
		return fmt.Errorf("msg has no header: %w", InvalidArguments)
	case m.GetHeader().GetMsgId() == "":
		return fmt.Errorf("msg has an empty msg_id: %w", InvalidArguments)
	case m.GetBody().GetMsgBody() == nil:
		return fmt.Errorf("msg %q: body has no request, response or error: %w", m.GetHeader().GetMsgId(), InvalidArguments)
	case IsRequest(m) && m.GetBody().GetRequest().GetReqType() == nil:
		return fmt.Errorf("msg %q: request has no member: %w", m.GetHeader().GetMsgId(), InvalidArguments)
	case IsResponse(m) && m.GetBody().GetResponse().GetRespType() == nil:
		return fmt.Errorf("msg %q: response has no member: %w", m.GetHeader().GetMsgId(), InvalidArguments)
	}
	return nil
}

// Logf receives internal failures that the boundary hides from peers.
type Logf func(format string, args ...any)

// Reason is the one mapping from a Go error to what a peer is told: the USP
// code the error carries and its message. An error that carries no code is
// reported as 7003 Internal error with a fixed text; its own text goes only
// to logf (which may be nil), never onto the wire.
func Reason(err error, logf Logf) (Code, string) {
	code, ok := CodeOf(err)
	if !ok {
		if logf != nil {
			logf("usp: internal error reported as %d: %v", InternalError, err)
		}
		return InternalError, InternalError.Text()
	}
	var e *Error
	if errors.As(err, &e) && e.Code == code && e.Msg != "" {
		return code, e.Msg
	}
	return code, err.Error()
}

// ErrorMsg builds the Error message answering the request msgID with err,
// mapped by Reason; an *Error's Params become param_errs.
func ErrorMsg(msgID string, err error, logf Logf) *pb.Msg {
	code, text := Reason(err, logf)
	body := &pb.Error{ErrCode: uint32(code), ErrMsg: text}
	var e *Error
	if errors.As(err, &e) {
		for _, p := range e.Params {
			body.ParamErrs = append(body.ParamErrs, &pb.Error_ParamError{
				ParamPath: p.Path, ErrCode: uint32(p.Code), ErrMsg: p.Msg})
		}
	}
	return withHeader(msgID, &pb.Body{MsgBody: &pb.Body_Error{Error: body}})
}

// TypeName is a message type's name as TR-369 writes it: "GetResp",
// "GetSupportedDM", "GetSupportedProtocol", "NotifyResp".
func TypeName(t pb.Header_MsgType) string {
	var b strings.Builder
	for _, w := range strings.Split(t.String(), "_") {
		switch w {
		case "DM":
			b.WriteString(w)
		case "PROTO":
			b.WriteString("Protocol")
		default:
			if w != "" {
				b.WriteString(w[:1] + strings.ToLower(w[1:]))
			}
		}
	}
	return b.String()
}
