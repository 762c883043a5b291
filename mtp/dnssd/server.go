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

	mu    sync.RWMutex
	types map[string][]*Service // service type FQDN → instances, sorted
	byFQ  map[string]*Service   // instance FQDN → service
	subs  map[string][]*Service // subtype PTR name → instances
	hosts map[string][]*Service // host FQDN → services naming it
}

// ttl of every record served: short, since fleets come and go.
const ttl = 60

// NewServer listens on addr ("127.0.0.1:5353", port 0 for any) for
// domain ("example.test") and serves until Close.
func NewServer(addr, domain string) (*Server, error) {
	if _, ok := dns.IsDomainName(domain); !ok || domain == "" || domain == "." {
		return nil, fmt.Errorf("dnssd: domain %q is not a domain name", domain)
	}
	s := &Server{domain: strings.ToLower(dns.Fqdn(domain))}
	s.index(nil)
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
	if len(services) > MaxInstances {
		return fmt.Errorf("%w: %d services, at most %d", ErrBadRecord, len(services), MaxInstances)
	}
	seen := map[string]bool{}
	for i := range services {
		sv := &services[i]
		if err := sv.check(); err != nil {
			return err
		}
		k := s.instanceFQDN(sv)
		if seen[k] {
			return fmt.Errorf("%w: %s is given twice", ErrBadRecord, k)
		}
		seen[k] = true
	}
	own := make([]Service, len(services))
	copy(own, services)
	s.index(own)
	return nil
}

func (s *Server) index(services []Service) {
	types := map[string][]*Service{}
	byFQ := map[string]*Service{}
	subs := map[string][]*Service{}
	hosts := map[string][]*Service{}
	for i := range services {
		sv := &services[i]
		t := strings.ToLower(ServiceType(sv.Role, sv.MTP)) + "." + s.domain
		types[t] = append(types[t], sv)
		byFQ[strings.ToLower(s.instanceFQDN(sv))] = sv
		for _, st := range sv.Subtypes {
			k := strings.ToLower("_"+st+"._sub.") + t
			subs[k] = append(subs[k], sv)
		}
		h := strings.ToLower(s.hostFQDN(sv))
		hosts[h] = append(hosts[h], sv)
	}
	s.mu.Lock()
	s.types, s.byFQ, s.subs, s.hosts = types, byFQ, subs, hosts
	s.mu.Unlock()
}

// instanceFQDN is "<instance>._usp-….<domain>", the instance label escaped.
func (s *Server) instanceFQDN(sv *Service) string {
	return escapeLabel(sv.Instance) + "." + ServiceType(sv.Role, sv.MTP) + "." + s.domain
}

// hostFQDN is the SRV target: the service's Host, in the zone when it
// has no dot.
func (s *Server) hostFQDN(sv *Service) string {
	if strings.Contains(strings.TrimSuffix(sv.Host, "."), ".") {
		return dns.Fqdn(sv.Host)
	}
	return sv.Host + "." + s.domain
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
	known := s.answer(m, name, q.Qtype)
	s.mu.RUnlock()
	if !known {
		m.SetRcode(req, dns.RcodeNameError)
	}
	if !known || len(m.Answer) == 0 {
		m.Ns = append(m.Ns, s.soa())
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

func (s *Server) soa() dns.RR {
	return &dns.SOA{Hdr: dns.RR_Header{Name: s.domain, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns: "ns." + s.domain, Mbox: "hostmaster." + s.domain, Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: ttl}
}

// answer fills m for name and qtype; it reports whether the name exists.
func (s *Server) answer(m *dns.Msg, name string, qtype uint16) bool {
	want := func(t uint16) bool { return qtype == t || qtype == dns.TypeANY }
	switch {
	case name == "_services._dns-sd._udp."+s.domain:
		if want(dns.TypePTR) {
			types := make([]string, 0, len(s.types))
			for t := range s.types {
				types = append(types, t)
			}
			slices.Sort(types)
			for _, t := range types {
				m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr("_services._dns-sd._udp."+s.domain, dns.TypePTR), Ptr: t})
			}
		}
		return true
	case s.types[name] != nil || s.subs[name] != nil:
		list := s.types[name]
		if list == nil {
			list = s.subs[name]
		}
		if want(dns.TypePTR) {
			for _, sv := range list {
				m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(name, dns.TypePTR), Ptr: s.instanceFQDN(sv)})
				m.Extra = append(m.Extra, s.srv(sv), s.txt(sv))
				m.Extra = append(m.Extra, s.addrs(s.hostFQDN(sv), sv.Addrs, dns.TypeANY)...)
			}
		}
		return true
	case s.byFQ[name] != nil:
		sv := s.byFQ[name]
		if want(dns.TypeSRV) {
			m.Answer = append(m.Answer, s.srv(sv))
			m.Extra = append(m.Extra, s.addrs(s.hostFQDN(sv), sv.Addrs, dns.TypeANY)...)
		}
		if want(dns.TypeTXT) {
			m.Answer = append(m.Answer, s.txt(sv))
		}
		return true
	case s.hosts[name] != nil:
		m.Answer = append(m.Answer, s.addrs(name, s.hosts[name][0].Addrs, qtype)...)
		return true
	case name == s.domain:
		if want(dns.TypeSOA) {
			m.Answer = append(m.Answer, s.soa())
		}
		return true
	}
	return false
}

func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

func (s *Server) srv(sv *Service) dns.RR {
	return &dns.SRV{Hdr: hdr(s.instanceFQDN(sv), dns.TypeSRV), Priority: 0, Weight: 1, Port: sv.Port, Target: s.hostFQDN(sv)}
}

func (s *Server) txt(sv *Service) dns.RR {
	txt := []string{"path=" + sv.Path}
	if sv.Role == Agent {
		txt = append(txt, "name="+sv.Name)
	}
	if sv.Encrypt {
		txt = append(txt, "encrypt")
	}
	return &dns.TXT{Hdr: hdr(s.instanceFQDN(sv), dns.TypeTXT), Txt: txt}
}

// addrs are the A and AAAA records of host that qtype asks for.
func (s *Server) addrs(host string, addrs []netip.Addr, qtype uint16) []dns.RR {
	var out []dns.RR
	for _, a := range addrs {
		switch {
		case a.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
			out = append(out, &dns.A{Hdr: hdr(host, dns.TypeA), A: net.IP(a.AsSlice())})
		case a.Is6() && !a.Is4In6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
			out = append(out, &dns.AAAA{Hdr: hdr(host, dns.TypeAAAA), AAAA: net.IP(a.AsSlice())})
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
