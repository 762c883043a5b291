package dnssd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// MDNS says where Multicast DNS (RFC 6762) is spoken: an IPv4 group and
// port on one network interface. The zero value is mDNS's own group,
// 224.0.0.251:5353, on the loopback interface: a farm on one box, its
// controller on the same box. IPv6 (ff02::fb) is not spoken.
type MDNS struct {
	Group     netip.AddrPort // default 224.0.0.251:5353
	Interface string         // a network interface's name; "" the loopback interface
}

// ErrConflict: another responder on the link already answers for a name
// a Responder was to claim, with other data (RFC 6762 §8.1, §9).
var ErrConflict = errors.New("dnssd: mDNS name conflict")

// mDNS constants (RFC 6762).
const (
	mdnsDomain    = "local."
	maxMDNSPacket = 9000 - 28 // §17: at most 9000 bytes with the IP and UDP headers
	cacheFlush    = 1 << 15   // §10.2: the top bit of a unique record's class
	unicastBit    = 1 << 15   // §5.4: the top bit of a question's class, "QU"
	legacyTTL     = 10        // §6.7: the TTL cap of a legacy unicast answer
	probeWait     = 250 * time.Millisecond
	announceGap   = time.Second
	multicastGap  = time.Second // §6: a record is multicast at most once a second
)

// mdnsTTL is RFC 6762 §10's: 120 s for the records that name a host
// (SRV, A, AAAA), 75 minutes for the others.
func mdnsTTL(t uint16) uint32 {
	switch t {
	case dns.TypeSRV, dns.TypeA, dns.TypeAAAA:
		return 120
	}
	return 4500
}

func (c MDNS) group() (netip.AddrPort, error) {
	g := c.Group
	if !g.IsValid() {
		g = netip.MustParseAddrPort("224.0.0.251:5353")
	}
	if !g.Addr().Is4() || !g.Addr().IsMulticast() || g.Port() == 0 {
		return g, fmt.Errorf("dnssd: mDNS group %s: want an IPv4 multicast address and a port", g)
	}
	return g, nil
}

func (c MDNS) iface() (*net.Interface, error) {
	if c.Interface != "" {
		ifi, err := net.InterfaceByName(c.Interface)
		if err != nil {
			return nil, fmt.Errorf("dnssd: mDNS interface %q: %w", c.Interface, err)
		}
		return ifi, nil
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("dnssd: %w", err)
	}
	for i := range ifs {
		if ifs[i].Flags&net.FlagLoopback != 0 && ifs[i].Flags&net.FlagUp != 0 {
			return &ifs[i], nil
		}
	}
	return nil, errors.New("dnssd: no loopback interface for mDNS")
}

// String is "224.0.0.251:5353 on lo".
func (c MDNS) String() string {
	g, _ := c.group()
	name := c.Interface
	if name == "" {
		name = "loopback"
	}
	return g.String() + " on " + name
}

// listen opens a socket on the group and port (listenGroup), and says
// the group, the interface and the interface's IPv4 address.
func (c MDNS) listen(rcvbuf int) (*net.UDPConn, *net.UDPAddr, *net.Interface, netip.Addr, error) {
	g, err := c.group()
	if err != nil {
		return nil, nil, nil, netip.Addr{}, err
	}
	ifi, err := c.iface()
	if err != nil {
		return nil, nil, nil, netip.Addr{}, err
	}
	src := ifaceAddr4(ifi)
	if !src.IsValid() {
		return nil, nil, nil, src, fmt.Errorf("dnssd: mDNS interface %s has no IPv4 address", ifi.Name)
	}
	conn, err := listenGroup(g, ifi, src, rcvbuf)
	if err != nil {
		return nil, nil, nil, src, fmt.Errorf("dnssd: mDNS on %s, %s: %w", ifi.Name, g, err)
	}
	return conn, net.UDPAddrFromAddrPort(g), ifi, src, nil
}

func reuseAddr(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	return errors.Join(err, serr)
}

