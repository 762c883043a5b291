// Package certs is USP endpoint identity in X.509 certificates (TR-369
// R-SEC.0a, R-SEC.10, R-SEC.10a): a fleet's certificate authority that
// issues each device a certificate of its own, lazily and cached, whose
// subjectAltName URI is "urn:bbf:usp:id:" + its Endpoint ID; and the check
// of a peer's certificate against the Endpoint ID the peer claims.
//
// The rules:
//
//   - An Endpoint ID is carried as a uniformResourceIdentifier
//     subjectAltName "urn:bbf:usp:id:<endpoint ID>", the ID
//     percent-encoded where a URI needs it ("%" is "%25"). The URN's
//     "urn" and "bbf:usp:id" parts compare case-insensitively, the ID
//     exactly.
//   - Check accepts a certificate when one of its URIs names exactly the
//     claimed ID. Wildcard instance IDs (R-SEC.11, R-SEC.12) and the
//     dNSName form of fqdn Endpoint IDs are not accepted: such a peer is
//     refused (ErrMismatch).
//   - Leaves are ECDSA P-256 certificates signed with ECDSA-SHA256, for
//     client and server authentication, valid from an hour before the
//     CA's start to its end; their serial number is derived from the
//     Endpoint ID (Serial), so that a device can show it without the
//     certificate being made.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// URNPrefix is the prefix of an Endpoint ID's URN (TR-369 architecture).
const URNPrefix = "urn:bbf:usp:id:"

// The ways a peer's certificate fails its Endpoint ID.
var (
	ErrNoCertificate = errors.New("certs: the peer presented no certificate")
	ErrNoIdentity    = errors.New("certs: the certificate carries no urn:bbf:usp:id: name")
	ErrMismatch      = errors.New("certs: the certificate is not the claimed endpoint's")
)

// URN is the subjectAltName URI of Endpoint ID eid.
func URN(eid string) *url.URL {
	return &url.URL{Scheme: "urn", Opaque: "bbf:usp:id:" + escape(eid)}
}

// escape percent-encodes what an opaque URI part cannot hold as is.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > ' ' && c < 0x7f && c != '%' && c != '#' && c != '?' && c != '"' && c != '<' && c != '>' &&
			c != '\\' && c != '^' && c != '`' && c != '{' && c != '|' && c != '}' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// ParseURN returns the Endpoint ID a URI names, and false when it is no
// urn:bbf:usp:id: URI (or its ID is empty or badly encoded).
func ParseURN(u *url.URL) (string, bool) {
	const nss = "bbf:usp:id:"
	if u == nil || !strings.EqualFold(u.Scheme, "urn") || len(u.Opaque) <= len(nss) || !strings.EqualFold(u.Opaque[:len(nss)], nss) {
		return "", false
	}
	eid, err := url.PathUnescape(u.Opaque[len(nss):])
	if err != nil || eid == "" {
		return "", false
	}
	return eid, true
}

// EndpointIDs are the Endpoint IDs cert names.
func EndpointIDs(cert *x509.Certificate) []string {
	var ids []string
	for _, u := range cert.URIs {
		if eid, ok := ParseURN(u); ok {
			ids = append(ids, eid)
		}
	}
	return ids
}

// Check reports whether the leaf of a peer's chain (leaf first, as
// crypto/tls gives it; already verified against a trusted CA) names
// Endpoint ID eid.
func Check(chain []*x509.Certificate, eid string) error {
	if len(chain) == 0 {
		return ErrNoCertificate
	}
	ids := EndpointIDs(chain[0])
	if len(ids) == 0 {
		return fmt.Errorf("%w (subject %q, claimed %q)", ErrNoIdentity, chain[0].Subject.String(), eid)
	}
	for _, id := range ids {
		if id == eid {
			return nil
		}
	}
	return fmt.Errorf("%w: it names %q, the peer claims %q", ErrMismatch, strings.Join(ids, ", "), eid)
}

// Serial is the serial number of Endpoint ID eid's certificate: the
// first 16 bytes of SHA-256(eid), positive.
func Serial(eid string) *big.Int {
	h := sha256.Sum256([]byte(eid))
	h[0] &= 0x7f
	return new(big.Int).SetBytes(h[:16])
}

// SerialString is Serial as TR-181's Certificate.SerialNumber shows it:
// hex bytes separated by colons.
func SerialString(eid string) string {
	b := Serial(eid).FillBytes(make([]byte, 16))
	var s strings.Builder
	for i, c := range b {
		if i > 0 {
			s.WriteByte(':')
		}
		fmt.Fprintf(&s, "%02X", c)
	}
	return s.String()
}

// CA issues the leaf certificates of one fleet. Safe for concurrent use.
type CA struct {
	cert      *x509.Certificate
	key       *ecdsa.PrivateKey
	notBefore time.Time // of every leaf
	notAfter  time.Time

	mu     sync.Mutex
	issued map[string]issued
}

// issued is a certificate kept in its smallest form: about 500 bytes of
// DER and the 32-byte private scalar (a parsed certificate and key hold
// 3.7 KB).
type issued struct {
	der []byte
	d   []byte
}

