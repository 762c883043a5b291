package dnssd

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Resolver asks one unicast DNS server for DNS-SD records.
type Resolver struct {
	Server  string        // "host:port" of the DNS server
	Timeout time.Duration // per query; default 3 s

	// exchange, if set, answers the queries instead of Server (the fuzz
	// target's answers); lookupIP, if set, replaces the system's lookup of
	// a host the server does not know.
	exchange func(ctx context.Context, q *dns.Msg) (*dns.Msg, error)
	lookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
}

// Lookup finds the instances of a USP service in domain: the PTR records
// of "_usp-<role>-<mtp>._tcp.<domain>", each instance's SRV and TXT (from
// the answer's additional records, else asked for), and its host's A and
// AAAA records (likewise; a host the server does not know is looked up
// the system's way). Instances come sorted by SRV priority, then weight
// (highest first), then name; an instance named by several PTR records
// comes once. A service with no instance is
// ErrNoService; an answer that breaks DNS-SD's rules is ErrBadRecord
// naming the record; a server that cannot be reached or answers an error
// is ErrServer. A PTR answer still truncated over TCP (more instances than
// one DNS message of 64 KiB holds, about 1,900 agents) returns the
// instances it holds with ErrTruncated: the rest are not lost silently.
func (r Resolver) Lookup(ctx context.Context, role Role, mtp, domain string) ([]Service, error) {
	if _, ok := dns.IsDomainName(domain); !ok || domain == "" {
		return nil, fmt.Errorf("dnssd: domain %q is not a domain name", domain)
	}
	typ := ServiceType(role, mtp) + "." + strings.ToLower(dns.Fqdn(domain))
	resp, err := r.query(ctx, typ, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	if resp.Rcode == dns.RcodeNameError {
		return nil, fmt.Errorf("%w: %s (NXDOMAIN from %s)", ErrNoService, typ, r.Server)
	}
	var out []Service
	type prio struct{ p, w uint16 }
	prios := map[string]prio{}
	for _, rr := range resp.Answer {
		ptr, ok := rr.(*dns.PTR)
		if !ok || !strings.EqualFold(rr.Header().Name, typ) {
			continue
		}
		inst, ok := instanceOf(ptr.Ptr, typ)
		if !ok {
			return nil, fmt.Errorf("%w: PTR %s → %s is not an instance of the service", ErrBadRecord, typ, ptr.Ptr)
		}
		if _, dup := prios[inst]; dup {
			continue
		}
		if len(out) == MaxInstances {
			return nil, fmt.Errorf("%w: %s: more than %d instances", ErrBadRecord, typ, MaxInstances)
		}
		sv, p, err := r.instance(ctx, resp.Extra, ptr.Ptr)
		if err != nil {
			return nil, err
		}
		sv.Role, sv.MTP, sv.Instance = role, mtp, inst
		prios[inst] = prio{p.Priority, p.Weight}
		out = append(out, sv)
	}
	if len(out) == 0 && !resp.Truncated {
		return nil, fmt.Errorf("%w: %s has no instance at %s", ErrNoService, typ, r.Server)
	}
	slices.SortStableFunc(out, func(a, b Service) int {
		pa, pb := prios[a.Instance], prios[b.Instance]
		switch {
		case pa.p != pb.p:
			return int(pa.p) - int(pb.p)
		case pa.w != pb.w:
			return int(pb.w) - int(pa.w)
		}
		return strings.Compare(a.Instance, b.Instance)
	})
	if resp.Truncated {
		// Over TCP too: the PTR RRset is larger than one DNS message.
		return out, fmt.Errorf("%w: %s: the answer holds %d instances; %s has more than one DNS message holds", ErrTruncated, typ, len(out), r.Server)
	}
	return out, nil
}

// instance resolves one instance FQDN: its SRV and TXT records from the
// PTR answer's additional records extra, else asked for, and the SRV
// target's addresses from the additional records of either answer, else
// asked for. Only this instance's answers are read: nothing accumulates
// from one instance to the next.
func (r Resolver) instance(ctx context.Context, extra []dns.RR, fqdn string) (Service, *dns.SRV, error) {
	var sv Service
	srv, txt := findSRV(extra, fqdn), findTXT(extra, fqdn)
	var srvExtra []dns.RR
	if srv == nil {
		more, err := r.query(ctx, fqdn, dns.TypeSRV)
		if err != nil {
			return sv, nil, err
		}
		srv, srvExtra = findSRV(more.Answer, fqdn), more.Extra
	}
	if srv == nil {
		return sv, nil, fmt.Errorf("%w: %s has no SRV record", ErrBadRecord, fqdn)
	}
	if srv.Port == 0 || srv.Target == "" || srv.Target == "." {
		return sv, nil, fmt.Errorf("%w: SRV %s: port %d, target %q: the service is not available there", ErrBadRecord, fqdn, srv.Port, srv.Target)
	}
	if txt == nil {
		more, err := r.query(ctx, fqdn, dns.TypeTXT)
		if err != nil {
			return sv, nil, err
		}
		txt = findTXT(more.Answer, fqdn)
	}
	if txt == nil {
		return sv, nil, fmt.Errorf("%w: %s has no TXT record (R-DIS.9, R-DIS.11: path is required)", ErrBadRecord, fqdn)
	}
	sv.Host, sv.Port = strings.TrimSuffix(srv.Target, "."), srv.Port
	hasPath := false
	for _, t := range txt.Txt {
		k, v, _ := strings.Cut(t, "=")
		switch strings.ToLower(k) {
		case "path":
			sv.Path, hasPath = v, true
		case "name":
			sv.Name = v
		case "encrypt":
			sv.Encrypt = true
		}
	}
	if !hasPath {
		return sv, nil, fmt.Errorf("%w: TXT %s has no path= (R-DIS.9, R-DIS.11)", ErrBadRecord, fqdn)
	}
	sv.Addrs = append(addrsOf(extra, srv.Target), addrsOf(srvExtra, srv.Target)...)
	if len(sv.Addrs) == 0 {
		var err error
		if sv.Addrs, err = r.hostAddrs(ctx, srv.Target); err != nil {
			return sv, nil, err
		}
	}
	return sv, srv, nil
}

// query asks the server, over UDP and again over TCP when the answer was
// truncated.
func (r Resolver) query(ctx context.Context, name string, t uint16) (*dns.Msg, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), t)
	m.SetEdns0(4096, false)
	var resp *dns.Msg
	var err error
	if r.exchange != nil {
		resp, err = r.exchange(ctx, m)
	} else {
		c := &dns.Client{Net: "udp", Timeout: timeout}
		resp, _, err = c.ExchangeContext(ctx, m, r.Server)
		if err == nil && resp.Truncated {
			c.Net = "tcp"
			resp, _, err = c.ExchangeContext(ctx, m, r.Server)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s: %s %s: %v", ErrServer, r.Server, dns.TypeToString[t], name, err)
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("%w %s: %s %s: %s", ErrServer, r.Server, dns.TypeToString[t], name, dns.RcodeToString[resp.Rcode])
	}
	return resp, nil
}

