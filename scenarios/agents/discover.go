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

	"go.uber.org/zap"
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
	var lookup func(ctx context.Context, mtp string) ([]dnssd.Service, error)
	where := f.DNSDomain
	if f.MDNS {
		m, err := mdnsConfig(f)
		if err != nil {
			return f, changed, err
		}
		r := dnssd.MDNSResolver{MDNS: m}
		lookup = func(ctx context.Context, mtp string) ([]dnssd.Service, error) {
			return r.Lookup(ctx, dnssd.Controller, mtp)
		}
		where = "local. (mDNS " + m.String() + ")"
	} else {
		if f.DNSServer == "" || f.DNSDomain == "" {
			return f, changed, errors.New("--discover: --dns-server and --dns-domain are required (or --mdns)")
		}
		if _, _, err := net.SplitHostPort(f.DNSServer); err != nil {
			return f, changed, fmt.Errorf("--dns-server: %q: want HOST:PORT", f.DNSServer)
		}
		r := dnssd.Resolver{Server: f.DNSServer}
		lookup = func(ctx context.Context, mtp string) ([]dnssd.Service, error) {
			return r.Lookup(ctx, dnssd.Controller, mtp, f.DNSDomain)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var errs []error
	for _, mtp := range []string{dnssd.MQTT, dnssd.STOMP, dnssd.WebSocket} {
		svcs, err := lookup(ctx, mtp)
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
	return f, changed, fmt.Errorf("--discover: no controller in %s: %w", where, errors.Join(errs...))
}

// mdnsConfig is where --mdns speaks: --mdns-group on --mdns-interface.
func mdnsConfig(f Config) (dnssd.MDNS, error) {
	var m dnssd.MDNS
	if f.MDNSGroup != "" {
		g, err := netip.ParseAddrPort(f.MDNSGroup)
		if err != nil || !g.Addr().Is4() || !g.Addr().IsMulticast() || g.Port() == 0 {
			return m, fmt.Errorf("--mdns-group: %q: want an IPv4 multicast GROUP:PORT, e.g. 224.0.0.251:5353", f.MDNSGroup)
		}
		m.Group = g
	}
	m.Interface = f.MDNSInterface
	return m, nil
}

// advertise serves the DNS-SD records of the shard's agents and their
// controller: over unicast DNS (--dns-serve) or Multicast DNS (--mdns),
// or both; it returns what closes them and what to warn about. A
// controller found over mDNS (--discover --mdns) is not answered for
// again: the responder it was found at holds its name.
func (sp *Spec) advertise(log *zap.Logger, ids []string, boards []string, serials []string) (func(), []string, error) {
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	var warns []string
	if sp.f.DNSServe != "" {
		services, warn, err := sp.services(ids, boards, serials, "--dns-serve", false)
		if err != nil {
			return nil, nil, err
		}
		srv, err := dnssd.NewServer(sp.f.DNSServe, sp.f.DNSDomain)
		if err != nil {
			return nil, nil, fmt.Errorf("--dns-serve: %w", err)
		}
		if err := srv.Set(services); err != nil {
			srv.Close()
			return nil, nil, fmt.Errorf("--dns-serve: %w", err)
		}
		closers = append(closers, func() { srv.Close() })
		if len(ids) > maxBrowsable {
			mtp := services[0].MTP
			warn = append(warn, fmt.Sprintf("--dns-serve: %d agents: one DNS message holds the PTR records of about %d, so a controller browsing %s gets part of them (truncated even over TCP); browse by board subtype (_<board>._sub) or shard the fleet",
				len(ids), maxBrowsable, dnssd.ServiceType(dnssd.Agent, mtp)))
		}
		warns = append(warns, warn...)
		log.Info("dns-sd", zap.String("addr", srv.Addr()), zap.String("domain", srv.Domain()), zap.Int("agents", len(ids)))
	}
	if sp.f.MDNS {
		m, err := mdnsConfig(sp.f)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		services, warn, err := sp.services(ids, boards, serials, "--mdns", true)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		if sp.f.Discover {
			// The controller was found in local.: the responder that
			// answers for it there goes on doing so.
			services = services[1:]
		}
		r, err := dnssd.NewResponder(m, services, sp.seed^uint64(sp.shardK))
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("--mdns: %w", err)
		}
		closers = append(closers, func() {
			st := r.Stats()
			r.Close()
			log.Info("mdns closed", zap.Int64("queries", st.Queries), zap.Int64("sent", st.Sent),
				zap.Int64("dropped", st.Dropped), zap.Int64("skipped_records", st.Skipped))
			if st.Dropped > 0 {
				log.Warn("mdns: packets not understood were dropped", zap.Int64("dropped", st.Dropped))
			}
		})
		warns = append(warns, warn...)
		log.Info("mdns", zap.String("group", m.String()), zap.String("domain", "local."), zap.Int("agents", len(ids)))
	}
	return closeAll, warns, nil
}

// services are the DNS-SD services of the shard's agents and their
// controller: one instance per agent, named by its Endpoint ID, whose SRV
// is the broker (R-MQTT.38, R-STOMP.32) and whose TXT path is its own
// topic or destination (R-MQTT.36, R-STOMP.31) and name its FriendlyName
// (R-DIS.10), subtype its board; and the controller's. WebSocket agents
// only dial out: they are not advertised. A broker given as an address
// is named "broker" in a unicast zone; in mDNS's shared "local." its
// name says its address ("brickyard-127-0-0-1"), so that fleets on one
// link that use other brokers do not claim one host name with other
// addresses.
func (sp *Spec) services(ids []string, boards []string, serials []string, flag string, mdns bool) ([]dnssd.Service, []string, error) {
	t := sp.deviceTransport
	if t == nil {
		return nil, nil, errors.New(flag + ": no controller transport")
	}
	host, addrs := t.Host, []netip.Addr(nil)
	if a, err := netip.ParseAddr(t.Host); err == nil {
		host, addrs = "broker", []netip.Addr{a}
		if t.Protocol == "WebSocket" {
			host = "controller"
		}
		if mdns {
			host = "brickyard-" + strings.NewReplacer(".", "-", ":", "-").Replace(a.String())
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
		warn = append(warn, flag+": WebSocket agents dial out and listen nowhere: only the controller is advertised")
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
	return services, warn, nil
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