// Responder is a Multicast DNS responder (RFC 6762) for the DNS-SD
// records of a set of USP services in "local.": it probes for the
// instance and host names it is to answer for, announces them, answers
// queries (multicast, "QU" and legacy unicast ones, and direct unicast
// queries to the interface's address and the group's port) and says
// goodbye when closed. It owns two reader goroutines and the timers of
// its delayed answers; Close stops them.
type Responder struct {
	cfg    MDNS
	z      *zone
	group  *net.UDPAddr
	port   uint16
	conn   *net.UDPConn // bound to the group
	uni    *net.UDPConn // the interface's address and the group's port: direct unicast queries
	wg     sync.WaitGroup
	closed atomic.Bool

	mu      sync.Mutex
	rng     *rand.Rand
	last    map[string]time.Time // record → when it was last multicast
	timers  map[*time.Timer]bool
	probing map[string][]dns.RR // unique name → our records, while probing
	lost    []string            // names another responder holds

	queries, sent, dropped, skipped atomic.Int64
}

// ResponderStats counts what a Responder did.
type ResponderStats struct {
	Queries int64 // queries answered or read (probes and announcements of others included)
	Sent    int64 // packets sent
	Dropped int64 // packets not understood: not DNS, or not a query or response it can read
	Skipped int64 // records it could not read in packets it read the rest of
}

// NewResponder probes for the services' names on c (about 0.75 to 1 s:
// three probes 250 ms apart, RFC 6762 §8.1), announces them and answers
// for them until Close. A name another responder already holds with
// other data is ErrConflict, naming it: a USP instance is named by its
// Endpoint ID, which cannot be renamed as §9 would have it. seed draws
// the random delays of §6 and §8.1.
func NewResponder(c MDNS, services []Service, seed uint64) (*Responder, error) {
	z, err := checkedZone(mdnsDomain, services, mdnsTTL)
	if err != nil {
		return nil, err
	}
	conn, gaddr, _, src, err := c.listen(1 << 20)
	if err != nil {
		return nil, err
	}
	r := &Responder{cfg: c, z: z, group: gaddr, port: uint16(gaddr.Port), conn: conn,
		rng:  rand.New(rand.NewPCG(seed, 0x6d646e73)),
		last: map[string]time.Time{}, timers: map[*time.Timer]bool{}, probing: map[string][]dns.RR{}}
	lc := net.ListenConfig{Control: reuseAddr}
	pc, err := lc.ListenPacket(context.Background(), "udp4", netip.AddrPortFrom(src, r.port).String())
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("dnssd: mDNS direct unicast: %w", err)
	}
	r.uni = pc.(*net.UDPConn)
	for name, rrs := range r.unique() {
		r.probing[name] = rrs
	}
	r.wg.Add(1)
	go r.read(r.conn, false)
	if r.uni != nil {
		r.wg.Add(1)
		go r.read(r.uni, true)
	}
	if err := r.probe(); err != nil {
		r.shut()
		return nil, err
	}
	r.announce(false)
	r.after(announceGap, func() { r.announce(false) })
	return r, nil
}

func ifaceAddr4(ifi *net.Interface) netip.Addr {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP.To4()); ok {
				return ip
			}
		}
	}
	return netip.Addr{}
}

// Addr is the address of the group the responder speaks on.
func (r *Responder) Addr() string { return r.group.String() }

// Stats counts what the responder did so far.
func (r *Responder) Stats() ResponderStats {
	return ResponderStats{Queries: r.queries.Load(), Sent: r.sent.Load(), Dropped: r.dropped.Load(), Skipped: r.skipped.Load()}
}

// Close says goodbye (every record again with TTL 0, RFC 6762 §10.1),
// stops the readers and the timers and waits for them.
func (r *Responder) Close() error {
	if r.closed.Load() {
		return nil
	}
	r.announce(true)
	r.shut()
	return nil
}

func (r *Responder) shut() {
	r.closed.Store(true)
	r.mu.Lock()
	for t := range r.timers {
		if t.Stop() {
			r.wg.Done()
		}
	}
	clear(r.timers)
	r.mu.Unlock()
	r.conn.Close()
	if r.uni != nil {
		r.uni.Close()
	}
	r.wg.Wait()
}