// New makes a CA named name (its Subject CN) valid from now for
// validity, with a new P-256 key.
func New(name string, now time.Time, validity time.Duration) (*CA, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("certs: validity %v: want a positive duration", validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: CA key: %w", err)
	}
	nb, na := now.Add(-time.Hour).UTC().Truncate(time.Second), now.Add(validity).UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: nb, NotAfter: na, IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("certs: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: CA certificate: %w", err)
	}
	return &CA{cert: cert, key: key, notBefore: nb, notAfter: na, issued: map[string]issued{}}, nil
}

// Load is the CA of a PEM certificate and its PEM EC private key
// (SEC 1 or PKCS #8), as a user gives them. Its leaves are valid as long
// as the CA certificate.
func Load(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("certs: CA certificate: no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certs: CA certificate: %w", err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("certs: the certificate is not a CA's (basic constraints CA, key usage certSign)")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("certs: CA key: no PEM block")
	}
	var key *ecdsa.PrivateKey
	switch kb.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	case "PRIVATE KEY":
		var k any
		if k, err = x509.ParsePKCS8PrivateKey(kb.Bytes); err == nil {
			var ok bool
			if key, ok = k.(*ecdsa.PrivateKey); !ok {
				err = fmt.Errorf("a %T key: want ECDSA", k)
			}
		}
	default:
		err = fmt.Errorf("PEM block %q: want EC PRIVATE KEY or PRIVATE KEY", kb.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("certs: CA key: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("certs: the CA key is not the certificate's")
	}
	return &CA{cert: cert, key: key, notBefore: cert.NotBefore, notAfter: cert.NotAfter, issued: map[string]issued{}}, nil
}

// Cert is the CA's certificate.
func (ca *CA) Cert() *x509.Certificate { return ca.cert }

// CertPEM is the CA's certificate in PEM, for the peers that trust it.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// KeyPEM is the CA's private key in PEM (SEC 1).
func (ca *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(ca.key)
	if err != nil {
		return nil, fmt.Errorf("certs: CA key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// Pool is a pool holding the CA certificate alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Validity is the period of every leaf the CA issues.
func (ca *CA) Validity() (notBefore, notAfter time.Time) { return ca.notBefore, ca.notAfter }

// Certificate is Endpoint ID eid's certificate with its key, made at the
// first call and kept: client and server authentication, subjectAltName
// URN(eid), Subject CN eid, serial Serial(eid). Every call returns a new
// *tls.Certificate of the same certificate and key.
func (ca *CA) Certificate(eid string) (*tls.Certificate, error) {
	if eid == "" {
		return nil, errors.New("certs: empty endpoint ID")
	}
	ca.mu.Lock()
	e, ok := ca.issued[eid]
	ca.mu.Unlock()
	if !ok {
		var err error
		if e, err = ca.issue(eid); err != nil {
			return nil, err
		}
		ca.mu.Lock()
		if old, ok := ca.issued[eid]; ok {
			e = old // made meanwhile by another caller: one certificate per endpoint
		} else {
			ca.issued[eid] = e
		}
		ca.mu.Unlock()
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), e.d)
	if err != nil {
		return nil, fmt.Errorf("certs: key of %s: %w", eid, err)
	}
	leaf, err := x509.ParseCertificate(e.der)
	if err != nil {
		return nil, fmt.Errorf("certs: certificate of %s: %w", eid, err)
	}
	return &tls.Certificate{Certificate: [][]byte{e.der, ca.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// ServerCertificate is a new certificate for a controller or broker
// that serves TLS as Endpoint ID eid (empty: none) on hosts (DNS names
// or IP addresses, which clients check), not kept.
func (ca *CA) ServerCertificate(eid string, hosts ...string) (*tls.Certificate, error) {
	if len(hosts) == 0 {
		return nil, errors.New("certs: a server certificate needs a host name or address")
	}
	e, err := ca.issueFor(eid, hosts)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), e.d)
	if err != nil {
		return nil, fmt.Errorf("certs: key of %s: %w", eid, err)
	}
	leaf, err := x509.ParseCertificate(e.der)
	if err != nil {
		return nil, fmt.Errorf("certs: certificate of %s: %w", eid, err)
	}
	return &tls.Certificate{Certificate: [][]byte{e.der, ca.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

func (ca *CA) issue(eid string) (issued, error) { return ca.issueFor(eid, nil) }

func (ca *CA) issueFor(eid string, hosts []string) (issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return issued{}, fmt.Errorf("certs: key of %s: %w", eid, err)
	}
	d, err := key.Bytes()
	if err != nil {
		return issued{}, fmt.Errorf("certs: key of %s: %w", eid, err)
	}
	tmpl := &x509.Certificate{SerialNumber: Serial(eid), Subject: pkix.Name{CommonName: eid},
		NotBefore: ca.notBefore, NotAfter: ca.notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}
	if eid != "" {
		tmpl.URIs = []*url.URL{URN(eid)}
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if hosts != nil { // a server's: a serial of its own
		tmpl.SerialNumber = Serial(eid + "\x00" + strings.Join(hosts, ","))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return issued{}, fmt.Errorf("certs: certificate of %s: %w", eid, err)
	}
	return issued{der: der, d: d}, nil
}

// Issued is the number of certificates made so far.
func (ca *CA) Issued() int {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return len(ca.issued)
}
