package dnssd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func serve(t *testing.T, services []Service) *Server {
	t.Helper()
	s, err := NewServer("127.0.0.1:0", "example.test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Set(services); err != nil {
		t.Fatal(err)
	}
	return s
}

var loop = []netip.Addr{netip.MustParseAddr("127.0.0.1")}

func fleetServices(n int) []Service {
	out := []Service{
		{Role: Controller, MTP: MQTT, Instance: "proto::ctl", Host: "broker", Port: 1883, Addrs: loop, Path: "usp/controller/ctl"},
		{Role: Controller, MTP: WebSocket, Instance: "proto::ctl", Host: "ctl", Port: 8443, Addrs: loop, Path: "/usp", Encrypt: true},
	}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("os::00256D-SIM%06d", i)
		out = append(out, Service{Role: Agent, MTP: MQTT, Instance: id, Host: "broker", Port: 1883, Addrs: loop,
			Path: "usp/agent/" + id, Name: fmt.Sprintf("gw %d", i), Subtypes: []string{"gateway"}})
	}
	return out
}

// TestLookup: the resolver finds what the server serves.
func TestLookup(t *testing.T) {
	s := serve(t, fleetServices(3))
	r := Resolver{Server: s.Addr()}
	ctl, err := r.Lookup(tctx(t), Controller, MQTT, "example.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(ctl) != 1 || ctl[0].Instance != "proto::ctl" || ctl[0].Host != "broker.example.test" || ctl[0].Port != 1883 ||
		ctl[0].Path != "usp/controller/ctl" || ctl[0].Encrypt || !slices.Equal(ctl[0].Addrs, loop) {
		t.Errorf("controller %+v", ctl)
	}
	ws, err := r.Lookup(tctx(t), Controller, WebSocket, "example.test.")
	if err != nil || len(ws) != 1 || !ws[0].Encrypt || ws[0].Path != "/usp" {
		t.Errorf("ws controller %+v %v", ws, err)
	}
	agents, err := r.Lookup(tctx(t), Agent, MQTT, "example.test")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range agents {
		ids = append(ids, a.Instance+"|"+a.Name)
	}
	if want := []string{"os::00256D-SIM000001|gw 1", "os::00256D-SIM000002|gw 2", "os::00256D-SIM000003|gw 3"}; !slices.Equal(ids, want) {
		t.Errorf("agents %v, want %v", ids, want)
	}
	if _, err := r.Lookup(tctx(t), Controller, STOMP, "example.test"); !errors.Is(err, ErrNoService) {
		t.Errorf("STOMP controller: %v, want ErrNoService", err)
	}
	// A set replaced: the old instances are gone.
	if err := s.Set(fleetServices(1)[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(tctx(t), Agent, MQTT, "example.test"); !errors.Is(err, ErrNoService) {
		t.Errorf("after Set: %v, want ErrNoService", err)
	}
}

// TestDig: Debian's dig, a real resolver, reads the records as DNS-SD
// says: PTR to the instances (and their SRV/TXT/A as additional records),
// SRV, TXT with path/name, the service enumeration, a subtype, over TCP
// when the answer is too large for UDP.
func TestDig(t *testing.T) {
	digPath, err := exec.LookPath("dig")
	if err != nil {
		t.Fatal("dig is not installed (Debian dnsutils; .ci/install-deps installs it)")
	}
	s := serve(t, fleetServices(300))
	host, port, _ := strings.Cut(s.Addr(), ":")
	dig := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(digPath, append([]string{"@" + host, "-p", port, "+time=3", "+tries=1"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	ptr := dig("+short", "_usp-agt-mqtt._tcp.example.test", "PTR")
	lines := strings.Fields(ptr)
	if len(lines) != 300 || !slices.Contains(lines, "os::00256D-SIM000042._usp-agt-mqtt._tcp.example.test.") {
		t.Fatalf("PTR: %d instances, e.g. %q", len(lines), lines[:min(3, len(lines))])
	}
	if full := dig("_usp-agt-mqtt._tcp.example.test", "PTR"); !strings.Contains(full, "Truncated, retrying in TCP mode") && !strings.Contains(full, "ANSWER: 300") {
		t.Errorf("the large PTR answer did not go over TCP:\n%s", full[:min(500, len(full))])
	}
	inst := "os::00256D-SIM000042._usp-agt-mqtt._tcp.example.test"
	if got := strings.TrimSpace(dig("+short", inst, "SRV")); got != "0 1 1883 broker.example.test." {
		t.Errorf("SRV %q", got)
	}
	if got := strings.TrimSpace(dig("+short", inst, "TXT")); got != `"path=usp/agent/os::00256D-SIM000042" "name=gw 42"` {
		t.Errorf("TXT %q", got)
	}
	if got := strings.TrimSpace(dig("+short", "broker.example.test", "A")); got != "127.0.0.1" {
		t.Errorf("A %q", got)
	}
	if got := dig("+short", "_services._dns-sd._udp.example.test", "PTR"); !strings.Contains(got, "_usp-agt-mqtt._tcp.example.test.") ||
		!strings.Contains(got, "_usp-ctr-ws._tcp.example.test.") {
		t.Errorf("service enumeration %q", got)
	}
	if got := strings.Fields(dig("+short", "+tcp", "_gateway._sub._usp-agt-mqtt._tcp.example.test", "PTR")); len(got) != 300 {
		t.Errorf("subtype PTR: %d", len(got))
	}
	if got := strings.TrimSpace(dig("+short", "proto::ctl._usp-ctr-ws._tcp.example.test", "TXT")); got != `"path=/usp" "encrypt"` {
		t.Errorf("controller TXT %q", got)
	}
	if got := dig("nothing.example.test", "A"); !strings.Contains(got, "NXDOMAIN") {
		t.Errorf("an unknown name: %s", got)
	}
	if got := dig("example.org", "A"); !strings.Contains(got, "REFUSED") {
		t.Errorf("outside the zone: %s", got)
	}
}

// TestBadAnswers: a DNS server whose answers break DNS-SD's rules gets a
// named error, never a panic.
func TestBadAnswers(t *testing.T) {
	const typ = "_usp-ctr-mqtt._tcp.bad.test."
	const inst = "ctl." + typ
	cases := []struct {
		name   string
		answer func(q dns.Question, m *dns.Msg)
		want   error
		says   string
	}{
		{"no PTR", func(q dns.Question, m *dns.Msg) {}, ErrNoService, "no instance"},
		{"NXDOMAIN", func(q dns.Question, m *dns.Msg) { m.Rcode = dns.RcodeNameError }, ErrNoService, "NXDOMAIN"},
		{"SERVFAIL", func(q dns.Question, m *dns.Msg) { m.Rcode = dns.RcodeServerFailure }, ErrServer, "SERVFAIL"},
		{"PTR elsewhere", func(q dns.Question, m *dns.Msg) {
			m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(typ, dns.TypePTR), Ptr: "x.other.test."})
		}, ErrBadRecord, "not an instance"},
		{"no SRV", func(q dns.Question, m *dns.Msg) {
			if q.Qtype == dns.TypePTR {
				m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(typ, dns.TypePTR), Ptr: inst})
			}
		}, ErrBadRecord, "no SRV"},
		{"SRV port 0", func(q dns.Question, m *dns.Msg) {
			m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(typ, dns.TypePTR), Ptr: inst})
			m.Extra = append(m.Extra, &dns.SRV{Hdr: hdr(inst, dns.TypeSRV), Target: "h.bad.test."}, &dns.TXT{Hdr: hdr(inst, dns.TypeTXT), Txt: []string{"path=x"}})
		}, ErrBadRecord, "port 0"},
		{"no TXT", func(q dns.Question, m *dns.Msg) {
			if q.Qtype == dns.TypePTR {
				m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(typ, dns.TypePTR), Ptr: inst})
				m.Extra = append(m.Extra, &dns.SRV{Hdr: hdr(inst, dns.TypeSRV), Port: 1883, Target: "h.bad.test."})
			}
		}, ErrBadRecord, "no TXT"},
		{"TXT without path", func(q dns.Question, m *dns.Msg) {
			m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(typ, dns.TypePTR), Ptr: inst})
			m.Extra = append(m.Extra, &dns.SRV{Hdr: hdr(inst, dns.TypeSRV), Port: 1883, Target: "h.bad.test."}, &dns.TXT{Hdr: hdr(inst, dns.TypeTXT), Txt: []string{"name=x"}})
		}, ErrBadRecord, "no path"},
		{"no address", func(q dns.Question, m *dns.Msg) {
			if q.Qtype == dns.TypePTR {
				m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(typ, dns.TypePTR), Ptr: inst})
				m.Extra = append(m.Extra, &dns.SRV{Hdr: hdr(inst, dns.TypeSRV), Port: 1883, Target: "h.invalid."}, &dns.TXT{Hdr: hdr(inst, dns.TypeTXT), Txt: []string{"path=x"}})
			}
		}, ErrBadRecord, "no address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := &dns.Server{Addr: "127.0.0.1:0", Net: "udp", Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
				m := new(dns.Msg)
				m.SetReply(req)
				c.answer(req.Question[0], m)
				w.WriteMsg(m)
			})}
			started := make(chan struct{})
			srv.NotifyStartedFunc = func() { close(started) }
			done := make(chan struct{})
			go func() { defer close(done); srv.ListenAndServe() }()
			<-started
			defer func() { srv.Shutdown(); <-done }()
			_, err := Resolver{Server: srv.PacketConn.LocalAddr().String(), Timeout: time.Second}.Lookup(tctx(t), Controller, MQTT, "bad.test")
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err %v, want %v saying %q", err, c.want, c.says)
			}
		})
	}
	// No server at all.
	if _, err := (Resolver{Server: "127.0.0.1:1", Timeout: 300 * time.Millisecond}).Lookup(tctx(t), Controller, MQTT, "x.test"); !errors.Is(err, ErrServer) {
		t.Errorf("no server: %v, want ErrServer", err)
	}
	// Bad services are refused by Set, bad domains by NewServer and Lookup.
	s := serve(t, nil)
	for _, bad := range []Service{{Role: "x", MTP: MQTT, Instance: "a", Host: "h", Port: 1}, {Role: Agent, MTP: "coap", Instance: "a", Host: "h", Port: 1},
		{Role: Agent, MTP: MQTT, Instance: strings.Repeat("a", 64), Host: "h", Port: 1}, {Role: Agent, MTP: MQTT, Instance: "a", Host: "h"},
		{Role: Agent, MTP: MQTT, Instance: "a", Host: "h", Port: 1, Path: strings.Repeat("p", 300)}} {
		if err := s.Set([]Service{bad}); !errors.Is(err, ErrBadRecord) {
			t.Errorf("Set(%+v): %v", bad, err)
		}
	}
	if err := s.Set([]Service{fleetServices(1)[2], fleetServices(1)[2]}); !errors.Is(err, ErrBadRecord) {
		t.Errorf("a service twice: %v", err)
	}
	if _, err := NewServer("127.0.0.1:0", ""); err == nil {
		t.Error("NewServer accepted an empty domain")
	}
	if _, err := (Resolver{Server: s.Addr()}).Lookup(tctx(t), Agent, MQTT, "a..b"); err == nil {
		t.Error("Lookup accepted a bad domain")
	}
}

// hdr is the header of a record of a test's hand-made answer.
func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}