// after runs f after d on a timer the responder owns.
func (r *Responder) after(d time.Duration, f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return
	}
	r.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer r.wg.Done()
		r.mu.Lock()
		delete(r.timers, t)
		r.mu.Unlock()
		if !r.closed.Load() {
			f()
		}
	})
	r.timers[t] = true
}

// unique is the records of each name the responder claims alone: an
// instance's SRV and TXT, a host's addresses (RFC 6762 §2, "unique").
func (r *Responder) unique() map[string][]dns.RR {
	out := map[string][]dns.RR{}
	for name, sv := range r.z.byFQ {
		out[name] = append(out[name], r.z.srv(sv), r.z.txt(sv))
	}
	for name, svs := range r.z.hosts {
		out[name] = r.z.addrs(name, svs[0].Addrs, dns.TypeANY)
	}
	return out
}

// all is every record the responder holds, for announcements: the
// shared PTRs first, then the unique records.
func (r *Responder) all() []dns.RR {
	var out []dns.RR
	for _, name := range slices.Sorted(keys(r.z.types)) {
		m := new(dns.Msg)
		r.z.answer(m, name, dns.TypePTR)
		out = append(out, m.Answer...)
	}
	m := new(dns.Msg)
	r.z.answer(m, "_services._dns-sd._udp."+mdnsDomain, dns.TypePTR)
	out = append(out, m.Answer...)
	for _, name := range slices.Sorted(keys(r.z.subs)) {
		m := new(dns.Msg)
		r.z.answer(m, name, dns.TypePTR)
		out = append(out, m.Answer...)
	}
	u := r.unique()
	for _, name := range slices.Sorted(keys(u)) {
		out = append(out, u[name]...)
	}
	return out
}

func keys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// probe sends three probes, 250 ms apart after a random wait of up to
// 250 ms (§8.1), for every unique name, and waits 250 ms after the last
// for an answer that holds the name with other data.
func (r *Responder) probe() error {
	r.mu.Lock()
	wait := time.Duration(r.rng.Int64N(int64(probeWait)))
	names := slices.Sorted(keys(r.probing))
	r.mu.Unlock()
	if len(names) == 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for i := range 4 {
		<-t.C
		if i == 3 {
			break
		}
		for _, pkt := range r.probePackets(names, i == 0) {
			r.send(pkt, r.group)
		}
		t.Reset(probeWait)
	}
	r.mu.Lock()
	lost := r.lost
	r.probing = nil
	r.mu.Unlock()
	if len(lost) > 0 {
		slices.Sort(lost)
		lost = slices.Compact(lost)
		more := ""
		if len(lost) > 3 {
			more = fmt.Sprintf(" and %d more", len(lost)-3)
			lost = lost[:3]
		}
		return fmt.Errorf("%w on %s: %s%s already answered for by another responder with other data",
			ErrConflict, r.cfg, strings.Join(lost, ", "), more)
	}
	return nil
}

// probePackets are the probe queries for names: a question of type ANY
// for each ("QU" in the first probe, §8.1), the records proposed for it
// in the authority section (§8.2), as many packets as they need.
func (r *Responder) probePackets(names []string, qu bool) [][]byte {
	var out [][]byte
	m := new(dns.Msg)
	flush := func() {
		if len(m.Question) > 0 {
			if b, err := m.Pack(); err == nil {
				out = append(out, b)
			}
		}
		m = new(dns.Msg)
	}
	for _, name := range names {
		q := dns.Question{Name: name, Qtype: dns.TypeANY, Qclass: dns.ClassINET}
		if qu {
			q.Qclass |= unicastBit
		}
		recs := r.probing[name]
		m.Question = append(m.Question, q)
		m.Ns = append(m.Ns, recs...)
		if m.Len() > maxMDNSPacket && len(m.Question) > 1 {
			m.Question = m.Question[:len(m.Question)-1]
			m.Ns = m.Ns[:len(m.Ns)-len(recs)]
			flush()
			m.Question = append(m.Question, q)
			m.Ns = append(m.Ns, recs...)
		}
	}
	flush()
	return out
}

