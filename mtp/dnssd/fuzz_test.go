package dnssd

import (
	"context"
	"errors"
	"math/rand/v2"
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
	svcs := fleetServices(3)
	svcs = append(svcs, Service{Role: Controller, MTP: MQTT, Instance: "ctl two", Host: "elsewhere.example.org", Port: 8883, Path: "t", Encrypt: true})
	s := newZone(domain+".", svcs, unicastTTL)
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

// FuzzMDNSPacket: whatever arrives on the link, the responder reads it
// leniently or drops it as counted, never panics, and every packet it
// sends in answer is a DNS message of at most 9 kB; what the querier
// merges of it holds only records of class IN with a TTL.
func FuzzMDNSPacket(f *testing.F) {
	z, err := checkedZone(mdnsDomain, fleetServices(40), mdnsTTL)
	if err != nil {
		f.Fatal(err)
	}
	for _, q := range []struct {
		name  string
		qtype uint16
		class uint16
	}{{"_usp-agt-mqtt._tcp.local.", dns.TypePTR, dns.ClassINET}, {"os::00256D-SIM000001._usp-agt-mqtt._tcp.local.", dns.TypeANY, dns.ClassINET | unicastBit},
		{"broker.local.", dns.TypeA, dns.ClassINET}, {"_services._dns-sd._udp.local.", dns.TypePTR, dns.ClassINET}} {
		m := new(dns.Msg)
		m.Question = []dns.Question{{Name: q.name, Qtype: q.qtype, Qclass: q.class}}
		b, _ := m.Pack()
		f.Add(b, uint16(5353))
		f.Add(b, uint16(40000))
	}
	// Another stack's answer with an NSEC this package's parser refuses.
	f.Add([]byte("\x00\x00\x84\x00\x00\x00\x00\x01\x00\x00\x00\x01\r_usp-ctr-mqtt\x04_tcp\x05local\x00\x00\x0c\x00\x01\x00\x00\x11\x94\x00\r\nproto::zcx\xc0\x0c\tzc-broker\xc0\x1f\x00/\x80\x01\x00\x00\x11\x94\x00\n\xc0=\x00\x00\x00\x04\x00\x00\x00\x08"), uint16(5353))
	f.Fuzz(func(t *testing.T, pkt []byte, port uint16) {
		r := &Responder{z: z, port: 5353, rng: rand.New(rand.NewPCG(1, 2)), last: map[string]time.Time{}}
		src := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
		for _, o := range r.handle(pkt, src, false, time.Unix(1000, 0)) {
			if len(o.pkt) > maxMDNSPacket {
				t.Fatalf("a packet of %d bytes", len(o.pkt))
			}
			if err := new(dns.Msg).Unpack(o.pkt); err != nil {
				t.Fatalf("a packet sent does not unpack: %v", err)
			}
		}
		if m, _, err := unpackLenient(pkt); err == nil {
			q := new(dns.Msg)
			q.SetQuestion("_usp-agt-mqtt._tcp.local.", dns.TypePTR)
			for _, rr := range mergeResponses(q, []*dns.Msg{m}).Answer {
				if h := rr.Header(); h.Class != dns.ClassINET || h.Ttl == 0 {
					t.Fatalf("merged %v", rr)
				}
			}
		}
	})
}
