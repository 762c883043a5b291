package certs

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)

func newCA(t testing.TB) *CA {
	t.Helper()
	ca, err := New("brickyard fleet CA test", t0, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// A device's certificate verifies against the fleet CA for client and
// server authentication and names its Endpoint ID (R-SEC.0a); Check
// refuses it for any other ID, and refuses certificates with no ID.
func TestIssueAndCheck(t *testing.T) {
	ca := newCA(t)
	for _, eid := range []string{"os::00256D-SIM000001", "proto::controller", "os::012345-SIM%1", "oui:00256D:my agent#1?"} {
		t.Run(eid, func(t *testing.T) {
			c, err := ca.Certificate(eid)
			if err != nil {
				t.Fatal(err)
			}
			for _, use := range []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth} {
				if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{use}}); err != nil {
					t.Fatalf("verify for %v: %v", use, err)
				}
			}
			chain := []*x509.Certificate{c.Leaf}
			if err := Check(chain, eid); err != nil {
				t.Fatal(err)
			}
			if err := Check(chain, eid+"x"); !errors.Is(err, ErrMismatch) {
				t.Fatalf("another ID: %v", err)
			}
			if got := EndpointIDs(c.Leaf); len(got) != 1 || got[0] != eid {
				t.Fatalf("EndpointIDs %q", got)
			}
			if c.Leaf.SerialNumber.Cmp(Serial(eid)) != 0 || c.Leaf.Subject.CommonName != eid {
				t.Fatalf("serial %v, subject %v", c.Leaf.SerialNumber, c.Leaf.Subject)
			}
			if again, _ := ca.Certificate(eid); !again.Leaf.Equal(c.Leaf) {
				t.Fatal("a second certificate for one endpoint")
			}
		})
	}
	if ca.Issued() != 4 {
		t.Fatalf("issued %d", ca.Issued())
	}
	if err := Check(nil, "x"); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("no certificate: %v", err)
	}
	if err := Check([]*x509.Certificate{ca.Cert()}, "x"); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("a certificate without URN: %v", err)
	}
	if _, err := ca.Certificate(""); err == nil {
		t.Fatal("a certificate for an empty ID")
	}
}

// URNs as other tools write them: the scheme and namespace compare
// case-insensitively, the ID exactly; anything else names no endpoint.
func TestParseURN(t *testing.T) {
	for _, tc := range []struct {
		uri, eid string
	}{
		{"urn:bbf:usp:id:os::00256D-SIM000001", "os::00256D-SIM000001"},
		{"URN:BBF:USP:ID:proto::ctrl", "proto::ctrl"},
		{"urn:bbf:usp:id:os::012345-SIM%251", "os::012345-SIM%1"},
		{"urn:bbf:usp:id:", ""},
		{"urn:bbf:usp:ids:x", ""},
		{"urn:ietf:x", ""},
		{"https://example.com/urn:bbf:usp:id:x", ""},
		{"urn:bbf:usp:id:%zz", ""},
	} {
		u, err := url.Parse(tc.uri)
		if err != nil {
			t.Fatalf("%s: %v", tc.uri, err)
		}
		eid, ok := ParseURN(u)
		if eid != tc.eid || ok != (tc.eid != "") {
			t.Errorf("ParseURN(%s) = %q %v, want %q", tc.uri, eid, ok, tc.eid)
		}
	}
	if s := URN("os::012345-SIM%1").String(); s != "urn:bbf:usp:id:os::012345-SIM%251" {
		t.Errorf("URN: %s", s)
	}
}

func TestSerial(t *testing.T) {
	s := SerialString("os::00256D-SIM000001")
	if len(s) != 16*3-1 || strings.Count(s, ":") != 15 || s != SerialString("os::00256D-SIM000001") || s == SerialString("os::00256D-SIM000002") {
		t.Fatalf("serial %s", s)
	}
	if Serial("x").Sign() <= 0 {
		t.Fatal("a serial number that is not positive")
	}
}

