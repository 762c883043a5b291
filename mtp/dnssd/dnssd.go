// Package dnssd is USP discovery over DNS-SD (RFC 6763, TR-369
// "Discovery"): the records that say where a USP Endpoint is, a small
// authoritative DNS server that serves them on loopback (Server), and a
// resolver that finds a Controller through a unicast DNS server
// (Lookup).
//
// A USP service instance is "<Endpoint ID>._usp-<agt|ctr>-<mtp>._tcp.<domain>":
// a PTR record of the service type names it, its SRV record gives the
// host and port (the broker's, for MQTT and STOMP: R-MQTT.38, R-STOMP.32),
// its TXT record the "path" (the MQTT topic, the STOMP destination, the
// WebSocket resource), an Agent's "name" (its FriendlyName), and
// "encrypt" when the MTP needs TLS (R-DIS.8–11a). Subtype PTRs
// ("_gateway._sub._usp-agt-mqtt._tcp") group Agents.
//
// docs/discovery.md describes what brickyard serves and resolves.
package dnssd

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Role is the kind of USP Endpoint a service is.
type Role string

// Roles.
const (
	Agent      Role = "agt"
	Controller Role = "ctr"
)

// MTPs as DNS-SD names them.
const (
	MQTT      = "mqtt"
	STOMP     = "stomp"
	WebSocket = "ws"
)

// ServiceType is the DNS-SD service type of a role and MTP: "_usp-ctr-mqtt._tcp".
func ServiceType(r Role, mtp string) string { return "_usp-" + string(r) + "-" + mtp + "._tcp" }

// Service is one USP service instance.
type Service struct {
	Role     Role
	MTP      string // MQTT, STOMP, WebSocket
	Instance string // the Endpoint ID
	Host     string // the SRV target, a host name in the zone (or one resolvable elsewhere)
	Port     uint16
	Addrs    []netip.Addr // the host's A and AAAA records
	Path     string       // TXT path=
	Name     string       // TXT name= (Agents: FriendlyName)
	Encrypt  bool         // TXT encrypt
	Subtypes []string     // Agent subtypes: "gateway" makes _gateway._sub.<type>
}

// Errors of discovery. Lookup wraps them with what it was looking for.
var (
	// ErrNoService: the DNS server knows no instance of the service.
	ErrNoService = errors.New("dnssd: no such service")
	// ErrBadRecord: an answer that is not what DNS-SD says it must be
	// (an SRV without target or port, a TXT without path, a PTR to
	// another service, no address for the host).
	ErrBadRecord = errors.New("dnssd: bad record")
	// ErrServer: the DNS server could not be asked or answered an error.
	ErrServer = errors.New("dnssd: DNS server")
	// ErrTruncated: the instances of a service do not fit in one DNS
	// message, even over TCP; Lookup returns those that do with it.
	ErrTruncated = errors.New("dnssd: answer truncated")
)

// Limits of what is served and accepted.
const (
	MaxInstances = 100000 // services one Server holds, instances one Lookup returns
	maxTXT       = 255    // one TXT string
)

// check validates a service for serving.
func (s *Service) check() error {
	switch {
	case s.Role != Agent && s.Role != Controller:
		return fmt.Errorf("%w: role %q", ErrBadRecord, s.Role)
	case s.MTP != MQTT && s.MTP != STOMP && s.MTP != WebSocket:
		return fmt.Errorf("%w: MTP %q: want mqtt, stomp or ws", ErrBadRecord, s.MTP)
	case s.Instance == "" || len(s.Instance) > 63:
		return fmt.Errorf("%w: instance %q: want 1 to 63 bytes (a DNS label)", ErrBadRecord, s.Instance)
	case s.Host == "" || s.Port == 0:
		return fmt.Errorf("%w: %s: a host and a port are required", ErrBadRecord, s.Instance)
	case len("path="+s.Path) > maxTXT || len("name="+s.Name) > maxTXT:
		return fmt.Errorf("%w: %s: a TXT string is longer than %d bytes", ErrBadRecord, s.Instance, maxTXT)
	}
	for _, st := range s.Subtypes {
		if st == "" || len(st) > 62 || strings.ContainsAny(st, ". ") {
			return fmt.Errorf("%w: %s: subtype %q", ErrBadRecord, s.Instance, st)
		}
	}
	return nil
}