// announce multicasts every record (with TTL 0 for a goodbye), unique
// ones with the cache-flush bit (§8.3, §10.1).
func (r *Responder) announce(goodbye bool) {
	rrs := r.all()
	if goodbye {
		for i, rr := range rrs {
			rrs[i] = dns.Copy(rr)
			rrs[i].Header().Ttl = 0
		}
	}
	now := time.Now()
	r.mu.Lock()
	for _, rr := range rrs {
		r.last[rrKey(rr)] = now
	}
	r.mu.Unlock()
	for _, pkt := range packets(nil, rrs, nil, true, maxMDNSPacket) {
		r.send(pkt, r.group)
	}
}

func (r *Responder) send(pkt []byte, to *net.UDPAddr) {
	if _, err := r.conn.WriteToUDP(pkt, to); err == nil {
		r.sent.Add(1)
	}
}

// read serves the packets of one socket until it is closed.
func (r *Responder) read(c *net.UDPConn, direct bool) {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if r.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		for _, o := range r.handle(buf[:n], from, direct, time.Now()) {
			to := net.UDPAddrFromAddrPort(o.to)
			if !o.to.IsValid() {
				to = r.group
			}
			conn := r.conn
			if direct {
				conn = r.uni
			}
			if o.delay == 0 {
				if _, err := conn.WriteToUDP(o.pkt, to); err == nil {
					r.sent.Add(1)
				}
				continue
			}
			r.after(o.delay, func() {
				if _, err := conn.WriteToUDP(o.pkt, to); err == nil {
					r.sent.Add(1)
				}
			})
		}
	}
}

// outPacket is one packet to send: to the group when to is not valid.
type outPacket struct {
	pkt   []byte
	to    netip.AddrPort
	delay time.Duration
}

