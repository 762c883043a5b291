package dnssd

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzLookup: whatever a DNS server answers — one wire-format message
// given to every query — Lookup returns instances that hold together or
// one of its named errors, and never panics or hangs.
func FuzzLookup(f *testing.F) {
	const domain = "example.test"
	s := &Server{domain: domain + "."}
	svcs := fleetServices(3)
	svcs = append(svcs, Service{Role: Controller, MTP: MQTT, Instance: "ctl two", Host: "elsewhere.example.org", Port: 8883, Path: "t", Encrypt: true})
	s.index(svcs)
	typ := ServiceType(Controller, MQTT) + "." + s.domain
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{typ, dns.TypePTR}, {"proto::ctl." + typ, dns.TypeSRV}, {"proto::ctl." + typ, dns.TypeTXT}, {"broker." + s.domain, dns.TypeA}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		s.answer(m, q.name, q.qtype)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// A PTR answer without its additional records: every follow-up asked.
	m := new(dns.Msg)
	m.SetQuestion(typ, dns.TypePTR)
	s.answer(m, typ, dns.TypePTR)
	m.Extra = nil
	b, _ := m.Pack()
	f.Add(b)

	f.Fuzz(func(t *testing.T, data []byte) {
		var answer dns.Msg
		if answer.Unpack(data) != nil {
			return
		}
		queries := 0
		r := Resolver{
			// The same answer to every query (Lookup changes none), from a
			// server that stops answering after 64.
			exchange: func(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
				if queries++; queries > 64 {
					return nil, errors.New("the server stopped answering")
				}
				return &answer, nil
			},
			lookupIP: func(context.Context, string) ([]netip.Addr, error) {
				return nil, errors.New("no system resolver in the fuzz target")
			},
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := r.Lookup(ctx, Controller, MQTT, domain)
		if err != nil {
			if !errors.Is(err, ErrNoService) && !errors.Is(err, ErrBadRecord) && !errors.Is(err, ErrServer) && !errors.Is(err, ErrTruncated) {
				t.Fatalf("unnamed error %v", err)
			}
			if !errors.Is(err, ErrTruncated) {
				return
			}
		}
		seen := map[string]bool{}
		for _, sv := range out {
			if sv.Instance == "" || sv.Port == 0 || sv.Host == "" || len(sv.Addrs) == 0 || seen[sv.Instance] {
				t.Fatalf("instance %+v", sv)
			}
			seen[sv.Instance] = true
		}
	})
}

// TestAnswerShapes: a PTR given twice is one instance; an SRV asked for
// brings its host's addresses in its own additional records; addresses of
// one instance's answers are not another's.
func TestAnswerShapes(t *testing.T) {
	const typ = "_usp-ctr-mqtt._tcp.shape.test."
	a, b := "a."+typ, "b."+typ
	ptrs := []dns.RR{&dns.PTR{Hdr: hdr(typ, dns.TypePTR), Ptr: a}, &dns.PTR{Hdr: hdr(typ, dns.TypePTR), Ptr: a}, &dns.PTR{Hdr: hdr(typ, dns.TypePTR), Ptr: b}}
	r := Resolver{
		exchange: func(_ context.Context, q *dns.Msg) (*dns.Msg, error) {
			m := new(dns.Msg)
			m.SetReply(q)
			switch name := q.Question[0].Name; {
			case name == typ:
				m.Answer = ptrs
			case q.Question[0].Qtype == dns.TypeSRV:
				host := "h" + name[:1] + ".shape.test."
				m.Answer = []dns.RR{&dns.SRV{Hdr: hdr(name, dns.TypeSRV), Port: 1883, Target: host}}
				ip := "127.0.0.2"
				if name == b {
					ip = "127.0.0.3"
				}
				m.Extra = []dns.RR{&dns.A{Hdr: hdr(host, dns.TypeA), A: netip.MustParseAddr(ip).AsSlice()}}
			case q.Question[0].Qtype == dns.TypeTXT:
				m.Answer = []dns.RR{&dns.TXT{Hdr: hdr(name, dns.TypeTXT), Txt: []string{"path=t/" + name[:1]}}}
			}
			return m, nil
		},
		lookupIP: func(context.Context, string) ([]netip.Addr, error) { return nil, errors.New("not asked of the system") },
	}
	out, err := r.Lookup(tctx(t), Controller, MQTT, "shape.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Instance != "a" || out[1].Instance != "b" {
		t.Fatalf("instances %+v", out)
	}
	if out[0].Addrs[0].String() != "127.0.0.2" || len(out[0].Addrs) != 1 || out[1].Addrs[0].String() != "127.0.0.3" || out[1].Path != "t/b" {
		t.Fatalf("instances %+v", out)
	}
}

// TestTruncated: a service with more instances than one DNS message holds
// over TCP gives those that fit and ErrTruncated, never a silent part.
func TestTruncated(t *testing.T) {
	s := serve(t, fleetServices(5000))
	out, err := Resolver{Server: s.Addr()}.Lookup(tctx(t), Agent, MQTT, "example.test")
	if !errors.Is(err, ErrTruncated) || len(out) < 1000 || len(out) >= 5000 {
		t.Fatalf("%d instances, err %v; want some and ErrTruncated", len(out), err)
	}
	// The controller's service, small, is whole.
	if ctl, err := (Resolver{Server: s.Addr()}).Lookup(tctx(t), Controller, MQTT, "example.test"); err != nil || len(ctl) != 1 {
		t.Fatalf("controller %v %v", ctl, err)
	}
}
