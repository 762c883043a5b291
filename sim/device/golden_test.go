package device

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "brickyard/usp/uspmsg"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs (run go test -update and review the diff):\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

// f2Log runs one full F2 on uboot-nor (TP-469 9.3: subscriptions,
// Download(AutoActivate) to the inactive bank, reboot, trial, confirm, a
// Get) and returns its timeline: the device's events and every Record the
// controller received, in order.
func f2Log(t *testing.T, seed uint64) []byte {
	h := newHarness(t, "uboot-nor", func(c *Config) { c.Seed = seed })
	var b strings.Builder
	logged := 0
	flush := func() {
		for _, e := range h.events[logged:] {
			fmt.Fprintf(&b, "%-9s event %s", "+"+e.At.Sub(t0).String(), e.Kind)
			if e.Detail != "" {
				b.WriteString(" " + e.Detail)
			}
			b.WriteByte('\n')
		}
		logged = len(h.events)
	}
	h.boot()
	h.standardSubs()
	h.serve(fwURL, fwImage("uboot-nor", "2.0.0", 0))
	seen := len(h.msgs)
	h.operate(newRow+".Download()", "k2", "URL", fwURL, "AutoActivate", "true", "CheckSumAlgorithm", "SHA-256",
		"CheckSum", sha256hex(h.files[fwURL]))
	h.waitEvent("Boot!", seen, 1, 5*time.Minute)
	h.run(10 * time.Second)
	h.get("Device.DeviceInfo.SoftwareVersion", "Device.DeviceInfo.ActiveFirmwareImage")
	flush()
	b.WriteString("-- controller received:\n")
	for _, m := range h.msgs {
		b.WriteString(describe(m) + "\n")
	}
	return []byte(b.String())
}

// describe is a stable one-line summary of a Msg (maps sorted).
func describe(m *pb.Msg) string {
	id := m.GetHeader().GetMsgId()
	switch {
	case m.GetBody().GetRequest().GetNotify() != nil:
		n := m.GetBody().GetRequest().GetNotify()
		switch {
		case n.GetEvent() != nil:
			return fmt.Sprintf("%s notify %s event %s%s %s", id, n.GetSubscriptionId(), n.GetEvent().GetObjPath(), n.GetEvent().GetEventName(), sorted(n.GetEvent().GetParams()))
		case n.GetOperComplete() != nil:
			oc := n.GetOperComplete()
			res := "ok"
			if f := oc.GetCmdFailure(); f != nil {
				res = fmt.Sprintf("failure %d", f.GetErrCode())
			}
			return fmt.Sprintf("%s notify %s oper_complete %s%s key=%s %s", id, n.GetSubscriptionId(), oc.GetObjPath(), oc.GetCommandName(), oc.GetCommandKey(), res)
		}
		return fmt.Sprintf("%s notify %s %T", id, n.GetSubscriptionId(), n.GetNotification())
	case m.GetBody().GetError() != nil:
		return fmt.Sprintf("%s error %d", id, m.GetBody().GetError().GetErrCode())
	}
	r := m.GetBody().GetResponse()
	if g := r.GetGetResp(); g != nil {
		var parts []string
		for _, rr := range g.GetReqPathResults() {
			for _, x := range rr.GetResolvedPathResults() {
				parts = append(parts, x.GetResolvedPath()+sorted(x.GetResultParams()))
			}
		}
		return fmt.Sprintf("%s get_resp %s", id, strings.Join(parts, " "))
	}
	return fmt.Sprintf("%s %v", id, m.GetHeader().GetMsgType())
}

func sorted(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slicesSort(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	b.WriteByte('}')
	return b.String()
}

// The timeline of a full F2 run is deterministic from the seed.
func TestGoldenF2(t *testing.T) {
	got := f2Log(t, 42)
	if again := f2Log(t, 42); !bytes.Equal(got, again) {
		t.Fatal("two runs with the same seed differ")
	}
	golden(t, "f2-uboot-nor.log", got)
}
