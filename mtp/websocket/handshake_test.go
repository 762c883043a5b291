package websocket

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"brickyard/mtp"
)

// R-WS.10c: the EID travels percent-encoded in the query; the listener
// decodes it back.
func TestEID_RoundTrip(t *testing.T) {
	checkLeaks(t)
	const eid = "os::012345-SIM%1"
	if got, want := encodeEID(eid), "os%3A%3A012345-SIM%251"; got != want {
		t.Fatalf("encodeEID = %q, want %q", got, want)
	}

	rs := newRawServer(t, uspUpgrader) // what goes on the wire
	cfg := testConfig(t)
	cfg.URL = rs.url + "?tenant=7"
	dialed := make(chan struct{})
	go func() {
		defer close(dialed)
		if c, err := dialer(t, cfg).Dial(ctxT(t, 5*time.Second), eid); err == nil {
			_ = c.Close() // its goroutines log to t: they must end with the test
		}
	}()
	if q := rs.next(t).req.URL.RawQuery; q != "tenant=7&eid=os%3A%3A012345-SIM%251" {
		t.Errorf("query %q", q)
	}
	<-dialed

	cfg = testConfig(t) // what the listener makes of it
	l := listen(t, cfg)
	cfg.URL = l.URL()
	_, ctrl := session(t, l, dialer(t, cfg), eid)
	if ctrl.Info().Peer != eid {
		t.Errorf("controller sees %q", ctrl.Info().Peer)
	}
}

func TestParseEID(t *testing.T) {
	for q, want := range map[string]string{
		"eid=os%3A%3A00256D-123":   "os::00256D-123",
		"a=1&eid=proto%3A%3Ax&b=2": "proto::x",
		"eid=self::a+b":            "self::a+b", // + is not a space
		"eid=%7e%7E":               "~~",
	} {
		if got, err := parseEID(q); err != nil || got != want {
			t.Errorf("parseEID(%q) = %q, %v; want %q", q, got, err, want)
		}
	}
	for _, q := range []string{"", "x=1", "eid=", "eid=a&eid=b", "eid=%2", "eid=%zz", "eid=a%0Ab"} {
		if got, err := parseEID(q); err == nil {
			t.Errorf("parseEID(%q) = %q, want an error", q, got)
		}
	}
}

// The listener refuses a handshake without v1.usp before upgrading, and
// one without an eid.
func TestListener_RefusesBadHandshakes(t *testing.T) {
	checkLeaks(t)
	l := listen(t, testConfig(t))
	for _, tc := range []struct {
		name, query string
		protos      []string
		status      int
	}{
		{"no subprotocol", "eid=proto%3A%3Aa", nil, http.StatusBadRequest},
		{"other subprotocol", "eid=proto%3A%3Aa", []string{"v2.usp"}, http.StatusBadRequest},
		{"no eid", "", []string{Subprotocol}, http.StatusBadRequest},
		{"bad eid", "eid=%G0", []string{Subprotocol}, http.StatusBadRequest},
	} {
		ws, resp, err := rawDial(t, l, tc.query, nil, tc.protos...)
		if ws != nil || !errors.Is(err, gws.ErrBadHandshake) || resp == nil || resp.StatusCode != tc.status {
			t.Errorf("%s: %v %v", tc.name, resp, err)
		}
	}
	// wrong path
	d := gws.Dialer{Subprotocols: []string{Subprotocol}}
	if _, resp, err := d.Dial(strings.TrimSuffix(l.URL(), "/usp")+"/other?eid=a", nil); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("wrong path: %v %v", resp, err)
	}
}

// The agent refuses a server that does not answer with v1.usp.
func TestDial_RefusesServerWithoutSubprotocol(t *testing.T) {
	checkLeaks(t)
	rs := newRawServer(t, gws.Upgrader{}) // selects no subprotocol
	cfg := testConfig(t)
	cfg.URL = rs.url
	errc := make(chan error, 1)
	go func() { _, err := dialer(t, cfg).Dial(ctxT(t, 5*time.Second), "proto::a"); errc <- err }()
	if code := readClose(t, rs.next(t).ws); code != gws.CloseProtocolError {
		t.Errorf("close code %d", code)
	}
	if err := <-errc; !errors.Is(err, mtp.ErrBroken) || !strings.Contains(err.Error(), "subprotocol") {
		t.Errorf("dial: %v", err)
	}
}