// handle reads one packet from src (direct: it came to the unicast
// address, not the group) and says what to send for it at now. During
// probing it only looks for conflicts.
func (r *Responder) handle(pkt []byte, src netip.AddrPort, direct bool, now time.Time) []outPacket {
	req, skipped, err := unpackLenient(pkt)
	r.skipped.Add(int64(skipped))
	if err != nil || req.Opcode != dns.OpcodeQuery {
		r.dropped.Add(1)
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.probing != nil {
		r.conflicts(req)
		return nil
	}
	if req.Response {
		return nil // another responder's answer or announcement
	}
	r.queries.Add(1)
	legacy := src.Port() != r.port
	var answers, extra []dns.RR
	unicast, shared, probe := legacy || direct, false, len(req.Ns) > 0
	asked := map[dns.Question]bool{} // a question asked twice in one packet is answered once
	for _, q := range req.Question {
		if asked[q] {
			continue
		}
		asked[q] = true
		if q.Qclass&^unicastBit != dns.ClassINET && q.Qclass&^unicastBit != dns.ClassANY {
			continue
		}
		name := strings.ToLower(q.Name)
		if !dns.IsSubDomain(mdnsDomain, name) {
			continue
		}
		m := new(dns.Msg)
		if !r.z.answer(m, name, q.Qtype) || len(m.Answer) == 0 {
			continue
		}
		if q.Qclass&unicastBit != 0 {
			unicast = true
		}
		for _, rr := range m.Answer {
			if rr.Header().Rrtype == dns.TypePTR {
				shared = true
			}
		}
		answers = append(answers, m.Answer...)
		extra = append(extra, m.Extra...)
	}
	answers = suppressKnown(dedupe(answers), req.Answer)
	if len(answers) == 0 {
		return nil
	}
	extra = dedupe(extra)
	if legacy {
		// §6.7: a conventional unicast answer: the query's ID and
		// questions, no cache-flush bit, TTLs of at most 10 s, the size the
		// querier takes.
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		m.Answer, m.Extra = capTTL(answers), capTTL(extra)
		size := dns.MinMsgSize
		if o := req.IsEdns0(); o != nil {
			size = min(int(o.UDPSize()), maxMDNSPacket)
			m.SetEdns0(uint16(size), false)
		}
		n := len(m.Answer)
		m.Truncate(size)
		if len(m.Answer) == n {
			m.Truncated = false // only additional records left out (RFC 2181 §9)
		}
		b, err := m.Pack()
		if err != nil {
			return nil
		}
		return []outPacket{{pkt: b, to: src}}
	}
	if unicast {
		var out []outPacket
		for _, b := range packets(nil, answers, extra, true, maxMDNSPacket) {
			out = append(out, outPacket{pkt: setID(b, req.Id), to: src})
		}
		return out
	}
	// Multicast: not a record sent in the last second (250 ms to defend
	// a probed name), and answers that hold shared records after 20 to
	// 120 ms (§6).
	gap := multicastGap
	if probe {
		gap = probeWait
	}
	kept := answers[:0]
	for _, rr := range answers {
		k := rrKey(rr)
		if t, ok := r.last[k]; ok && now.Sub(t) < gap {
			continue
		}
		r.last[k] = now
		kept = append(kept, rr)
	}
	if len(kept) == 0 {
		return nil
	}
	var delay time.Duration
	if shared {
		delay = 20*time.Millisecond + time.Duration(r.rng.Int64N(int64(100*time.Millisecond)))
	}
	var out []outPacket
	for _, b := range packets(nil, kept, extra, true, maxMDNSPacket) {
		out = append(out, outPacket{pkt: b, delay: delay})
	}
	return out
}

// conflicts notes, while probing, the names another responder holds
// (its answers) or probes for (its authority records) with other data
// than ours. Our own probes and announcements, heard again, are the
// same data and no conflict; of two probes for one name with different
// data, the one whose data sorts later wins (§8.2), so neither needs to
// be first.
func (r *Responder) conflicts(m *dns.Msg) {
	theirs := m.Answer
	if !m.Response {
		theirs = m.Ns
	}
	byName := map[string][]dns.RR{}
	for _, rr := range theirs {
		name := strings.ToLower(rr.Header().Name)
		if _, ours := r.probing[name]; ours {
			byName[name] = append(byName[name], rr)
		}
	}
	for name, rrs := range byName {
		ours := r.probing[name]
		if sameData(ours, rrs) {
			continue
		}
		if m.Response || compareData(rrs, ours) > 0 {
			r.lost = append(r.lost, ours[0].Header().Name)
		}
	}
}

// sameData reports whether two record sets hold the same data, their
// TTLs and cache-flush bits aside.
func sameData(a, b []dns.RR) bool {
	ka, kb := dataKeys(a), dataKeys(b)
	return slices.Equal(ka, kb)
}

// compareData orders two record sets for §8.2's tie-break: their records
// sorted, then compared one by one (class, type, rdata); the longer set
// wins a tie.
func compareData(a, b []dns.RR) int {
	ka, kb := dataKeys(a), dataKeys(b)
	for i := range min(len(ka), len(kb)) {
		if c := strings.Compare(ka[i], kb[i]); c != 0 {
			return c
		}
	}
	return len(ka) - len(kb)
}

func dataKeys(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rrKey(rr))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// rrKey names a record by its name, class, type and data: not its TTL
// nor its cache-flush bit.
func rrKey(rr dns.RR) string {
	c := dns.Copy(rr)
	h := c.Header()
	h.Ttl, h.Class = 0, h.Class&^cacheFlush
	h.Name = strings.ToLower(h.Name)
	return c.String()
}

func dedupe(rrs []dns.RR) []dns.RR {
	seen := map[string]bool{}
	out := rrs[:0]
	for _, rr := range rrs {
		if k := rrKey(rr); !seen[k] {
			seen[k] = true
			out = append(out, rr)
		}
	}
	return out
}

// suppressKnown leaves out the answers the querier says it has with at
// least half their TTL left (§7.1).
func suppressKnown(answers, known []dns.RR) []dns.RR {
	if len(known) == 0 {
		return answers
	}
	has := map[string]uint32{}
	for _, rr := range known {
		has[rrKey(rr)] = rr.Header().Ttl
	}
	out := answers[:0]
	for _, rr := range answers {
		if t, ok := has[rrKey(rr)]; ok && t >= rr.Header().Ttl/2 {
			continue
		}
		out = append(out, rr)
	}
	return out
}

func capTTL(rrs []dns.RR) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = rr
		if rr.Header().Ttl > legacyTTL {
			out[i] = dns.Copy(rr)
			out[i].Header().Ttl = legacyTTL
		}
	}
	return out
}

