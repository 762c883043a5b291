package dm

import (
	"errors"
	"slices"
	"testing"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

func errorIs(err error, c usp.Code) bool { return errors.Is(err, c) }

func delResults(t *testing.T, m *pb.Msg) []*pb.DeleteResp_DeletedObjectResult {
	t.Helper()
	r := m.GetBody().GetResponse().GetDeleteResp()
	if r == nil {
		t.Fatalf("not a DeleteResp: %v", m)
	}
	return r.GetDeletedObjResults()
}

func TestDelete_AffectedPathsAndNotifications(t *testing.T) {
	f := newFixture(t)
	f.mustAdd("Device.LocalAgent.Controller.2.BootParameter.", nil)
	f.subscribe(ctrl1, "od", "ObjectDeletion", "Device.LocalAgent.Controller.,Device.LocalAgent.Controller.*.BootParameter.", false)
	f.subscribe(ctrl1, "above", "ObjectDeletion", "Device.LocalAgent.", false) // covers no row
	resp, fx := do(f, ctrl2, &pb.Delete{ObjPaths: []string{`Device.LocalAgent.Controller.[EndpointID=="proto::ctrl-2"].`}})
	ok := delResults(t, resp)[0].GetOperStatus().GetOperSuccess()
	if !slices.Equal(ok.GetAffectedPaths(), []string{"Device.LocalAgent.Controller.2."}) {
		t.Errorf("affected %v", ok.GetAffectedPaths())
	}
	var deleted []string
	for _, n := range fx.Notify {
		deleted = append(deleted, n.Msg.GetBody().GetRequest().GetNotify().GetObjDeletion().GetObjPath())
	}
	if !slices.Equal(deleted, []string{"Device.LocalAgent.Controller.2.", "Device.LocalAgent.Controller.2.BootParameter.1."}) {
		t.Errorf("ObjectDeletion for %v", deleted)
	}
}

func TestDelete_RDEL2a_NothingMatchesIsSuccess(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"Device.LocalAgent.Controller.9.", "Device.LocalAgent.Subscription.*."} {
		resp, _ := do(f, ctrl1, &pb.Delete{ObjPaths: []string{p}})
		if ok := delResults(t, resp)[0].GetOperStatus().GetOperSuccess(); ok == nil || len(ok.GetAffectedPaths()) != 0 {
			t.Errorf("%s: %v", p, resp)
		}
	}
}

func TestDelete_RDEL1_AllowPartialFalseIsAtomic(t *testing.T) {
	f := newFixture(t)
	resp, _ := do(f, ctrl1, &pb.Delete{ObjPaths: []string{"Device.LocalAgent.Controller.2.", "Device.DeviceInfo.FirmwareImage.2."}})
	if errCode(resp) != usp.DeleteFailure {
		t.Fatalf("%v", resp)
	}
	if f.value("Device.LocalAgent.ControllerNumberOfEntries") != "2" {
		t.Error("Controller.2 deleted although the message failed")
	}
	resp, _ = do(f, ctrl1, &pb.Delete{AllowPartial: true, ObjPaths: []string{"Device.LocalAgent.Controller.2.", "Device.DeviceInfo.FirmwareImage.2."}})
	res := delResults(t, resp)
	if res[0].GetOperStatus().GetOperSuccess() == nil || usp.Code(res[1].GetOperStatus().GetOperFailure().GetErrCode()) != usp.DeleteFailure {
		t.Errorf("%v", res)
	}
}

func TestDelete_Errors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path string
		code usp.Code
	}{
		{"Device.DeviceInfo.FirmwareImage.*.", usp.DeleteFailure}, // static table
		{"Device.LocalAgent.Request.*.", usp.DeleteFailure},
		{"Device.LocalAgent.Controller.", usp.DeleteFailure}, // the table itself
		{"Device.DeviceInfo.", usp.ObjectNotATable},
		{"Device.Nope.1.", usp.InvalidPath},
		{"Device.LocalAgent.Controller.1.Enable", usp.InvalidPath},
		{"Device.LocalAgent.Controller.0.", usp.InvalidPathSyntax},
	} {
		resp, _ := do(f, ctrl1, &pb.Delete{ObjPaths: []string{tc.path}})
		if errCode(resp) != tc.code {
			t.Errorf("%s: %v, want Error %d", tc.path, resp, tc.code)
		}
	}
}

func TestDelete_SubscriptionDropsItsRetries(t *testing.T) {
	f := newFixture(t)
	sub := f.subscribe(ctrl1, "vc", "ValueChange", "Device.DeviceInfo.FriendlyName", true)
	f.mustSet("Device.DeviceInfo.FriendlyName", "a")
	if f.m.Pending() != 1 {
		t.Fatalf("pending %d", f.m.Pending())
	}
	do(f, ctrl1, &pb.Delete{ObjPaths: []string{sub}})
	if f.m.Pending() != 0 {
		t.Errorf("pending %d after the subscription went", f.m.Pending())
	}
}

func TestDelete_ControllerTakesItsSubscriptions(t *testing.T) {
	f := newFixture(t)
	f.subscribe(ctrl1, "watch", "ObjectDeletion", "Device.LocalAgent.Controller.,Device.LocalAgent.Subscription.*.", false)
	sub2 := f.subscribe(ctrl2, "mine", "Event", "Device.Boot!", true)
	_, fx := do(f, ctrl1, &pb.Delete{ObjPaths: []string{"Device.LocalAgent.Controller.2."}})
	var got []string
	for _, n := range fx.Notify {
		got = append(got, notifyOf(n).GetObjDeletion().GetObjPath())
	}
	if !slices.Equal(got, []string{"Device.LocalAgent.Controller.2.", sub2}) {
		t.Errorf("ObjectDeletion for %v", got)
	}
	if n := f.value("Device.LocalAgent.SubscriptionNumberOfEntries"); n != "1" {
		t.Errorf("%s subscriptions left", n)
	}
}
