package dnssd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Server is an authoritative DNS server for one domain, serving the
// DNS-SD records of a set of USP services over UDP and TCP on one
// address (loopback, for tests and a lab's own resolver to forward to).
// It owns two goroutines (the UDP and TCP servers); Close stops them.
// Set may be called at any time, from any goroutine.
type Server struct {
	domain string // FQDN, lower case
	udp    *dns.Server
	tcp    *dns.Server
	wg     sync.WaitGroup
	addr   string

	mu   sync.RWMutex
	zone *zone
}

// zone is the records of a set of services in one domain, indexed for
// answering: the unicast Server's and the mDNS Responder's (in "local.").
// A zone does not change once made; a Set makes a new one.
type zone struct {
	domain string                // FQDN, lower case
	ttlOf  func(t uint16) uint32 // the TTL of a record of type t
	types  map[string][]*Service // service type FQDN → instances, sorted
	byFQ   map[string]*Service   // instance FQDN → service
	subs   map[string][]*Service // subtype PTR name → instances
	hosts  map[string][]*Service // host FQDN → services naming it
}

// ttl of every record the unicast server serves: short, since fleets
// come and go.
const ttl = 60

func unicastTTL(uint16) uint32 { return ttl }

// NewServer listens on addr ("127.0.0.1:5353", port 0 for any) for
// domain ("example.test") and serves until Close.
func NewServer(addr, domain string) (*Server, error) {
	if _, ok := dns.IsDomainName(domain); !ok || domain == "" || domain == "." {
		return nil, fmt.Errorf("dnssd: domain %q is not a domain name", domain)
	}
	s := &Server{domain: strings.ToLower(dns.Fqdn(domain))}
	s.zone = newZone(s.domain, nil, unicastTTL)
	pc, l, err := listenBoth(addr)
	if err != nil {
		return nil, err
	}
	s.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: l, Handler: h, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	started := make(chan struct{}, 2)
	s.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	s.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = srv.ActivateAndServe() // returns at Shutdown
		}()
	}
	<-started
	<-started
	return s, nil
}

// Addr is the address the server listens on (UDP and TCP).
func (s *Server) Addr() string { return s.addr }

// Domain is the server's domain, as a FQDN.
func (s *Server) Domain() string { return s.domain }

// Close stops the server and waits for its goroutines.
func (s *Server) Close() error {
	err := errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
	s.wg.Wait()
	return err
}

// Set replaces the services served. Every service is checked first;
// nothing changes when one is bad.
func (s *Server) Set(services []Service) error {
	z, err := checkedZone(s.domain, services, unicastTTL)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.zone = z
	s.mu.Unlock()
	return nil
}

// checkedZone checks every service and makes their zone, of copies of
// them.
func checkedZone(domain string, services []Service, ttlOf func(uint16) uint32) (*zone, error) {
	if len(services) > MaxInstances {
		return nil, fmt.Errorf("%w: %d services, at most %d", ErrBadRecord, len(services), MaxInstances)
	}
	seen := map[string]bool{}
	z := &zone{domain: domain}
	for i := range services {
		sv := &services[i]
		if err := sv.check(); err != nil {
			return nil, err
		}
		k := strings.ToLower(z.instanceFQDN(sv))
		if seen[k] {
			return nil, fmt.Errorf("%w: %s is given twice", ErrBadRecord, k)
		}
		seen[k] = true
	}
	own := make([]Service, len(services))
	copy(own, services)
	return newZone(domain, own, ttlOf), nil
}

func newZone(domain string, services []Service, ttlOf func(uint16) uint32) *zone {
	z := &zone{domain: domain, ttlOf: ttlOf, types: map[string][]*Service{}, byFQ: map[string]*Service{},
		subs: map[string][]*Service{}, hosts: map[string][]*Service{}}
	for i := range services {
		sv := &services[i]
		t := strings.ToLower(ServiceType(sv.Role, sv.MTP)) + "." + domain
		z.types[t] = append(z.types[t], sv)
		z.byFQ[strings.ToLower(z.instanceFQDN(sv))] = sv
		for _, st := range sv.Subtypes {
			k := strings.ToLower("_"+st+"._sub.") + t
			z.subs[k] = append(z.subs[k], sv)
		}
		h := strings.ToLower(z.hostFQDN(sv))
		z.hosts[h] = append(z.hosts[h], sv)
	}
	return z
}

// instanceFQDN is "<instance>._usp-….<domain>", the instance label escaped.
func (z *zone) instanceFQDN(sv *Service) string {
	return escapeLabel(sv.Instance) + "." + ServiceType(sv.Role, sv.MTP) + "." + z.domain
}

// hostFQDN is the SRV target: the service's Host, in the zone when it
// has no dot.
func (z *zone) hostFQDN(sv *Service) string {
	if strings.Contains(strings.TrimSuffix(sv.Host, "."), ".") {
		return dns.Fqdn(sv.Host)
	}
	return sv.Host + "." + z.domain
}