// A CA given by the user: its PEM certificate and key; what is not a
// CA, a key of another certificate, and garbage are refused by name.
func TestLoad(t *testing.T) {
	ca := newCA(t)
	key, _ := ca.KeyPEM()
	l, err := Load(ca.CertPEM(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.Certificate("proto::a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}
	other := newCA(t)
	otherKey, _ := other.KeyPEM()
	leaf, _ := ca.Certificate("proto::leaf")
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Leaf.Raw})
	for _, tc := range []struct {
		name      string
		cert, key []byte
		want      string
	}{
		{"garbage certificate", []byte("x"), key, "no PEM CERTIFICATE"},
		{"not a CA", leafPEM, key, "not a CA's"},
		{"another key", ca.CertPEM(), otherKey, "not the certificate's"},
		{"garbage key", ca.CertPEM(), []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), "CA key"},
		{"no key", ca.CertPEM(), nil, "no PEM block"},
	} {
		if _, err := Load(tc.cert, tc.key); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := New("x", t0, 0); err == nil {
		t.Error("a CA valid for 0 s")
	}
}

// A certificate expires with its CA's validity: past it, it no longer
// verifies (crypto/tls refuses the handshake).
func TestExpiry(t *testing.T) {
	ca, err := New("short", t0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ca.Certificate("proto::a")
	opts := x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	opts.CurrentTime = t0.Add(30 * time.Second)
	if _, err := c.Leaf.Verify(opts); err != nil {
		t.Fatal(err)
	}
	opts.CurrentTime = t0.Add(2 * time.Minute)
	var inv x509.CertificateInvalidError
	if _, err := c.Leaf.Verify(opts); !errors.As(err, &inv) || inv.Reason != x509.Expired {
		t.Fatalf("after expiry: %v", err)
	}
}

// A certificate from a CA the peer does not trust does not verify, even
// with the right name.
func TestWrongCA(t *testing.T) {
	ca, stranger := newCA(t), newCA(t)
	c, _ := stranger.Certificate("proto::a")
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Fatal("a stranger's certificate verified")
	}
}

// FuzzParseURN: any URI text parses without panic, and every non-empty
// Endpoint ID survives URN and ParseURN.
func FuzzParseURN(f *testing.F) {
	f.Add("urn:bbf:usp:id:os::00256D-SIM000001", "os::x")
	f.Add("urn:bbf:usp:id:%zz", "a%b c")
	f.Fuzz(func(t *testing.T, uri, eid string) {
		if u, err := url.Parse(uri); err == nil {
			_, _ = ParseURN(u)
		}
		if eid == "" {
			return
		}
		u, err := url.Parse(URN(eid).String())
		if err != nil {
			t.Fatalf("URN(%q) = %q does not parse: %v", eid, URN(eid).String(), err)
		}
		if got, ok := ParseURN(u); !ok || got != eid {
			t.Fatalf("URN(%q) reads back as %q %v", eid, got, ok)
		}
	})
}

// FuzzLoad: any PEM input is refused with an error or gives a CA whose
// certificates verify against it; nothing panics.
func FuzzLoad(f *testing.F) {
	ca, _ := New("fuzz", t0, time.Hour)
	key, _ := ca.KeyPEM()
	f.Add(ca.CertPEM(), key)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		l, err := Load(certPEM, keyPEM)
		if err != nil {
			return
		}
		c, err := l.Certificate("proto::fuzz")
		if err != nil {
			return // a CA certificate crypto/x509 cannot sign under (bad constraints)
		}
		if err := Check([]*x509.Certificate{c.Leaf}, "proto::fuzz"); err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkCertificate is the cost of a device's first connection with
// a certificate of its own: a P-256 key, the certificate signed, kept
// and parsed. Retained bytes per kept certificate are reported.
func BenchmarkCertificate(b *testing.B) {
	ca := newCA(b)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	n := 0
	for b.Loop() {
		if _, err := ca.Certificate(fmt.Sprintf("os::00256D-SIM%06d", n)); err != nil {
			b.Fatal(err)
		}
		n++
	}
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	runtime.KeepAlive(ca)
	b.ReportMetric(float64(int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc))/float64(n), "retained-B/cert")
}

// BenchmarkCertificateAgain is a reconnection: the kept certificate and
// key parsed again.
func BenchmarkCertificateAgain(b *testing.B) {
	ca := newCA(b)
	if _, err := ca.Certificate("proto::a"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ca.Certificate("proto::a"); err != nil {
			b.Fatal(err)
		}
	}
}

// A server certificate names its hosts (which TLS clients check) and its
// Endpoint ID.
func TestServerCertificate(t *testing.T) {
	ca := newCA(t)
	c, err := ca.ServerCertificate("proto::controller", "127.0.0.1", "ctrl.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: t0, DNSName: "ctrl.example"}); err != nil {
		t.Fatal(err)
	}
	if c.Leaf.VerifyHostname("127.0.0.1") != nil || Check([]*x509.Certificate{c.Leaf}, "proto::controller") != nil {
		t.Fatalf("IPs %v, URIs %v", c.Leaf.IPAddresses, c.Leaf.URIs)
	}
	if _, err := ca.ServerCertificate("proto::controller"); err == nil {
		t.Fatal("a server certificate without a host")
	}
	if ca.Issued() != 0 {
		t.Fatal("a server certificate was kept")
	}
}
