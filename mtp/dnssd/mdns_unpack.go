package dnssd

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// errPacket: a packet that is not a DNS message at all.
var errPacket = errors.New("dnssd: not a DNS message")

// unpackLenient reads an mDNS packet the way a responder on a shared
// link must: a record this package cannot read (another stack's NSEC with
// an empty bitmap block, a type it does not know) is skipped and
// counted, and the rest of the packet still counts. What cannot be read
// at all — a header or question cut short, a record whose length runs
// past the packet, a name that does not end — is errPacket.
func unpackLenient(b []byte) (m *dns.Msg, skipped int, err error) {
	m = new(dns.Msg)
	if m.Unpack(b) == nil {
		return m, 0, nil
	}
	if len(b) < 12 {
		return nil, 0, fmt.Errorf("%w: %d bytes", errPacket, len(b))
	}
	m = new(dns.Msg)
	flags := binary.BigEndian.Uint16(b[2:])
	m.Id = binary.BigEndian.Uint16(b)
	m.Response = flags&(1<<15) != 0
	m.Opcode = int(flags>>11) & 0xf
	m.Authoritative = flags&(1<<10) != 0
	m.Truncated = flags&(1<<9) != 0
	m.RecursionDesired = flags&(1<<8) != 0
	m.Rcode = int(flags & 0xf)
	counts := [4]int{}
	for i := range counts {
		counts[i] = int(binary.BigEndian.Uint16(b[4+2*i:]))
	}
	off := 12
	for range counts[0] {
		name, next, err := dns.UnpackDomainName(b, off)
		if err != nil || next+4 > len(b) {
			return nil, 0, fmt.Errorf("%w: a question cut short", errPacket)
		}
		m.Question = append(m.Question, dns.Question{Name: name, Qtype: binary.BigEndian.Uint16(b[next:]), Qclass: binary.BigEndian.Uint16(b[next+2:])})
		off = next + 4
	}
	sections := []*[]dns.RR{&m.Answer, &m.Ns, &m.Extra}
	for s, sec := range sections {
		for range counts[s+1] {
			_, next, err := dns.UnpackDomainName(b, off)
			if err != nil || next+10 > len(b) {
				return nil, skipped, fmt.Errorf("%w: a record cut short", errPacket)
			}
			end := next + 10 + int(binary.BigEndian.Uint16(b[next+8:]))
			if end > len(b) {
				return nil, skipped, fmt.Errorf("%w: a record runs past the packet", errPacket)
			}
			rr, _, err := dns.UnpackRR(b[:end], off)
			if err != nil || rr == nil {
				skipped++
			} else if rr.Header().Rrtype != dns.TypeOPT || sec == &m.Extra {
				*sec = append(*sec, rr)
			}
			off = end
		}
	}
	return m, skipped, nil
}