// hostAddrs asks the server for a host's addresses, then the system.
func (r Resolver) hostAddrs(ctx context.Context, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		resp, err := r.query(ctx, host, t)
		if err != nil {
			return nil, err
		}
		out = append(out, addrsOf(resp.Answer, host)...)
	}
	if len(out) > 0 {
		return out, nil
	}
	lookup := r.lookupIP
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	ips, err := lookup(ctx, strings.TrimSuffix(host, "."))
	if err != nil || len(ips) == 0 {
		return nil, fmt.Errorf("%w: the SRV target %s has no address", ErrBadRecord, host)
	}
	return ips, nil
}

func findSRV(rrs []dns.RR, name string) *dns.SRV {
	for _, rr := range rrs {
		if s, ok := rr.(*dns.SRV); ok && strings.EqualFold(rr.Header().Name, name) {
			return s
		}
	}
	return nil
}

func findTXT(rrs []dns.RR, name string) *dns.TXT {
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok && strings.EqualFold(rr.Header().Name, name) {
			return t
		}
	}
	return nil
}

func addrsOf(rrs []dns.RR, host string) []netip.Addr {
	var out []netip.Addr
	for _, rr := range rrs {
		if !strings.EqualFold(rr.Header().Name, host) {
			continue
		}
		switch a := rr.(type) {
		case *dns.A:
			if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
				out = append(out, ip)
			}
		case *dns.AAAA:
			if ip, ok := netip.AddrFromSlice(a.AAAA); ok {
				out = append(out, ip)
			}
		}
	}
	return out
}

// instanceOf is the instance label of an instance FQDN of service type
// typ, unescaped.
func instanceOf(fqdn, typ string) (string, bool) {
	if len(fqdn) <= len(typ)+1 || !strings.EqualFold(fqdn[len(fqdn)-len(typ):], typ) || fqdn[len(fqdn)-len(typ)-1] != '.' {
		return "", false
	}
	label := fqdn[:len(fqdn)-len(typ)-1]
	labels := dns.SplitDomainName(label + ".")
	if len(labels) != 1 {
		return "", false
	}
	return unescapeLabel(labels[0]), true
}

func unescapeLabel(l string) string {
	if !strings.Contains(l, `\`) {
		return l
	}
	var b strings.Builder
	for i := 0; i < len(l); i++ {
		if l[i] == '\\' && i+1 < len(l) {
			if i+3 < len(l) && isDigit(l[i+1]) && isDigit(l[i+2]) && isDigit(l[i+3]) {
				b.WriteByte((l[i+1]-'0')*100 + (l[i+2]-'0')*10 + (l[i+3] - '0'))
				i += 3
				continue
			}
			b.WriteByte(l[i+1])
			i++
			continue
		}
		b.WriteByte(l[i])
	}
	return b.String()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
