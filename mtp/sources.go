package mtp

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
)

// Sources hands out local source addresses round-robin, so that many agent
// connections to one controller or broker address are spread over several
// source IPs: one (source IP, destination IP:port) pair has only the
// ephemeral port range (28,232 ports by default on Linux). On loopback any
// address of 127.0.0.0/8 can be a source.
type Sources struct {
	addrs []netip.Addr
	next  atomic.Uint64
}

// ParseSources reads a comma-separated list of addresses and ranges:
// "127.0.0.2-127.0.0.9,127.1.0.1". An empty spec gives nil: the kernel
// picks the source.
func ParseSources(spec string) (*Sources, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	s := &Sources{}
	for _, part := range strings.Split(spec, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := netip.ParseAddr(lo)
		if err != nil {
			return nil, fmt.Errorf("source address %q: %w", lo, err)
		}
		if !isRange {
			s.addrs = append(s.addrs, a)
			continue
		}
		b, err := netip.ParseAddr(strings.TrimSpace(hi))
		if err != nil {
			return nil, fmt.Errorf("source address %q: %w", hi, err)
		}
		if a.Is4() != b.Is4() || b.Less(a) {
			return nil, fmt.Errorf("source range %q: the end must be an address of the same family after the start", part)
		}
		for x := a; ; x = x.Next() {
			s.addrs = append(s.addrs, x)
			if len(s.addrs) > 1<<16 {
				return nil, fmt.Errorf("source range %q: more than 65536 addresses", part)
			}
			if x == b {
				break
			}
		}
	}
	return s, nil
}

// Len is the number of addresses.
func (s *Sources) Len() int {
	if s == nil {
		return 0
	}
	return len(s.addrs)
}

// Next returns the next address, round-robin; the zero Addr when s is nil.
func (s *Sources) Next() netip.Addr {
	if s == nil || len(s.addrs) == 0 {
		return netip.Addr{}
	}
	return s.addrs[(s.next.Add(1)-1)%uint64(len(s.addrs))]
}

// Dialer returns a net.Dialer bound to the next source address (or the
// kernel's choice when s is nil).
func (s *Sources) Dialer() *net.Dialer {
	d := &net.Dialer{}
	if a := s.Next(); a.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: a.AsSlice()}
	}
	return d
}

// Part is part k (from 1) of n disjoint parts of the addresses, in order:
// addresses (k−1)·L/n … k·L/n−1 of the L. With fewer addresses than parts
// there is not one for each, and every part is all of them (nil stays
// nil).
func (s *Sources) Part(k, n int) *Sources {
	if s == nil || n <= 1 || len(s.addrs) < n || k < 1 || k > n {
		return s
	}
	l := len(s.addrs)
	return &Sources{addrs: s.addrs[(k-1)*l/n : k*l/n]}
}

// String is the addresses as ParseSources reads them: runs of consecutive
// addresses as ranges, comma-separated; "" for none.
func (s *Sources) String() string {
	if s == nil {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(s.addrs); {
		j := i
		for j+1 < len(s.addrs) && s.addrs[j].Next() == s.addrs[j+1] {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s.addrs[i].String())
		if j > i {
			b.WriteByte('-')
			b.WriteString(s.addrs[j].String())
		}
		i = j + 1
	}
	return b.String()
}
