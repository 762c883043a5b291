package dm

import (
	"slices"
	"testing"

	pb "brickyard/usp/uspmsg"
)

func TestCtx_BindingSeesInstance(t *testing.T) {
	b := NewBuilder(Options{})
	type seen struct {
		path string
		num  uint32
		nums []uint32
		peer string
		org  string
		key  string
	}
	var got seen
	c := b.Object("Device.C.{i}.").Access(AddDelete)
	c.String("Name").Writable()
	m := c.Object("M.{i}.").Access(AddDelete)
	m.String("Label").Getter(func(x Ctx) string {
		name, _ := x.Get("Sub.Peer")
		got = seen{path: x.Path(), num: x.Num(), nums: x.Nums(), peer: name}
		return "L" + x.Path()
	})
	m.Object("Sub.").String("Peer").Default("p")
	c.Command("Run()").Async(nil)
	m.Command("Go()").Sync(func(x Ctx, in map[string]string) (map[string]string, error) {
		got = seen{path: x.Path(), num: x.Num(), org: x.Origin.EndpointID, key: x.CommandKey}
		return map[string]string{"Where": x.Object().Path()}, nil
	})
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	mdl := NewModel(s, Config{})
	mdl.AddRow("Device.C.", 3, nil, t0)
	mdl.AddRow("Device.C.3.M.", 0, nil, t0)
	mdl.AddRow("Device.C.3.M.", 0, nil, t0)
	if v, _ := mdl.Value("Device.C.3.M.2.Label", t0); v != "LDevice.C.3.M.2." {
		t.Errorf("value %q", v)
	}
	if got.path != "Device.C.3.M.2." || got.num != 2 || !slices.Equal(got.nums, []uint32{3, 2}) || got.peer != "p" {
		t.Errorf("getter saw %+v", got)
	}
	f := &fixture{t: t, m: mdl, now: t0}
	resp, _ := do(f, ctrl1, &pb.Operate{Command: "Device.C.*.M.[Label==\"LDevice.C.3.M.1.\"].Go()", CommandKey: "ck", SendResp: true})
	res := opResults(t, resp)
	if len(res) != 1 || res[0].GetExecutedCommand() != "Device.C.3.M.1.Go()" || res[0].GetReqOutputArgs().GetOutputArgs()["Where"] != "Device.C.{i}.M.{i}." {
		t.Fatalf("%v", res)
	}
	if got.path != "Device.C.3.M.1." || got.org != ctrl1.EndpointID || got.key != "ck" {
		t.Errorf("handler saw %+v", got)
	}
	// An explicit instance number moves the counter on.
	if p, _, err := mdl.AddRow("Device.C.", 0, nil, t0); err != nil || p != "Device.C.4." {
		t.Errorf("next number after an explicit 3: %s %v", p, err)
	}
	// Without a Request table an async command still runs, without a row.
	resp, fx := do(f, ctrl1, &pb.Operate{Command: "Device.C.4.Run()", SendResp: true})
	if r := opResults(t, resp)[0]; r.GetReqObjPath() != "" || len(fx.Jobs) != 1 || fx.Jobs[0].Request != "" {
		t.Errorf("%v %v", r, fx.Jobs)
	}
	if fx, err := mdl.Complete(fx.Jobs[0].ID, nil, nil, t0); err != nil || len(fx.Notify) != 0 {
		t.Errorf("%v %v", fx, err)
	}
}
