package device

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// TestMTPEffects runs testdata/mtp-effects.txt: controllers' writes to the
// MTP objects, and where the session goes afterwards (Device.Moved, the
// redials, the values read back).
func TestMTPEffects(t *testing.T) {
	data, err := os.ReadFile("testdata/mtp-effects.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(data), "\n\n") {
		var name, transport string
		var lines [][2]string
		for _, l := range strings.Split(block, "\n") {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			k, v, ok := strings.Cut(l, ": ")
			if !ok {
				t.Fatalf("bad line %q", l)
			}
			v = strings.ReplaceAll(v, "{eid}", agentID)
			switch k {
			case "case":
				name = v
			case "transport":
				transport = v
			default:
				lines = append(lines, [2]string{k, v})
			}
		}
		if name == "" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, "uboot-nor", func(c *Config) { c.MTP = transport }).boot()
			disconnects := 0
			records := len(h.msgs)
			var errs []string
			for _, l := range lines {
				k, v := l[0], l[1]
				switch k {
				case "set":
					p, val, _ := strings.Cut(v, " = ")
					obj, param := p[:strings.LastIndex(p, ".")+1], p[strings.LastIndex(p, ".")+1:]
					errs = append(errs, respErrors(h.set(obj, true, param, val))...)
				case "add":
					f := strings.Fields(v)
					var kv []string
					for _, a := range f[1:] {
						x, y, _ := strings.Cut(a, "=")
						kv = append(kv, x, y)
					}
					errs = append(errs, respErrors(h.add(f[0], kv...))...)
				case "delete":
					errs = append(errs, respErrors(h.request(usp.NewRequest(h.nextID(), &pb.Delete{ObjPaths: []string{v}})))...)
				}
				switch k {
				case "set", "add", "delete":
					h.runUntil(func() bool { return h.online }, time.Minute) // a redial reconnects
				}
				switch k {
				case "set", "add", "delete":
				case "error":
					if !slicesContains(errs, v) {
						t.Errorf("errors %v, want %s", errs, v)
					}
				case "redials":
					for _, e := range h.events {
						if e.Kind == EvRetarget {
							disconnects++
						}
					}
					if got := fmt.Sprint(disconnects); got != v {
						t.Errorf("redials %s, want %s (events %v)", got, v, h.events)
					}
					if !h.online {
						t.Errorf("the device is not connected after the requests")
					}
				case "moved":
					m, moved := h.d.Moved(h.now)
					got := movedFields(m)
					if !moved {
						got = "none"
					}
					if got != v {
						t.Errorf("moved %q, want %q", got, v)
					}
				case "get":
					p, want, _ := strings.Cut(v, " = ")
					if got := h.value(p); got != want {
						t.Errorf("%s = %q, want %q", p, got, want)
					}
				default:
					t.Fatalf("unknown key %q", k)
				}
			}
			// Every redial said goodbye first (R-MTP.7).
			if h.disconnects != disconnects {
				t.Errorf("%d DisconnectRecords for %d redials", h.disconnects, disconnects)
			}
			_ = records
		})
	}
}

// movedFields lists the non-zero fields of a Target but Protocol and
// Encrypt, as "Name=value" in declaration order; Subscriptions always
// when the Target has any moved field and they differ.
func movedFields(t Target) string {
	var out []string
	v := reflect.ValueOf(t)
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch name {
		case "Protocol", "Encrypt":
			continue
		case "Subscriptions":
			if f.IsNil() {
				continue
			}
			out = append(out, name+"="+strings.Join(t.Subscriptions, ","))
			continue
		}
		if !f.IsZero() {
			out = append(out, fmt.Sprintf("%s=%v", name, f.Interface()))
		}
	}
	return strings.Join(out, " ")
}

// respErrors lists the error codes of a response: an Error's, and its
// parameter errors'.
func respErrors(m *pb.Msg) []string {
	var out []string
	if e := m.GetBody().GetError(); e != nil {
		out = append(out, fmt.Sprint(e.GetErrCode()))
		for _, pe := range e.GetParamErrs() {
			out = append(out, fmt.Sprint(pe.GetErrCode()))
		}
	}
	for _, r := range m.GetBody().GetResponse().GetSetResp().GetUpdatedObjResults() {
		if f := r.GetOperStatus().GetOperFailure(); f != nil {
			out = append(out, fmt.Sprint(f.GetErrCode()))
			for _, inst := range f.GetUpdatedInstFailures() {
				for _, pe := range inst.GetParamErrs() {
					out = append(out, fmt.Sprint(pe.GetErrCode()))
				}
			}
		}
	}
	for _, r := range m.GetBody().GetResponse().GetAddResp().GetCreatedObjResults() {
		if f := r.GetOperStatus().GetOperFailure(); f != nil {
			out = append(out, fmt.Sprint(f.GetErrCode()))
		}
	}
	return out
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
