package usp

import pb "brickyard/usp/uspmsg"

// Notification builders. subID is the triggering Subscription's ID (empty for
// OnBoardRequest, R-NOT.7); sendResp is its NotifRetry.

// Event is a Notify for an event, e.g. Event(id, true, "Device.", "Boot!", args).
func Event(subID string, sendResp bool, objPath, name string, params map[string]string) *pb.Notify {
	return &pb.Notify{SubscriptionId: subID, SendResp: sendResp, Notification: &pb.Notify_Event_{
		Event: &pb.Notify_Event{ObjPath: objPath, EventName: name, Params: params}}}
}

// ValueChange is a Notify for a parameter's new value (full path).
func ValueChange(subID string, sendResp bool, paramPath, value string) *pb.Notify {
	return &pb.Notify{SubscriptionId: subID, SendResp: sendResp, Notification: &pb.Notify_ValueChange_{
		ValueChange: &pb.Notify_ValueChange{ParamPath: paramPath, ParamValue: value}}}
}

// ObjCreation is a Notify for a new instance and its unique keys.
func ObjCreation(subID string, sendResp bool, objPath string, keys map[string]string) *pb.Notify {
	return &pb.Notify{SubscriptionId: subID, SendResp: sendResp, Notification: &pb.Notify_ObjCreation{
		ObjCreation: &pb.Notify_ObjectCreation{ObjPath: objPath, UniqueKeys: keys}}}
}

// ObjDeletion is a Notify for a deleted instance.
func ObjDeletion(subID string, sendResp bool, objPath string) *pb.Notify {
	return &pb.Notify{SubscriptionId: subID, SendResp: sendResp, Notification: &pb.Notify_ObjDeletion{
		ObjDeletion: &pb.Notify_ObjectDeletion{ObjPath: objPath}}}
}

// OperComplete is a Notify for an async command that ended. With err nil
// the output arguments are sent (an empty map is still sent: the oneof must
// be set); otherwise cmd_failure carries the code and text Reason gives.
func OperComplete(subID string, sendResp bool, objPath, command, commandKey string, out map[string]string, err error, logf Logf) *pb.Notify {
	oc := &pb.Notify_OperationComplete{ObjPath: objPath, CommandName: command, CommandKey: commandKey}
	if err != nil {
		code, text := Reason(err, logf)
		oc.OperationResp = &pb.Notify_OperationComplete_CmdFailure{
			CmdFailure: &pb.Notify_OperationComplete_CommandFailure{ErrCode: uint32(code), ErrMsg: text}}
	} else {
		oc.OperationResp = &pb.Notify_OperationComplete_ReqOutputArgs{
			ReqOutputArgs: &pb.Notify_OperationComplete_OutputArgs{OutputArgs: nonNil(out)}}
	}
	return &pb.Notify{SubscriptionId: subID, SendResp: sendResp, Notification: &pb.Notify_OperComplete{OperComplete: oc}}
}

// OnBoardRequest is the Notify an agent sends to be onboarded; TR-369 makes
// it always expect a NotifyResp.
func OnBoardRequest(oui, productClass, serial string) *pb.Notify {
	return &pb.Notify{SendResp: true, Notification: &pb.Notify_OnBoardReq{OnBoardReq: &pb.Notify_OnBoardRequest{
		Oui: oui, ProductClass: productClass, SerialNumber: serial, AgentSupportedProtocolVersions: SupportedVersions}}}
}

// Operate results, one per matched command (OperateResp.operation_results).

// OperRequested answers an accepted async command with its Request row.
func OperRequested(command, reqObjPath string) *pb.OperateResp_OperationResult {
	return &pb.OperateResp_OperationResult{ExecutedCommand: command,
		OperationResp: &pb.OperateResp_OperationResult_ReqObjPath{ReqObjPath: reqObjPath}}
}

// OperOutput answers a sync command that succeeded; an empty output map is
// still sent (TP-469 1.61).
func OperOutput(command string, out map[string]string) *pb.OperateResp_OperationResult {
	return &pb.OperateResp_OperationResult{ExecutedCommand: command,
		OperationResp: &pb.OperateResp_OperationResult_ReqOutputArgs{
			ReqOutputArgs: &pb.OperateResp_OperationResult_OutputArgs{OutputArgs: nonNil(out)}}}
}

// OperFailure answers a command that failed, mapped by Reason.
func OperFailure(command string, err error, logf Logf) *pb.OperateResp_OperationResult {
	code, text := Reason(err, logf)
	return &pb.OperateResp_OperationResult{ExecutedCommand: command,
		OperationResp: &pb.OperateResp_OperationResult_CmdFailure{
			CmdFailure: &pb.OperateResp_OperationResult_CommandFailure{ErrCode: uint32(code), ErrMsg: text}}}
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