// The bbf-usp-protocol extension: answered with the controller's ID when
// offered; an old client's EID is read from it; an agent refuses a server
// that names another controller.
func TestExtension(t *testing.T) {
	checkLeaks(t)
	l := listen(t, testConfig(t))
	offer := http.Header{"Sec-WebSocket-Extensions": {`bbf-usp-protocol; eid="proto::old-agent"`}}
	ws, resp, err := rawDial(t, l, "", offer, Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != `bbf-usp-protocol; eid="proto::ctrl"` {
		t.Errorf("extension answer %q", got)
	}
	c, err := l.Accept(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Info().Peer != "proto::old-agent" {
		t.Errorf("peer %q", c.Info().Peer)
	}
	_ = ws.Close()

	ws, resp, err = rawDial(t, l, "eid=proto%3A%3Anew", nil, Subprotocol) // not offered: not answered
	if err != nil || resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Fatalf("unoffered extension answered: %v %v", resp.Header, err)
	}
	_ = ws.Close()
	if c, err := l.Accept(ctxT(t, 5*time.Second)); err == nil {
		_ = c.Close()
	}

	// a server announcing another controller
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := uspUpgrader.Upgrade(w, r, http.Header{"Sec-WebSocket-Extensions": {`bbf-usp-protocol; eid="proto::impostor"`}})
		if err == nil {
			readClose(t, ws)
			_ = ws.Close()
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	cfg := testConfig(t)
	cfg.URL = "ws://" + ln.Addr().String() + "/usp"
	if _, err := dialer(t, cfg).Dial(ctxT(t, 5*time.Second), "proto::a"); !errors.Is(err, mtp.ErrBroken) || !strings.Contains(err.Error(), "impostor") {
		t.Errorf("dial: %v", err)
	}
}

// Peers that never finish a handshake are dropped after HandshakeTimeout,
// and so is a session nobody Accepts.
func TestHandshake_Timeouts(t *testing.T) {
	checkLeaks(t)
	cfg := testConfig(t)
	cfg.HandshakeTimeout = 200 * time.Millisecond

	// a server that accepts TCP and says nothing
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	release := make(chan struct{})
	defer close(release)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			<-release
			_ = c.Close()
		}
	}()
	dc := cfg
	dc.URL = "ws://" + ln.Addr().String() + "/usp"
	start := time.Now()
	if _, err := dialer(t, dc).Dial(ctxT(t, 5*time.Second), "proto::a"); !errors.Is(err, mtp.ErrBroken) || time.Since(start) > 3*time.Second {
		t.Errorf("dial a mute server: %v after %v", err, time.Since(start))
	}

	// a client that connects and says nothing
	l := listen(t, cfg)
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	start = time.Now()
	var ne net.Error
	if n, err := nc.Read(make([]byte, 1)); err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("mute client not dropped: %d %v", n, err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("mute client dropped after %v", time.Since(start))
	}

	// a session nobody accepts is closed with 1013
	cfg.HandshakeTimeout = 500 * time.Millisecond
	l = listen(t, cfg)
	ws, _, err := rawDial(t, l, "eid=proto%3A%3Aunwanted", nil, Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	if code := readClose(t, ws); code != gws.CloseTryAgainLater {
		t.Errorf("close code %d", code)
	}
}

func TestConfig_Errors(t *testing.T) {
	ok := testConfig(t)
	for name, mod := range map[string]func(*Config){
		"no controller ID": func(c *Config) { c.ControllerID = "" },
		"http scheme":      func(c *Config) { c.URL = "http://127.0.0.1:1/usp" },
		"no host":          func(c *Config) { c.URL = "ws:///usp" },
		"eid in URL":       func(c *Config) { c.URL = "ws://127.0.0.1:1/usp?eid=x" },
		"TLS for ws":       func(c *Config) { c.TLS = newPKI(t).serverTLS(t) },
		"negative size":    func(c *Config) { c.MaxRecordSize = -1 },
	} {
		cfg := ok
		mod(&cfg)
		if _, err := NewDialer(cfg); err == nil {
			t.Errorf("dialer, %s: no error", name)
		}
		if _, err := NewListener(cfg); err == nil {
			t.Errorf("listener, %s: no error", name)
		}
	}
	cfg := ok
	cfg.URL = "wss://127.0.0.1:0/usp"
	if _, err := NewListener(cfg); err == nil {
		t.Error("wss listener without a certificate")
	}
	if _, err := dialer(t, ok).Dial(ctxT(t, time.Second), ""); err == nil {
		t.Error("empty agent ID")
	}

	for _, tc := range []struct {
		host     string
		port     uint16
		path     string
		tls      bool
		want     string
		wantPath string
	}{
		{"ctrl.example", 8080, "usp-controller", false, "ws://ctrl.example:8080/usp-controller", "/usp-controller"},
		{"::1", 443, "/usp?x=1", true, "wss://[::1]:443/usp?x=1", "/usp"},
		{"h", 80, "", false, "ws://h:80/", "/"},
	} {
		got := ControllerURL(tc.host, tc.port, tc.path, tc.tls)
		u, err := parseURL(got)
		if got != tc.want || err != nil || u.Path != tc.wantPath {
			t.Errorf("ControllerURL(%q, %d, %q) = %q (%v)", tc.host, tc.port, tc.path, got, err)
		}
	}
	if u, err := parseURL("ws://h:1"); err != nil || u.Path != "/" {
		t.Errorf("empty path: %v %v", u, err)
	}
}
