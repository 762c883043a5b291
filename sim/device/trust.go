package device

import (
	"fmt"
	"time"

	"brickyard/usp/dm"
	"brickyard/usp/path"
)

// The device's access control and identity: TR-181's
// Device.LocalAgent.ControllerTrust. (enforced by the data model, usp/dm),
// its factory roles, the policy for Controllers it does not know, and
// Device.LocalAgent.Certificate., the certificates it holds.

// Paths of the trust objects.
const (
	pathTrust     = "Device.LocalAgent.ControllerTrust."
	pathRole      = pathTrust + "Role."
	pathCert      = "Device.LocalAgent.Certificate."
	pathUntrusted = pathTrust + "UntrustedRole"
)

// The factory roles: Role.1 grants everything (the factory Controller's
// AssignedRole), Role.2 is what an untrusted Controller may do: read
// Device.DeviceInfo. and nothing else, receive no notifications, run
// nothing.
const (
	RoleFullAccess = pathRole + "1"
	RoleUntrusted  = pathRole + "2"
)

// UnknownPolicy is what the device does with a Record from a Controller
// it has no enabled Controller row (or no role) for, as TR-369 allows.
type UnknownPolicy string

const (
	// RefuseUnknown (the default) answers every request of such a
	// Controller with Error 7006: ControllerTrust.UntrustedRole is empty.
	RefuseUnknown UnknownPolicy = "refuse"
	// UntrustedUnknown serves it with the Untrusted role (Role.2):
	// UntrustedRole names it.
	UntrustedUnknown UnknownPolicy = "untrusted"
)

// CheckUnknownPolicy checks a policy's name ("" is the default).
func CheckUnknownPolicy(p UnknownPolicy) error {
	switch p {
	case "", RefuseUnknown, UntrustedUnknown:
		return nil
	}
	return fmt.Errorf("unknown-controller policy %q: want %q or %q", p, RefuseUnknown, UntrustedUnknown)
}

// Certificate describes the certificate a fleet's CA issued the device
// for its MTPs, as Device.LocalAgent.Certificate.1 shows it. The fields
// the devices of a fleet share are here; those of one device come from
// its Endpoint ID: Subject "CN=<EndpointID>", SubjectAlt
// "urn:bbf:usp:id:<EndpointID>" (R-SEC.0a) and SerialNumber(EndpointID).
// A fleet passes one *Certificate to all its devices.
type Certificate struct {
	Issuer             string    // the CA's subject, "CN=brickyard fleet CA 1a2b"
	NotBefore          time.Time // validity, as the CA issues every certificate of the run
	NotAfter           time.Time
	SignatureAlgorithm string                  // "ECDSA-SHA256"
	SerialNumber       func(eid string) string // the certificate's serial number, hex with colons
}

// declareTrust adds ControllerTrust and the Certificate table to the
// device's schema.
func declareTrust(b *dm.Builder) {
	b.ControllerTrust(pathTrust, "Device.LocalAgent.Controller.{i}.")
	declareE2E(b)
	la := b.Object("Device.LocalAgent.")
	la.Uint("CertificateNumberOfEntries")
	c := la.Object("Certificate.{i}.").Keys("Alias").Keys("SerialNumber", "Issuer")
	c.String("Alias").WriteOnce().MaxLen(64)
	c.Bool("Enable").Writable().Default("true")
	c.DateTime("LastModif").Getter(func(x dm.Ctx) string { return certTime(dev(x), func(c *Certificate) time.Time { return c.NotBefore }) })
	c.String("SerialNumber").Getter(func(x dm.Ctx) string {
		d := dev(x)
		if d.cfg.Cert == nil || d.cfg.Cert.SerialNumber == nil {
			return ""
		}
		return d.cfg.Cert.SerialNumber(d.cfg.EndpointID)
	})
	c.String("Issuer").Getter(func(x dm.Ctx) string { return certString(dev(x), func(c *Certificate) string { return c.Issuer }) })
	c.DateTime("NotBefore").Getter(func(x dm.Ctx) string { return certTime(dev(x), func(c *Certificate) time.Time { return c.NotBefore }) })
	c.DateTime("NotAfter").Getter(func(x dm.Ctx) string { return certTime(dev(x), func(c *Certificate) time.Time { return c.NotAfter }) })
	c.String("Subject").Getter(func(x dm.Ctx) string {
		return certString(dev(x), func(*Certificate) string { return "CN=" + dev(x).cfg.EndpointID })
	})
	c.List("SubjectAlt", path.String).Getter(func(x dm.Ctx) string {
		return certString(dev(x), func(*Certificate) string { return "urn:bbf:usp:id:" + dev(x).cfg.EndpointID })
	})
	c.String("SignatureAlgorithm").Getter(func(x dm.Ctx) string {
		return certString(dev(x), func(c *Certificate) string { return c.SignatureAlgorithm })
	})
}

func certString(d *Device, f func(*Certificate) string) string {
	if d.cfg.Cert == nil {
		return ""
	}
	return f(d.cfg.Cert)
}

func certTime(d *Device, f func(*Certificate) time.Time) string {
	if d.cfg.Cert == nil {
		return "0001-01-01T00:00:00Z"
	}
	return f(d.cfg.Cert).UTC().Format(time.RFC3339)
}

// factoryTrust gives the data model its factory roles, the factory
// Controller's role, the unknown-controller policy and the certificate.
func (d *Device) factoryTrust(now time.Time) {
	all := map[string]string{"Param": "rwxn", "Obj": "rwxn", "InstantiatedObj": "rwxn", "CommandEvent": "rwxn", "Enable": "true"}
	d.m.AddRow(pathRole, 1, map[string]string{"Name": "FullAccess", "Enable": "true"}, now)
	d.m.AddRow(RoleFullAccess+".Permission.", 1, with(all, "Order", "1", "Targets", "Device."), now)
	d.m.AddRow(pathRole, 2, map[string]string{"Name": "Untrusted", "Enable": "true"}, now)
	read := map[string]string{"Param": "r---", "Obj": "r---", "InstantiatedObj": "r---", "CommandEvent": "r---", "Enable": "true"}
	d.m.AddRow(RoleUntrusted+".Permission.", 1, with(read, "Order", "1", "Targets", "Device.DeviceInfo."), now)
	if d.cfg.Unknown() == UntrustedUnknown {
		d.setValue(now, pathUntrusted, RoleUntrusted)
	}
	if d.cfg.Cert != nil {
		d.m.AddRow(pathCert, 1, nil, now)
	}
}

// with returns a copy of m with the key/value pairs kv set.
func with(m map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
