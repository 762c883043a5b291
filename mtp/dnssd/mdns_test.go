package dnssd

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testGroup is mDNS's group on the loopback interface at a port of the
// test's own, so that tests running at once do not hear each other.
func testGroup(t *testing.T) MDNS {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	return MDNS{Group: netip.AddrPortFrom(netip.MustParseAddr("224.0.0.251"), uint16(port))}
}

// respond starts a responder on a group of the test's own (another one
// if a port it took was taken meanwhile).
func respond(t *testing.T, services []Service) (*Responder, MDNS) {
	t.Helper()
	for try := 0; ; try++ {
		g := testGroup(t)
		r, err := NewResponder(g, services, 1)
		if errors.Is(err, syscall.EADDRINUSE) && try < 5 {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r, g
	}
}

// TestMDNS_Lookup: a querier on the link finds what a responder holds,
// in .local, and a name nobody answers for is ErrNoService.
func TestMDNS_Lookup(t *testing.T) {
	_, g := respond(t, fleetServices(3))
	q := MDNSResolver{MDNS: g, Wait: 500 * time.Millisecond}
	ctl := lookupUntil(t, q, Controller, MQTT, 1)
	if len(ctl) != 1 || ctl[0].Instance != "proto::ctl" || ctl[0].Host != "broker.local" || ctl[0].Port != 1883 ||
		ctl[0].Path != "usp/controller/ctl" || !slices.Equal(ctl[0].Addrs, loop) {
		t.Errorf("controller %+v", ctl)
	}
	agents := lookupUntil(t, q, Agent, MQTT, 3)
	if len(agents) != 3 || agents[1].Instance != "os::00256D-SIM000002" || agents[1].Name != "gw 2" || agents[1].Path != "usp/agent/os::00256D-SIM000002" {
		t.Errorf("agents %+v", agents)
	}
	if _, err := q.Lookup(tctx(t), Agent, STOMP); !errors.Is(err, ErrNoService) {
		t.Errorf("STOMP agents: %v, want ErrNoService", err)
	}
}

// TestMDNS_ManyAgents: 3,000 agents, more than one DNS message of 64 KiB
// holds, reach a querier in full: a multicast answer may take as many
// packets as it needs.
func TestMDNS_ManyAgents(t *testing.T) {
	r, g := respond(t, fleetServices(3000))
	agents := lookupUntil(t, MDNSResolver{MDNS: g, Wait: 2 * time.Second}, Agent, MQTT, 3000)
	if len(agents) != 3000 || agents[2999].Instance != "os::00256D-SIM003000" {
		t.Fatalf("%d agents, want 3000", len(agents))
	}
	for _, a := range agents {
		if a.Port != 1883 || a.Path != "usp/agent/"+a.Instance {
			t.Fatalf("agent %+v", a)
		}
	}
	if s := r.Stats(); s.Dropped != 0 || s.Queries == 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestMDNS_Conflict: a second responder that would claim an instance
// another holds with other data (here another port) is ErrConflict naming
// it; one that claims the same data is not.
func TestMDNS_Conflict(t *testing.T) {
	svcs := fleetServices(2)
	_, g := respond(t, svcs)
	twin, err := NewResponder(g, svcs, 2)
	if err != nil {
		t.Fatalf("the same records again: %v", err)
	}
	twin.Close()
	other := slices.Clone(svcs)
	other[2].Port = 1884
	_, err = NewResponder(g, other, 3)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "os::00256D-SIM000001._usp-agt-mqtt._tcp.local.") {
		t.Fatalf("err %v, want ErrConflict naming SIM000001", err)
	}
}

// TestMDNS_Goodbye: a closed responder withdraws its records (TTL 0),
// and a querier no longer finds them.
func TestMDNS_Goodbye(t *testing.T) {
	g := testGroup(t)
	r, err := NewResponder(g, fleetServices(1), 1)
	if err != nil {
		t.Fatal(err)
	}
	conn, _, _, _, err := g.listen(0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r.Close()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	for {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no goodbye: %v", err)
		}
		m := new(dns.Msg)
		if m.Unpack(buf[:n]) != nil || !m.Response {
			continue
		}
		if ptr := findPTR(m.Answer, "os::00256D-SIM000001._usp-agt-mqtt._tcp.local."); ptr != nil {
			if ptr.Hdr.Ttl != 0 {
				t.Fatalf("goodbye with TTL %d", ptr.Hdr.Ttl)
			}
			break
		}
	}
	if _, err := (MDNSResolver{MDNS: g, Wait: 300 * time.Millisecond}).Lookup(tctx(t), Agent, MQTT); !errors.Is(err, ErrNoService) {
		t.Errorf("after goodbye: %v", err)
	}
}

func findPTR(rrs []dns.RR, target string) *dns.PTR {
	for _, rr := range rrs {
		if p, ok := rr.(*dns.PTR); ok && strings.EqualFold(p.Ptr, target) {
			return p
		}
	}
	return nil
}

// TestMDNS_Dig: Debian's dig, a conventional resolver, asks the
// responder directly (unicast to 127.0.0.1 and the mDNS port, from a port
// of its own): legacy unicast answers (RFC 6762 §6.7), with dig's ID and
// question, TTLs of at most 10 s.
func TestMDNS_Dig(t *testing.T) {
	digPath, err := exec.LookPath("dig")
	if err != nil {
		t.Fatal("dig is not installed (Debian dnsutils; .ci/install-deps installs it)")
	}
	_, g := respond(t, fleetServices(20))
	port := strconv.Itoa(int(g.Group.Port()))
	dig := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(digPath, append([]string{"@127.0.0.1", "-p", port, "+time=3", "+tries=1", "+notcp"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if got := strings.Fields(dig("+short", "_usp-agt-mqtt._tcp.local", "PTR")); len(got) != 20 || got[0] != "os::00256D-SIM000001._usp-agt-mqtt._tcp.local." {
		t.Errorf("PTR %q", got)
	}
	inst := "os::00256D-SIM000007._usp-agt-mqtt._tcp.local"
	if got := strings.TrimSpace(dig("+short", inst, "SRV")); got != "0 1 1883 broker.local." {
		t.Errorf("SRV %q", got)
	}
	if got := strings.TrimSpace(dig("+short", inst, "TXT")); got != `"path=usp/agent/os::00256D-SIM000007" "name=gw 7"` {
		t.Errorf("TXT %q", got)
	}
	full := dig(inst, "SRV")
	flat := strings.Join(strings.Fields(full), " ")
	if !strings.Contains(flat, "status: NOERROR") || !strings.Contains(flat, ";"+inst+". IN SRV") ||
		!strings.Contains(flat, inst+". 10 IN SRV 0 1 1883 broker.local.") || !strings.Contains(flat, "broker.local. 10 IN A 127.0.0.1") {
		t.Errorf("the legacy answer is not conventional:\n%s", full)
	}
	if got := strings.TrimSpace(dig("+short", "_services._dns-sd._udp.local", "PTR")); got != "_usp-agt-mqtt._tcp.local.\n_usp-ctr-mqtt._tcp.local.\n_usp-ctr-ws._tcp.local." {
		t.Errorf("service enumeration %q", got)
	}
}

// TestMDNS_Handle: what the responder sends for each kind of query, and
// for what is not one.
func TestMDNS_Handle(t *testing.T) {
	z, err := checkedZone(mdnsDomain, fleetServices(2), mdnsTTL)
	if err != nil {
		t.Fatal(err)
	}
	const inst = "os::00256D-SIM000001._usp-agt-mqtt._tcp.local."
	const typ = "_usp-agt-mqtt._tcp.local."
	peer := netip.MustParseAddrPort("127.0.0.1:5353")
	legacy := netip.MustParseAddrPort("127.0.0.1:40000")
	query := func(name string, qtype, class uint16, known ...dns.RR) []byte {
		m := new(dns.Msg)
		m.Id = 77
		m.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: class}}
		m.Answer = known
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	srvKnown := z.srv(z.byFQ[strings.ToLower(inst)])
	cases := []struct {
		name    string
		pkt     []byte
		src     netip.AddrPort
		direct  bool
		packets int
		check   func(t *testing.T, o outPacket, m *dns.Msg)
	}{
		{"multicast PTR: to the group, after 20-120 ms, ID 0, no question", query(typ, dns.TypePTR, dns.ClassINET), peer, false, 1,
			func(t *testing.T, o outPacket, m *dns.Msg) {
				if o.to.IsValid() || o.delay < 20*time.Millisecond || o.delay > 120*time.Millisecond || m.Id != 0 || len(m.Question) != 0 {
					t.Errorf("to %v delay %v id %d questions %d", o.to, o.delay, m.Id, len(m.Question))
				}
				if len(m.Answer) != 2 || len(m.Extra) != 5 {
					t.Errorf("%d answers, %d additional (want 2 PTR; 2 SRV, 2 TXT, 1 A)", len(m.Answer), len(m.Extra))
				}
				for _, rr := range m.Extra {
					if rr.Header().Class&cacheFlush == 0 {
						t.Errorf("unique record without cache-flush: %v", rr)
					}
				}
			}},
		{"multicast SRV: at once, cache-flush", query(inst, dns.TypeSRV, dns.ClassINET), peer, false, 1,
			func(t *testing.T, o outPacket, m *dns.Msg) {
				if o.delay != 0 || len(m.Answer) != 1 || m.Answer[0].Header().Class != dns.ClassINET|cacheFlush || m.Answer[0].Header().Ttl != 120 {
					t.Errorf("delay %v answer %v", o.delay, m.Answer)
				}
			}},
		{"QU: unicast to the querier with its ID", query(inst, dns.TypeTXT, dns.ClassINET|unicastBit), peer, false, 1,
			func(t *testing.T, o outPacket, m *dns.Msg) {
				if o.to != peer || m.Id != 77 || len(m.Answer) != 1 || m.Answer[0].Header().Ttl != 4500 {
					t.Errorf("to %v id %d answer %v", o.to, m.Id, m.Answer)
				}
			}},
		{"legacy: conventional, TTL 10, no cache-flush", query(inst, dns.TypeSRV, dns.ClassINET), legacy, false, 1,
			func(t *testing.T, o outPacket, m *dns.Msg) {
				if o.to != legacy || m.Id != 77 || len(m.Question) != 1 || m.Answer[0].Header().Ttl != 10 || m.Answer[0].Header().Class != dns.ClassINET {
					t.Errorf("to %v id %d q %v answer %v", o.to, m.Id, m.Question, m.Answer)
				}
			}},
		{"direct unicast from 5353: unicast", query(inst, dns.TypeSRV, dns.ClassINET), peer, true, 1,
			func(t *testing.T, o outPacket, m *dns.Msg) {
				if o.to != peer || m.Id != 77 {
					t.Errorf("to %v id %d", o.to, m.Id)
				}
			}},
		{"known answer suppressed", query(inst, dns.TypeSRV, dns.ClassINET, srvKnown), peer, false, 0, nil},
		{"another domain", query("_usp-agt-mqtt._tcp.example.test.", dns.TypePTR, dns.ClassINET), peer, false, 0, nil},
		{"an unknown name", query("nobody._usp-agt-mqtt._tcp.local.", dns.TypeSRV, dns.ClassINET), peer, false, 0, nil},
		{"another class", query(inst, dns.TypeSRV, dns.ClassCHAOS), peer, false, 0, nil},
		{"not DNS", []byte{1, 2, 3}, peer, false, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &Responder{z: z, port: 5353, rng: rand.New(rand.NewPCG(1, 2)), last: map[string]time.Time{}}
			out := r.handle(c.pkt, c.src, c.direct, time.Unix(1000, 0))
			if len(out) != c.packets {
				t.Fatalf("%d packets, want %d", len(out), c.packets)
			}
			for _, o := range out {
				m := new(dns.Msg)
				if err := m.Unpack(o.pkt); err != nil {
					t.Fatal(err)
				}
				if !m.Response || !m.Authoritative {
					t.Errorf("not an authoritative response: %v", m.MsgHdr)
				}
				c.check(t, o, m)
			}
			if c.name == "not DNS" && r.Stats().Dropped != 1 {
				t.Errorf("dropped %d", r.Stats().Dropped)
			}
		})
	}
	// A record multicast less than a second ago is not sent again.
	r := &Responder{z: z, port: 5353, rng: rand.New(rand.NewPCG(1, 2)), last: map[string]time.Time{}}
	q := query(inst, dns.TypeSRV, dns.ClassINET)
	now := time.Unix(1000, 0)
	for i, want := range []int{1, 0, 1} {
		at := now.Add([]time.Duration{0, 500 * time.Millisecond, 1100 * time.Millisecond}[i])
		if got := len(r.handle(q, peer, false, at)); got != want {
			t.Errorf("query %d: %d packets, want %d", i, got, want)
		}
	}
}

// TestPackets: an answer larger than a packet is split, each PTR with
// its SRV, TXT and address in the same packet, none over the size.
func TestPackets(t *testing.T) {
	z, err := checkedZone(mdnsDomain, fleetServices(500), mdnsTTL)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	z.answer(m, "_usp-agt-mqtt._tcp.local.", dns.TypePTR)
	pkts := packets(nil, m.Answer, m.Extra, true, 1400)
	if len(pkts) < 2 {
		t.Fatalf("%d packets", len(pkts))
	}
	ptrs := 0
	for i, b := range pkts {
		if len(b) > 1400 {
			t.Errorf("packet %d: %d bytes", i, len(b))
		}
		p := new(dns.Msg)
		if err := p.Unpack(b); err != nil {
			t.Fatal(err)
		}
		for _, rr := range p.Answer {
			ptr := rr.(*dns.PTR)
			ptrs++
			if findSRV(p.Extra, ptr.Ptr) == nil || findTXT(p.Extra, ptr.Ptr) == nil || len(addrsOf(p.Extra, "broker.local.")) != 1 {
				t.Fatalf("packet %d: %s without its SRV, TXT and address", i, ptr.Ptr)
			}
		}
	}
	if ptrs != 500 {
		t.Errorf("%d PTRs, want 500", ptrs)
	}
}

// TestMDNSConfig: a group that is not IPv4 multicast, or an interface
// that does not exist, is a named error.
func TestMDNSConfig(t *testing.T) {
	for _, c := range []MDNS{
		{Group: netip.MustParseAddrPort("127.0.0.1:5353")},
		{Group: netip.MustParseAddrPort("224.0.0.251:0")},
		{Group: netip.MustParseAddrPort("[ff02::fb]:5353")},
		{Interface: "no-such-if0"},
	} {
		if _, err := NewResponder(c, fleetServices(1), 1); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if _, err := NewResponder(MDNS{}, []Service{{Role: Agent, MTP: MQTT, Instance: "", Host: "h", Port: 1}}, 1); !errors.Is(err, ErrBadRecord) {
		t.Errorf("a bad service: %v", err)
	}
	if got := fmt.Sprint(MDNS{}); got != "224.0.0.251:5353 on loopback" {
		t.Errorf("%q", got)
	}
}

// lookupUntil asks until want instances answer, or fails after 20 s: a
// loaded machine may delay a responder past one lookup's window.
func lookupUntil(t *testing.T, q MDNSResolver, role Role, mtp string, want int) []Service {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := q.Lookup(tctx(t), role, mtp)
		if err == nil && len(got) == want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: %d instances, %v; want %d", role, mtp, len(got), err, want)
		}
	}
}

// TestMDNS_Zeroconf: python-zeroconf (Debian's python3-zeroconf), a
// third-party mDNS stack, on the loopback interface at mDNS's own port,
// finds and resolves the agents a Responder advertises, and the
// resolver finds the controller it registers.
func TestMDNS_Zeroconf(t *testing.T) {
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import zeroconf").CombinedOutput(); err != nil {
		t.Fatalf("python3-zeroconf is not installed (.ci/install-deps installs it): %v\n%s", err, out)
	}
	// Names of this process's own: other tests on the box may speak
	// mDNS at port 5353 too.
	tag := fmt.Sprintf("T%d", os.Getpid())
	var svcs []Service
	for i := 1; i <= 5; i++ {
		id := fmt.Sprintf("os::%s-%06d", tag, i)
		svcs = append(svcs, Service{Role: Agent, MTP: MQTT, Instance: id, Host: "broker-" + tag, Port: 1883, Addrs: loop, Path: "usp/agent/" + id, Name: "gw"})
	}
	r, err := NewResponder(MDNS{}, svcs, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctl := "proto::zc-" + tag
	cmd := exec.Command(py, "testdata/zeroconf_peer.py", ctl, "1884", "usp/controller/"+tag, "_usp-agt-mqtt._tcp.local.", "5", "20")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("zeroconf peer: %v\n%s", err, stderr.String())
		}
	}()
	sc := bufio.NewScanner(stdout)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "done") {
			break
		}
	}
	if len(lines) < 2 || lines[0] != "ready" || lines[len(lines)-1] != "done 5" {
		t.Fatalf("zeroconf peer said %q\n%s", lines, stderr.String())
	}
	for i, l := range lines[1 : len(lines)-1] {
		var got struct {
			Name, Server, Path string
			Port               int
			Addresses          []string
		}
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("os::%s-%06d", tag, i+1)
		if got.Name != id+"._usp-agt-mqtt._tcp.local." || got.Port != 1883 || got.Path != "usp/agent/"+id ||
			got.Server != "broker-"+tag+".local." || !slices.Equal(got.Addresses, []string{"127.0.0.1"}) {
			t.Errorf("zeroconf resolved %s", l)
		}
	}
	ctls := lookupUntil(t, MDNSResolver{}, Controller, MQTT, 1)
	if ctls[0].Instance != ctl || ctls[0].Port != 1884 || ctls[0].Path != "usp/controller/"+tag || ctls[0].Host != "zc-broker.local" {
		t.Errorf("controller %+v", ctls[0])
	}
}
