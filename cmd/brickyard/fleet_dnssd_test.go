package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"brickyard/mtp"
	"brickyard/mtp/dnssd"
	"brickyard/mtp/mqtt"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// controllerOnBroker is an embedded MQTT broker and a controller ctl
// listening on topic there, both closed at the test's end.
func controllerOnBroker(t *testing.T, ctl, topic string) (*mqtt.EmbeddedBroker, mtp.Listener) {
	t.Helper()
	broker, err := mqtt.NewEmbeddedBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { broker.Stop() })
	l, err := mqtt.NewListener(mqtt.Config{Broker: broker.URL(), ControllerID: ctl, ControllerTopic: topic, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return broker, l
}

// TestFleet_DNSSD: brickyard fleet finds its controller through DNS-SD
// (--discover: the _usp-ctr-mqtt._tcp records of a unicast DNS server
// say which broker, topic and Endpoint ID), connects there, and serves
// its agents' _usp-agt-mqtt._tcp records (--dns-serve), which Debian's
// dig and the project's resolver read.
func TestFleet_DNSSD(t *testing.T) {
	dig, err := exec.LookPath("dig")
	if err != nil {
		t.Fatal("dig is not installed (Debian dnsutils; .ci/install-deps installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	const ctl, topic = "proto::disc-ctl", "ops/controller/disc"
	broker, l := controllerOnBroker(t, ctl, topic)

	// The lab's DNS server says where the controller is.
	lab, err := dnssd.NewServer("127.0.0.1:0", "lab.test")
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	_, port, _ := net.SplitHostPort(broker.Addr())
	pn, _ := strconv.Atoi(port)
	if err := lab.Set([]dnssd.Service{{Role: dnssd.Controller, MTP: dnssd.MQTT, Instance: ctl, Host: "broker", Port: uint16(pn),
		Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Path: topic}}); err != nil {
		t.Fatal(err)
	}

	var out, errOut syncBuffer
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan int, 1)
	go func() {
		done <- run(fctx, []string{"fleet", "--discover", "--dns-server", lab.Addr(), "--dns-domain", "lab.test", "--dns-serve", "127.0.0.1:0",
			"--devices", "2", "--serials", "DNS{n:04}", "--onboarded", "--quiet", "--log-format", "json"}, &out, &errOut)
	}()
	defer func() {
		stop()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("the fleet did not stop")
		}
	}()
	// Both agents reach the discovered controller.
	peers := map[string]bool{}
	for len(peers) < 2 {
		c, err := l.Accept(ctx)
		if err != nil {
			t.Fatalf("agents at the discovered controller: %v (%v)\n%s", peers, err, errOut.String())
		}
		peers[c.Info().Peer] = true
	}
	// Where the fleet serves its records: its log says.
	var addr string
	for addr == "" {
		for line := range strings.Lines(errOut.String()) {
			var e struct {
				Msg, Addr, Domain string
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "dns-sd" {
				addr = e.Addr
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("no dns-sd line in the log:\n%s", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	host, dport, _ := net.SplitHostPort(addr)
	q := func(args ...string) string {
		b, err := exec.Command(dig, append([]string{"@" + host, "-p", dport, "+short", "+time=3", "+tries=1"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %v: %v %s", args, err, b)
		}
		return strings.TrimSpace(string(b))
	}
	ptrs := strings.Fields(q("_usp-agt-mqtt._tcp.lab.test", "PTR"))
	want := []string{"os::00256D-SIM000001._usp-agt-mqtt._tcp.lab.test.", "os::00256D-SIM000002._usp-agt-mqtt._tcp.lab.test."}
	if !slices.Equal(ptrs, want) {
		t.Fatalf("agents' PTR %v, want %v", ptrs, want)
	}
	if got := q(want[0], "TXT"); got != `"path=usp/agent/os::00256D-SIM000001" "name=uboot-nor DNS0001"` {
		t.Errorf("agent TXT %s", got)
	}
	if got := q(want[1], "SRV"); got != "0 1 "+port+" broker.lab.test." {
		t.Errorf("agent SRV %s (the broker's, R-MQTT.38)", got)
	}
	if got := q("_usp-ctr-mqtt._tcp.lab.test", "PTR"); got != ctl+"._usp-ctr-mqtt._tcp.lab.test." {
		t.Errorf("controller PTR %s", got)
	}
	agents, err := dnssd.Resolver{Server: addr}.Lookup(ctx, dnssd.Agent, dnssd.MQTT, "lab.test")
	if err != nil || len(agents) != 2 || agents[1].Path != "usp/agent/os::00256D-SIM000002" || agents[0].Subtypes != nil {
		t.Errorf("resolver: %+v %v", agents, err)
	}
	if got := q("_uboot-nor._sub._usp-agt-mqtt._tcp.lab.test", "PTR"); len(strings.Fields(got)) != 2 {
		t.Errorf("board subtype PTR %q", got)
	}

	// Bad flags: named errors.
	for _, args := range [][]string{
		{"fleet", "--discover", "--mqtt", broker.Addr(), "--dns-server", lab.Addr(), "--dns-domain", "lab.test"},
		{"fleet", "--discover", "--dns-domain", "lab.test"},
		{"fleet", "--discover", "--dns-server", lab.Addr(), "--dns-domain", "nothing.test"},
		{"fleet", "--mqtt", broker.Addr(), "--controller-id", ctl, "--dns-serve", "127.0.0.1:0"},
	} {
		if _, e, code := runBrickyard(t, nil, args...); code == 0 || !strings.Contains(e, "--d") {
			t.Errorf("%v: code %d: %s", args, code, e)
		}
	}
}

// TestFleet_MDNS: brickyard fleet finds its controller over Multicast DNS
// (--discover --mdns: the _usp-ctr-mqtt._tcp.local. records a responder on
// the loopback interface holds), connects there, answers for its agents
// in local. while it runs, and withdraws them when it stops.
func TestFleet_MDNS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const ctl, topic = "proto::mdns-ctl", "ops/controller/mdns"
	broker, l := controllerOnBroker(t, ctl, topic)
	// A group port of the test's own: other tests on the box speak mDNS too.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gport := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	group := dnssd.MDNS{Group: netip.AddrPortFrom(netip.MustParseAddr("224.0.0.251"), uint16(gport))}
	_, port, _ := net.SplitHostPort(broker.Addr())
	pn, _ := strconv.Atoi(port)
	lab, err := dnssd.NewResponder(group, []dnssd.Service{{Role: dnssd.Controller, MTP: dnssd.MQTT, Instance: ctl, Host: "lab-broker", Port: uint16(pn),
		Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Path: topic}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()

	var out, errOut syncBuffer
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan int, 1)
	actx, ended := context.WithCancel(ctx) // the fleet's agents are waited for until it ends
	defer ended()
	go func() {
		done <- run(fctx, []string{"fleet", "--discover", "--mdns", "--mdns-group", group.Group.String(),
			"--devices", "2", "--serials", "MDN{n:04}", "--onboarded", "--quiet", "--log-format", "json"}, &out, &errOut)
		ended()
	}()
	stopped := false
	stopFleet := func() {
		if stopped {
			return
		}
		stopped = true
		stop()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("fleet exit %d:\n%s\n%s", code, errOut.String(), out.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("the fleet did not stop")
		}
	}
	defer stopFleet()
	peers := map[string]bool{}
	for len(peers) < 2 {
		c, err := l.Accept(actx)
		if err != nil {
			t.Fatalf("agents at the discovered controller: %v (%v)\n%s", peers, err, errOut.String())
		}
		peers[c.Info().Peer] = true
	}
	// The agents, in local.: asked until both answer (the responder
	// probes for about a second before it answers).
	q := dnssd.MDNSResolver{MDNS: group, Wait: time.Second}
	var agents []dnssd.Service
	for len(agents) != 2 {
		agents, err = q.Lookup(ctx, dnssd.Agent, dnssd.MQTT)
		if ctx.Err() != nil {
			t.Fatalf("agents over mDNS: %+v %v\n%s", agents, err, errOut.String())
		}
	}
	if agents[0].Instance != "os::00256D-SIM000001" || agents[1].Path != "usp/agent/os::00256D-SIM000002" || agents[0].Port != uint16(pn) ||
		agents[0].Host != "brickyard-127-0-0-1.local" || agents[0].Name != "uboot-nor MDN0001" {
		t.Errorf("agents %+v", agents)
	}
	// The controller is the lab's alone: the fleet found it in local.
	// and does not answer for it again.
	if ctls, err := q.Lookup(ctx, dnssd.Controller, dnssd.MQTT); err != nil || len(ctls) != 1 || ctls[0].Instance != ctl {
		t.Errorf("controllers %+v %v", ctls, err)
	}
	stopFleet()
	if got, err := q.Lookup(ctx, dnssd.Agent, dnssd.MQTT); !errors.Is(err, dnssd.ErrNoService) {
		t.Errorf("after the fleet stopped: %+v %v", got, err)
	}

	for _, args := range [][]string{
		{"fleet", "--mdns", "--mdns-group", "10.0.0.1:5353", "--mqtt", broker.Addr(), "--controller-id", ctl},
		{"fleet", "--discover", "--mdns", "--mdns-group", "224.0.0.251:" + strconv.Itoa(gport+1)},
	} {
		if _, e, code := runBrickyard(t, nil, args...); code == 0 || !strings.Contains(e, "--") {
			t.Errorf("%v: code %d: %s", args, code, e)
		}
	}
}
