//go:build linux

package dnssd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// listenGroup opens a UDP socket bound to the group's address and port
// (not the wildcard address, as Go's own multicast listeners are, which
// would take unicast datagrams to any address of the box), sharing them
// with other sockets (SO_REUSEADDR), joined to the group on ifi by its
// address src, hearing only the groups it joined itself
// (IP_MULTICAST_ALL off), and sending to the group from src on ifi with
// TTL 255 (RFC 6762 §11), its own multicasts heard again.
func listenGroup(g netip.AddrPort, ifi *net.Interface, src netip.Addr, rcvbuf int) (*net.UDPConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	set := func(opt, v int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, opt, v) }
	err = errors.Join(
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1),
		set(unix.IP_MULTICAST_ALL, 0),
		set(unix.IP_MULTICAST_TTL, 255),
		set(unix.IP_MULTICAST_LOOP, 1),
		unix.SetsockoptInet4Addr(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, src.As4()),
		unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP,
			&unix.IPMreqn{Multiaddr: g.Addr().As4(), Address: src.As4(), Ifindex: int32(ifi.Index)}),
	)
	if err == nil && rcvbuf > 0 {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
	}
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrInet4{Port: int(g.Port()), Addr: g.Addr().As4()})
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "mdns")
	defer f.Close()
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}
