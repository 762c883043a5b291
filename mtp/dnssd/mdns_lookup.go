package dnssd

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// MDNSResolver finds USP services over Multicast DNS (RFC 6762) in
// "local.". Each query goes out twice over: multicast from the mDNS port,
// as a full querier asks (§5.2), again each second while it waits, so
// that a record a responder multicast less than a second before (and
// will not multicast again so soon, §6) comes in the next round; and
// once from a port of its own, which every responder answers at once
// with a conventional unicast answer (§6.7) of up to 9 kB. It takes
// every answer heard within Wait, from every responder on the link,
// split over as many packets as they need.
type MDNSResolver struct {
	MDNS
	Wait time.Duration // how long each query listens for answers; default 1.5 s
}

// Lookup finds the instances of a USP service in "local." as
// Resolver.Lookup does in a unicast domain, with the same rules and
// errors: a service no responder answers for within Wait is
// ErrNoService; records a responder withdrew (TTL 0, its goodbye) are
// not used; a socket that cannot be opened is ErrServer.
func (r MDNSResolver) Lookup(ctx context.Context, role Role, mtp string) ([]Service, error) {
	res := Resolver{Server: "mDNS " + r.MDNS.String(), exchange: r.exchange}
	return res.Lookup(ctx, role, mtp, mdnsDomain)
}

// exchange asks q on the link and gathers the answers heard within Wait
// into one message: every record of theirs (answers and additional
// records alike), in the answer and the additional section both, so
// that Lookup finds a PTR's SRV, TXT and addresses wherever a responder
// put them.
func (r MDNSResolver) exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	wait := r.Wait
	if wait <= 0 {
		wait = 1500 * time.Millisecond
	}
	group, gaddr, _, src, err := r.listen(4 << 20)
	if err != nil {
		return nil, err
	}
	defer group.Close()
	legacy, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
	if err != nil {
		return nil, err
	}
	defer legacy.Close()
	mq := q.Copy()
	mq.Id, mq.Extra = 0, nil // §18.1; no EDNS in a multicast query
	multicast, err := mq.Pack()
	if err != nil {
		return nil, err
	}
	oneShot, err := q.Pack() // its own ID, EDNS0: the size it takes
	if err != nil {
		return nil, err
	}
	if _, err := legacy.WriteToUDP(oneShot, gaddr); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	got := make(chan *dns.Msg, 64)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range []*net.UDPConn{group, legacy} {
		if err := c.SetReadDeadline(deadline); err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 65536)
			for {
				n, _, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					return // the deadline, or closed
				}
				m, _, err := unpackLenient(buf[:n])
				if err != nil || !m.Response || m.Opcode != dns.OpcodeQuery || m.Rcode != dns.RcodeSuccess {
					continue // a query (ours, heard again, or another's), or not an answer
				}
				if c == legacy && m.Id != q.Id {
					continue
				}
				select {
				case got <- m:
				case <-done:
					return
				}
			}
		}()
	}
	var msgs []*dns.Msg
	records, truncated := 0, false
	again := time.NewTicker(time.Second)
	defer again.Stop()
	end := time.NewTimer(time.Until(deadline))
	defer end.Stop()
	_, _ = group.WriteToUDP(multicast, gaddr)
	for waiting := true; waiting; {
		select {
		case m := <-got:
			// What one lookup keeps is bounded: past maxMergedRecords the
			// answer says it is truncated (Lookup: ErrTruncated with the
			// instances it holds), as a unicast answer too large does.
			n := len(m.Answer) + len(m.Extra)
			if records+n > maxMergedRecords {
				truncated = true
				continue
			}
			records += n
			msgs = append(msgs, m)
		case <-again.C:
			_, _ = group.WriteToUDP(multicast, gaddr)
		case <-end.C:
			waiting = false
		case <-ctx.Done():
			waiting = false
		}
	}
	close(done)
	group.Close()
	legacy.Close()
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp := mergeResponses(q, msgs)
	resp.Truncated = truncated
	return resp, nil
}

// maxMergedRecords bounds the records one mDNS lookup gathers: four per
// instance (PTR, SRV, TXT, an address) of MaxInstances.
const maxMergedRecords = 4 * MaxInstances

// mergeResponses is one message of every record the responses hold,
// once each, less those withdrawn (TTL 0) and those of another class.
func mergeResponses(q *dns.Msg, got []*dns.Msg) *dns.Msg {
	out := new(dns.Msg)
	out.SetReply(q)
	seen := map[string]bool{}
	gone := map[string]bool{}
	var rrs []dns.RR
	for _, m := range got {
		for _, sec := range [][]dns.RR{m.Answer, m.Extra} {
			for _, rr := range sec {
				h := rr.Header()
				if h.Rrtype == dns.TypeOPT || h.Class&^cacheFlush != dns.ClassINET {
					continue
				}
				k := rrKey(rr)
				if h.Ttl == 0 {
					gone[k] = true
					continue
				}
				if !seen[k] {
					seen[k] = true
					c := dns.Copy(rr)
					c.Header().Class &^= cacheFlush
					rrs = append(rrs, c)
				}
			}
		}
	}
	for _, rr := range rrs {
		if !gone[rrKey(rr)] {
			out.Answer = append(out.Answer, rr)
		}
	}
	out.Extra = out.Answer
	return out
}
