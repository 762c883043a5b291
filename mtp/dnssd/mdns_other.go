//go:build !linux

package dnssd

import (
	"errors"
	"net"
	"net/netip"
)

func listenGroup(netip.AddrPort, *net.Interface, netip.Addr, int) (*net.UDPConn, error) {
	return nil, errors.New("mDNS is spoken on Linux only")
}
