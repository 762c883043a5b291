package websocket

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"brickyard/mtp"
	"brickyard/usp"
)

const ctrlID = "proto::ctrl"

// checkLeaks fails the test if goroutines started during it are still
// running shortly after its cleanups (registered first, so it runs last).
func checkLeaks(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// testConfig has short timeouts and no keep-alive (tests that want Pings
// set KeepAliveInterval).
func testConfig(t testing.TB) Config {
	return Config{
		URL:               "ws://127.0.0.1:0/usp",
		ControllerID:      ctrlID,
		HandshakeTimeout:  5 * time.Second,
		KeepAliveInterval: -1,
		WriteTimeout:      5 * time.Second,
		CloseTimeout:      time.Second,
		Logf:              t.Logf,
	}
}

func listen(t testing.TB, cfg Config) *Listener {
	t.Helper()
	ml, err := NewListener(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := ml.(*Listener)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func dialer(t testing.TB, cfg Config) *Dialer {
	t.Helper()
	d, err := NewDialer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d.(*Dialer)
}

// session dials agentID through d and accepts it on l.
func session(t testing.TB, l *Listener, d *Dialer, agentID string) (agent, ctrl *Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	type res struct {
		c   mtp.Conn
		err error
	}
	accepted := make(chan res, 1)
	go func() {
		c, err := l.Accept(ctx)
		accepted <- res{c, err}
	}()
	a, err := d.Dial(ctx, agentID)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	r := <-accepted
	if r.err != nil {
		t.Fatalf("accept: %v", r.err)
	}
	t.Cleanup(func() { _ = a.Close(); _ = r.c.Close() })
	// R-MTP.6: the first thing the controller receives.
	first, err := r.c.Recv(ctx)
	if err != nil {
		t.Fatalf("first Record: %v", err)
	}
	in, err := usp.Codec{LocalID: ctrlID}.Open(first)
	if err != nil || in.Record.GetWebsocketConnect() == nil || in.From() != agentID {
		t.Fatalf("first Record is not %s's websocket_connect: %v %v", agentID, in.Record, err)
	}
	return a.(*Conn), r.c.(*Conn)
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// rawServer is a bare gorilla server for the agent side's tests: every
// upgraded connection is sent on conns with its request.
type rawServer struct {
	url   string
	conns chan rawConn
	mu    sync.Mutex
	all   []*gws.Conn
}

type rawConn struct {
	ws  *gws.Conn
	req *http.Request
}

func newRawServer(t testing.TB, up gws.Upgrader) *rawServer { return newRawServerWith(t, up, nil) }

// newRawServerWith runs setup on each connection before the test sees it;
// a setup server also reads (and drops) everything, so that its control
// frame handlers run.
func newRawServerWith(t testing.TB, up gws.Upgrader, setup func(*gws.Conn)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rs := &rawServer{url: "ws://" + ln.Addr().String() + "/usp", conns: make(chan rawConn, 16)}
	srv := &http.Server{ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		rs.mu.Lock()
		rs.all = append(rs.all, ws)
		rs.mu.Unlock()
		if setup != nil {
			setup(ws)
			go func() {
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						return
					}
				}
			}()
		}
		rs.conns <- rawConn{ws, r}
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
		rs.mu.Lock()
		defer rs.mu.Unlock()
		for _, ws := range rs.all {
			_ = ws.Close()
		}
	})
	return rs
}

func (rs *rawServer) next(t testing.TB) rawConn {
	t.Helper()
	select {
	case c := <-rs.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection reached the raw server")
		return rawConn{}
	}
}

var uspUpgrader = gws.Upgrader{Subprotocols: []string{Subprotocol}}

// rawDial is a bare gorilla client for the controller side's tests.
func rawDial(t testing.TB, l *Listener, query string, hdr http.Header, subprotocols ...string) (*gws.Conn, *http.Response, error) {
	t.Helper()
	d := gws.Dialer{Subprotocols: subprotocols, HandshakeTimeout: 5 * time.Second}
	u := l.URL()
	if query != "" {
		u += "?" + query
	}
	ws, resp, err := d.Dial(u, hdr)
	if ws != nil {
		t.Cleanup(func() { _ = ws.Close() })
	}
	return ws, resp, err
}

// readClose reads until the peer's Close and returns its code.
func readClose(t testing.TB, ws *gws.Conn) int {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err != nil {
			if c := closeCode(err); c != 0 {
				return c
			}
			t.Fatalf("read: %v, want a Close", err)
		}
	}
}

// pki is a test CA that issues ECDSA certificates.
type pki struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "brickyard test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &pki{cert: cert, key: key, pool: x509.NewCertPool()}
	p.pool.AddCert(cert)
	return p
}

// issue makes a leaf certificate: a server one for 127.0.0.1 and
// localhost, or a client one carrying the endpoint ID as a URN SAN.
func (p *pki) issue(t testing.TB, server bool, eid string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: eid},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		u, _ := url.Parse("urn:bbf:usp:id:" + strings.ReplaceAll(eid, "%", "%25"))
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
