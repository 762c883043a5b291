package agents

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"brickyard/mtp/dnssd"
	"brickyard/sim/device"
)

// discoverController is --discover: the controller is where the DNS-SD
// records of --dns-domain say, asked of --dns-server (TR-369 R-DIS.7):
// the first of _usp-ctr-mqtt, _usp-ctr-stomp and _usp-ctr-ws._tcp that
// has an instance. Its instance name is the controller's Endpoint ID, its
// SRV the broker (or the WebSocket server), its TXT path the controller's
// topic, destination or resource, "encrypt" TLS. It returns the Config
// as if those flags had been given, and changed reporting them so.
func discoverController(f Config, changed func(string) bool) (Config, func(string) bool, error) {
	for _, name := range []string{"ws-url", "mqtt", "stomp"} {
		if changed(name) {
			return f, changed, fmt.Errorf("--discover: not with --%s: the DNS-SD records say where the controller is", name)
		}
	}
	if f.DNSServer == "" || f.DNSDomain == "" {
		return f, changed, errors.New("--discover: --dns-server and --dns-domain are required")
	}
	if _, _, err := net.SplitHostPort(f.DNSServer); err != nil {
		return f, changed, fmt.Errorf("--dns-server: %q: want HOST:PORT", f.DNSServer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r := dnssd.Resolver{Server: f.DNSServer}
	var errs []error
	for _, mtp := range []string{dnssd.MQTT, dnssd.STOMP, dnssd.WebSocket} {
		svcs, err := r.Lookup(ctx, dnssd.Controller, mtp, f.DNSDomain)
		if errors.Is(err, dnssd.ErrTruncated) && len(svcs) > 0 {
			err = nil // the first controller is all it takes
		}
		if err != nil {
			if !errors.Is(err, dnssd.ErrNoService) {
				return f, changed, fmt.Errorf("--discover: %w", err)
			}
			errs = append(errs, err)
			continue
		}
		sv := svcs[0]
		host := sv.Host
		if len(sv.Addrs) > 0 {
			host = sv.Addrs[0].String()
		}
		addr := net.JoinHostPort(host, strconv.Itoa(int(sv.Port)))
		set := map[string]bool{}
		if !changed("controller-id") {
			f.ControllerID, set["controller-id"] = sv.Instance, true
		}
		switch mtp {
		case dnssd.MQTT:
			f.MQTT, set["mqtt"] = "tcp://"+addr, true
			if sv.Encrypt {
				f.MQTT = "tls://" + addr
			}
			if !changed("controller-topic") && sv.Path != "" {
				f.ControllerTopic, set["controller-topic"] = sv.Path, true
			}
		case dnssd.STOMP:
			f.STOMP, set["stomp"] = addr, true
			if sv.Encrypt {
				f.STOMP = "tls://" + addr
			}
			if !changed("controller-dest") && sv.Path != "" {
				f.ControllerDest, set["controller-dest"] = sv.Path, true
			}
		case dnssd.WebSocket:
			scheme := "ws://"
			if sv.Encrypt {
				scheme = "wss://"
			}
			p := sv.Path
			if !strings.HasPrefix(p, "/") {
				p = "/" + p // the spec's own example stores it without
			}
			f.WSURL, set["ws-url"] = scheme+addr+p, true
		}
		return f, func(name string) bool { return set[name] || changed(name) }, nil
	}
	return f, changed, fmt.Errorf("--discover: no controller in %s: %w", f.DNSDomain, errors.Join(errs...))
}

// advertise serves the DNS-SD records of the shard's agents and their
// controller (--dns-serve): one instance per agent, named by its
// Endpoint ID, whose SRV is the broker (R-MQTT.38, R-STOMP.32) and whose
// TXT path is its own topic or destination (R-MQTT.36, R-STOMP.31) and
// name its FriendlyName (R-DIS.10), subtype its board; and the
// controller's. WebSocket agents only dial out: they are not advertised.
func (sp *Spec) advertise(ids []string, boards []string, serials []string) (*dnssd.Server, []string, error) {
	t := sp.deviceTransport
	if t == nil {
		return nil, nil, errors.New("--dns-serve: no controller transport")
	}
	srv, err := dnssd.NewServer(sp.f.DNSServe, sp.f.DNSDomain)
	if err != nil {
		return nil, nil, fmt.Errorf("--dns-serve: %w", err)
	}
	host, addrs := t.Host, []netip.Addr(nil)
	if a, err := netip.ParseAddr(t.Host); err == nil {
		host, addrs = "broker", []netip.Addr{a}
		if t.Protocol == "WebSocket" {
			host = "controller"
		}
	}
	var warn []string
	mtp := map[string]string{"MQTT": dnssd.MQTT, "STOMP": dnssd.STOMP, "WebSocket": dnssd.WebSocket}[t.Protocol]
	expand := func(s, eid string) string {
		return strings.NewReplacer("{eid}", eid, "{ctrl}", sp.controllerID).Replace(s)
	}
	ctl := dnssd.Service{Role: dnssd.Controller, MTP: mtp, Instance: sp.controllerID, Host: host, Port: uint16(t.Port), Addrs: addrs, Encrypt: t.Encrypt}
	switch t.Protocol {
	case "MQTT":
		ctl.Path = expand(t.ControllerTopic, sp.controllerID)
	case "STOMP":
		ctl.Path = expand(t.ControllerDest, sp.controllerID)
	default:
		ctl.Path = t.Path
	}
	services := []dnssd.Service{ctl}
	if t.Protocol == "WebSocket" {
		warn = append(warn, "--dns-serve: WebSocket agents dial out and listen nowhere: only the controller is advertised")
	} else {
		for i, id := range ids {
			a := dnssd.Service{Role: dnssd.Agent, MTP: mtp, Instance: id, Host: host, Port: uint16(t.Port), Addrs: addrs, Encrypt: t.Encrypt,
				Name: device.FriendlyName(boards[i], serials[i]), Subtypes: []string{subtype(boards[i])}}
			if t.Protocol == "MQTT" {
				a.Path = expand(t.AgentTopic, id)
			} else {
				a.Path = expand(t.AgentDest, id)
			}
			services = append(services, a)
		}
	}
	if len(ids) > maxBrowsable {
		warn = append(warn, fmt.Sprintf("--dns-serve: %d agents: one DNS message holds the PTR records of about %d, so a controller browsing %s gets part of them (truncated even over TCP); browse by board subtype (_<board>._sub) or shard the fleet",
			len(ids), maxBrowsable, dnssd.ServiceType(dnssd.Agent, mtp)))
	}
	if err := srv.Set(services); err != nil {
		srv.Close()
		return nil, nil, fmt.Errorf("--dns-serve: %w", err)
	}
	return srv, warn, nil
}

// maxBrowsable is about how many agents' PTR records one DNS message of
// 64 KiB holds with brickyard's Endpoint IDs (1,870 measured, dnssd's
// TestTruncated), less a margin for longer IDs and domains.
const maxBrowsable = 1500

// subtype makes a DNS-SD subtype of a board profile name.
func subtype(board string) string {
	b := []byte(board)
	for i, c := range b {
		if c == '.' || c == ' ' {
			b[i] = '-'
		}
	}
	if len(b) > 62 {
		b = b[:62]
	}
	return string(b)
}