// escapeLabel writes a label in presentation format: the characters
// that would end it or mean something else are escaped (RFC 6763 §4.3
// lets an instance name hold any of them).
func escapeLabel(l string) string {
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '$' || c == ' ':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x21 || c > 0x7e:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// serve answers one query.
func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		m.SetRcode(req, dns.RcodeNotImplemented)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	if !dns.IsSubDomain(s.domain, name) {
		m.SetRcode(req, dns.RcodeRefused)
		m.Authoritative = false
		_ = w.WriteMsg(m)
		return
	}
	s.mu.RLock()
	z := s.zone
	s.mu.RUnlock()
	known := z.answer(m, name, q.Qtype)
	if !known {
		m.SetRcode(req, dns.RcodeNameError)
	}
	if !known || len(m.Answer) == 0 {
		m.Ns = append(m.Ns, z.soa())
	}
	size := dns.MinMsgSize
	if o := req.IsEdns0(); o != nil {
		size = int(o.UDPSize())
		m.SetEdns0(o.UDPSize(), false)
	}
	if w.LocalAddr().Network() == "tcp" {
		size = dns.MaxMsgSize
	}
	m.Truncate(size) // a UDP answer too large says so: the client asks again over TCP
	_ = w.WriteMsg(m)
}

func (z *zone) soa() dns.RR {
	return &dns.SOA{Hdr: dns.RR_Header{Name: z.domain, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: z.ttlOf(dns.TypeSOA)},
		Ns: "ns." + z.domain, Mbox: "hostmaster." + z.domain, Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: ttl}
}

// answer fills m for name and qtype; it reports whether the name exists.
func (z *zone) answer(m *dns.Msg, name string, qtype uint16) bool {
	want := func(t uint16) bool { return qtype == t || qtype == dns.TypeANY }
	switch {
	case name == "_services._dns-sd._udp."+z.domain:
		if want(dns.TypePTR) {
			types := make([]string, 0, len(z.types))
			for t := range z.types {
				types = append(types, t)
			}
			slices.Sort(types)
			for _, t := range types {
				m.Answer = append(m.Answer, &dns.PTR{Hdr: z.hdr("_services._dns-sd._udp."+z.domain, dns.TypePTR), Ptr: t})
			}
		}
		return true
	case z.types[name] != nil || z.subs[name] != nil:
		list := z.types[name]
		if list == nil {
			list = z.subs[name]
		}
		if want(dns.TypePTR) {
			for _, sv := range list {
				m.Answer = append(m.Answer, &dns.PTR{Hdr: z.hdr(name, dns.TypePTR), Ptr: z.instanceFQDN(sv)})
				m.Extra = append(m.Extra, z.srv(sv), z.txt(sv))
				m.Extra = append(m.Extra, z.addrs(z.hostFQDN(sv), sv.Addrs, dns.TypeANY)...)
			}
		}
		return true
	case z.byFQ[name] != nil:
		sv := z.byFQ[name]
		if want(dns.TypeSRV) {
			m.Answer = append(m.Answer, z.srv(sv))
			m.Extra = append(m.Extra, z.addrs(z.hostFQDN(sv), sv.Addrs, dns.TypeANY)...)
		}
		if want(dns.TypeTXT) {
			m.Answer = append(m.Answer, z.txt(sv))
		}
		return true
	case z.hosts[name] != nil:
		m.Answer = append(m.Answer, z.addrs(name, z.hosts[name][0].Addrs, qtype)...)
		return true
	case name == z.domain:
		if want(dns.TypeSOA) {
			m.Answer = append(m.Answer, z.soa())
		}
		return true
	}
	return false
}

func (z *zone) hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: z.ttlOf(t)}
}

func (z *zone) srv(sv *Service) dns.RR {
	return &dns.SRV{Hdr: z.hdr(z.instanceFQDN(sv), dns.TypeSRV), Priority: 0, Weight: 1, Port: sv.Port, Target: z.hostFQDN(sv)}
}

func (z *zone) txt(sv *Service) dns.RR {
	txt := []string{"path=" + sv.Path}
	if sv.Role == Agent {
		txt = append(txt, "name="+sv.Name)
	}
	if sv.Encrypt {
		txt = append(txt, "encrypt")
	}
	return &dns.TXT{Hdr: z.hdr(z.instanceFQDN(sv), dns.TypeTXT), Txt: txt}
}

// addrs are the A and AAAA records of host that qtype asks for.
func (z *zone) addrs(host string, addrs []netip.Addr, qtype uint16) []dns.RR {
	var out []dns.RR
	for _, a := range addrs {
		switch {
		case a.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
			out = append(out, &dns.A{Hdr: z.hdr(host, dns.TypeA), A: net.IP(a.AsSlice())})
		case a.Is6() && !a.Is4In6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
			out = append(out, &dns.AAAA{Hdr: z.hdr(host, dns.TypeAAAA), AAAA: net.IP(a.AsSlice())})
		}
	}
	return out
}

// listenBoth listens on UDP and TCP on the same port. With port 0 the
// UDP port the system picks may be taken for TCP: then it tries another.
func listenBoth(addr string) (net.PacketConn, net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dnssd: %w", err)
	}
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dnssd: %w", err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		if port != "0" || try == 20 {
			return nil, nil, fmt.Errorf("dnssd: %w", err)
		}
	}
}