func setID(b []byte, id uint16) []byte {
	b[0], b[1] = byte(id>>8), byte(id)
	return b
}

// packets packs an mDNS response (ID 0, no question, authoritative)
// of answers and their additional records into as many packets of at
// most size bytes as they need. Each answer goes with the additional
// records it calls for (a PTR's instance SRV and TXT, an SRV's host
// addresses) in the same packet when they fit there; an additional
// record that is also an answer, or already in the packet, is left out.
// Unique records get the cache-flush bit when flush is set (§10.2).
func packets(questions []dns.Question, answers, extra []dns.RR, flush bool, size int) [][]byte {
	mark := func(rr dns.RR) dns.RR {
		t := rr.Header().Rrtype
		if !flush || t == dns.TypePTR {
			return rr
		}
		c := dns.Copy(rr)
		c.Header().Class |= cacheFlush
		return c
	}
	isAnswer := map[string]bool{}
	for _, rr := range answers {
		isAnswer[rrKey(rr)] = true
	}
	byName := map[string][]dns.RR{}
	for _, e := range extra {
		k := strings.ToLower(e.Header().Name)
		byName[k] = append(byName[k], e)
	}
	var out [][]byte
	m := newResponse(questions)
	inPkt := map[string]bool{}
	emit := func() {
		if len(m.Answer) == 0 {
			return
		}
		if b, err := m.Pack(); err == nil {
			out = append(out, b)
		}
		m = newResponse(questions)
		clear(inPkt)
	}
	for _, rr := range answers {
		rel := related(rr, byName)
		add := func() {
			m.Answer = append(m.Answer, mark(rr))
			for _, e := range rel {
				if k := rrKey(e); !isAnswer[k] && !inPkt[k] {
					inPkt[k] = true
					m.Extra = append(m.Extra, mark(e))
				}
			}
		}
		na, ne := len(m.Answer), len(m.Extra)
		add()
		if m.Len() <= size {
			continue
		}
		// It does not fit: undo, send what is there, start a new packet
		// with it; if it is still too big, drop its additional records.
		for _, e := range m.Extra[ne:] {
			delete(inPkt, rrKey(e))
		}
		m.Answer, m.Extra = m.Answer[:na], m.Extra[:ne]
		if na > 0 {
			emit()
			add()
		}
		if m.Len() > size {
			m.Extra = nil
		}
	}
	emit()
	return out
}

func newResponse(questions []dns.Question) *dns.Msg {
	m := new(dns.Msg)
	m.Response, m.Authoritative = true, true
	m.Question = questions
	m.Compress = true
	return m
}

// related is the additional records an answer calls for (RFC 6763 §12,
// RFC 6762 §6), from the additional records by lower-case name: a PTR's
// instance SRV and TXT and that SRV's host addresses; an SRV's host
// addresses.
func related(rr dns.RR, byName map[string][]dns.RR) []dns.RR {
	switch a := rr.(type) {
	case *dns.PTR:
		inst := byName[strings.ToLower(a.Ptr)]
		out := slices.Clone(inst)
		for _, e := range inst {
			if s, ok := e.(*dns.SRV); ok {
				out = append(out, byName[strings.ToLower(s.Target)]...)
			}
		}
		return out
	case *dns.SRV:
		return byName[strings.ToLower(a.Target)]
	}
	return nil
}
