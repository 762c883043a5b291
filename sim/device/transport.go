package device

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"brickyard/usp/dm"
)

// Transport is where a device's factory data model says its controller
// is: the values the MTP objects (Device.LocalAgent.MTP.{i},
// Controller.{i}.MTP.{i}, Device.MQTT.Client.{i}, Device.STOMP.Connection.{i})
// hold out of the factory. A fleet shares one Transport among all its
// devices: "{eid}" in a topic, destination, path or client ID stands for
// the device's Endpoint ID, "{ctrl}" for its controller's. Zero fields
// read as TR-181's defaults.
type Transport struct {
	Protocol string // "WebSocket", "MQTT" or "STOMP"; default Config.MTP
	Host     string // the broker (MQTT, STOMP) or the controller (WebSocket)
	Port     uint32 // default 1883 (MQTT), 61613 (STOMP), 443 (WebSocket)
	Encrypt  bool   // TLS (MQTT TransportProtocol TLS, STOMP and WebSocket EnableEncryption)

	// MQTT.
	MQTTVersion     string // "5.0" or "3.1.1"; default "5.0"
	ClientID        string // MQTT.Client.{i}.ClientID; may be empty (the broker assigns one)
	AgentTopic      string // the agent's own topic (ResponseTopicConfigured, Subscription.1.Topic); default "usp/agent/{eid}"
	ControllerTopic string // Controller.{i}.MTP.{i}.MQTT.Topic; default "usp/controller/{ctrl}"
	KeepAlive       uint32 // MQTT KeepAliveTime, seconds; default 60

	// STOMP.
	VirtualHost    string
	AgentDest      string // LocalAgent.MTP.{i}.STOMP.Destination; default "/queue/agent.{eid}"
	ControllerDest string // Controller.{i}.MTP.{i}.STOMP.Destination; default "/queue/controller.{ctrl}"
	Heartbeat      uint32 // STOMP Outgoing/IncomingHeartbeat, milliseconds; 0: none

	// WebSocket.
	Path string // Controller.{i}.MTP.{i}.WebSocket.Path; default "/usp"
}

// Target is where the device's data model says its session must go now:
// the factory Transport, as controllers have changed it since through the
// MTP objects. The shell reads it (Device.Target) each time it opens the
// session; Output.Redial says it changed.
type Target struct {
	Protocol string
	Host     string
	Port     uint32
	Encrypt  bool

	// MQTT: the client (Device.MQTT.Client.{i} of the agent's MTP), the
	// agent's own response topic (ResponseTopicConfigured), the topic
	// filters of the client's enabled Subscription rows (the response
	// topic among them when configured so), and the controller's topic.
	MQTTVersion     string
	ClientID        string
	KeepAlive       uint32
	AgentTopic      string
	Subscriptions   []string
	ControllerTopic string

	// STOMP: the agent's and the controller's destinations, the virtual host.
	VirtualHost    string
	AgentDest      string
	ControllerDest string

	// WebSocket: the controller's path (Host and Port above).
	Path string
}

// String is the target as logs show it.
func (t Target) String() string {
	switch t.Protocol {
	case "MQTT":
		return fmt.Sprintf("MQTT %s:%d client %q agent topic %q subscriptions %v controller topic %q", t.Host, t.Port, t.ClientID, t.AgentTopic, t.Subscriptions, t.ControllerTopic)
	case "STOMP":
		return fmt.Sprintf("STOMP %s:%d agent %q controller %q", t.Host, t.Port, t.AgentDest, t.ControllerDest)
	}
	return fmt.Sprintf("%s %s:%d%s", t.Protocol, t.Host, t.Port, t.Path)
}

// fill gives a Transport its defaults for protocol p.
func (t Transport) fill(p string) Transport {
	if t.Protocol == "" {
		t.Protocol = p
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	switch t.Protocol {
	case "MQTT":
		if t.Port == 0 {
			t.Port = 1883
		}
		if t.KeepAlive == 0 {
			t.KeepAlive = 60
		}
		def(&t.MQTTVersion, "5.0")
		def(&t.AgentTopic, "usp/agent/{eid}")
		def(&t.ControllerTopic, "usp/controller/{ctrl}")
	case "STOMP":
		if t.Port == 0 {
			t.Port = 61613
		}
		def(&t.AgentDest, "/queue/agent.{eid}")
		def(&t.ControllerDest, "/queue/controller.{ctrl}")
	default:
		if t.Port == 0 {
			t.Port = 443
		}
		def(&t.Path, "/usp")
	}
	def(&t.Host, "127.0.0.1")
	return t
}

func (t *Transport) check() error {
	switch t.Protocol {
	case "MQTT", "STOMP", "WebSocket", "InProcess":
	default:
		return fmt.Errorf("device: Transport.Protocol %q: want WebSocket, MQTT or STOMP", t.Protocol)
	}
	switch {
	case t.Port > 65535:
		return fmt.Errorf("device: Transport.Port %d: want 1 to 65535", t.Port)
	case t.MQTTVersion != "" && t.MQTTVersion != "5.0" && t.MQTTVersion != "3.1.1":
		return fmt.Errorf("device: Transport.MQTTVersion %q: want 5.0 or 3.1.1", t.MQTTVersion)
	case t.KeepAlive > 65535:
		return fmt.Errorf("device: Transport.KeepAlive %d: want at most 65535 s", t.KeepAlive)
	}
	return nil
}

// expand replaces {eid} and {ctrl} in a template.
func (d *Device) expand(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	return strings.NewReplacer("{eid}", d.cfg.EndpointID, "{ctrl}", d.cfg.ControllerID()).Replace(s)
}

// Factory rows of the MTP objects.
const (
	pathMQTTClient = "Device.MQTT.Client."
	pathSTOMPConn  = "Device.STOMP.Connection."
	refMQTTClient  = "Device.MQTT.Client.1"
	refSTOMPConn   = "Device.STOMP.Connection.1"
)

// factoryMTP adds the factory rows of the agent's MTP, its controller's
// and the client or connection they use. Their values are Templates of
// the schema (the fleet's Transport, per device): none is stored.
func (d *Device) factoryMTP(now time.Time) {
	p := d.cfg.tr.Protocol
	d.m.AddRow(pathAgentMTP, 1, map[string]string{"Enable": "true", "Protocol": p}, now)
	d.m.AddRow(pathController+"1.MTP.", 1, map[string]string{"Enable": "true", "Protocol": p}, now)
	switch p {
	case "MQTT":
		d.m.AddRow(pathMQTTClient, 1, map[string]string{"Enable": "true"}, now)
		d.m.AddRow(pathMQTTClient+"1.Subscription.", 1, map[string]string{"Enable": "true"}, now)
	case "STOMP":
		d.m.AddRow(pathSTOMPConn, 1, map[string]string{"Enable": "true"}, now)
	}
}

// factoryRow reports whether the Ctx addresses a factory row of the MTP
// objects: every instance number along its path is 1.
func factoryRow(c dm.Ctx) bool {
	for _, n := range c.Nums() {
		if n != 1 {
			return false
		}
	}
	return true
}

// tmpl is a Template that reads the fleet's Transport on factory rows
// and "" on rows controllers added; tmplOr reads def on those.
func tmpl(f func(d *Device) string) dm.Getter { return tmplOr("", f) }

func tmplOr(def string, f func(d *Device) string) dm.Getter {
	return func(c dm.Ctx) string {
		if !factoryRow(c) {
			return def
		}
		return f(dev(c))
	}
}

func utoa(u uint32) string { return strconv.FormatUint(uint64(u), 10) }

// Target reads where the session must go from the data model: the first
// enabled Device.LocalAgent.MTP row of the fleet's protocol, the first
// enabled MTP row of that protocol (lowest Order) of the Controller row
// whose EndpointID is the device's controller, and the MQTT client or
// STOMP connection the agent's MTP row references. A device that is not
// on reads the factory Transport.
func (d *Device) Target(now time.Time) Target {
	if d.state != On || d.m == nil {
		return d.factoryTarget()
	}
	return d.target(now)
}

// Moved reports how the session's Target differs from the factory's:
// the fields controllers changed, every other one zero (Subscriptions:
// all of them, when they differ). A shell whose Dialer is configured as
// the factory Transport says dials with these overrides only; moved is
// false when there are none.
func (d *Device) Moved(now time.Time) (t Target, moved bool) {
	f, c := d.factoryTarget(), d.Target(now)
	if targetsEqual(f, c) {
		return Target{}, false
	}
	t.Protocol = c.Protocol
	pick := func(dst *string, fv, cv string) {
		if fv != cv {
			*dst = cv
		}
	}
	pick(&t.Host, f.Host, c.Host)
	if f.Port != c.Port {
		t.Port = c.Port
	}
	t.Encrypt = c.Encrypt
	pick(&t.MQTTVersion, f.MQTTVersion, c.MQTTVersion)
	pick(&t.ClientID, f.ClientID, c.ClientID)
	if f.KeepAlive != c.KeepAlive {
		t.KeepAlive = c.KeepAlive
	}
	pick(&t.AgentTopic, f.AgentTopic, c.AgentTopic)
	pick(&t.ControllerTopic, f.ControllerTopic, c.ControllerTopic)
	if !slices.Equal(f.Subscriptions, c.Subscriptions) {
		t.Subscriptions = c.Subscriptions
	}
	pick(&t.VirtualHost, f.VirtualHost, c.VirtualHost)
	pick(&t.AgentDest, f.AgentDest, c.AgentDest)
	pick(&t.ControllerDest, f.ControllerDest, c.ControllerDest)
	pick(&t.Path, f.Path, c.Path)
	return t, true
}

// factoryTarget is the Target of the factory Transport.
func (d *Device) factoryTarget() Target {
	tr := d.cfg.tr
	t := Target{Protocol: tr.Protocol, Host: tr.Host, Port: tr.Port, Encrypt: tr.Encrypt,
		MQTTVersion: tr.MQTTVersion, ClientID: d.expand(tr.ClientID), KeepAlive: tr.KeepAlive,
		AgentTopic: d.expand(tr.AgentTopic), ControllerTopic: d.expand(tr.ControllerTopic),
		VirtualHost: tr.VirtualHost, AgentDest: d.expand(tr.AgentDest), ControllerDest: d.expand(tr.ControllerDest),
		Path: d.expand(tr.Path)}
	if t.AgentTopic != "" && t.Protocol == "MQTT" {
		t.Subscriptions = []string{t.AgentTopic}
	}
	return t
}

func (d *Device) target(now time.Time) Target {
	t := d.factoryTarget()
	get := func(p string) string { v, _ := d.m.Value(p, now); return v }
	agent := d.firstMTP(pathAgentMTP, t.Protocol, now)
	ctrl := ""
	if row := d.controllerRow(d.cfg.ControllerID(), now); row != "" {
		ctrl = d.firstMTP(row+"MTP.", t.Protocol, now)
	}
	switch t.Protocol {
	case "MQTT":
		if agent != "" {
			t.AgentTopic = get(agent + "MQTT.ResponseTopicConfigured")
			if cl := get(agent + "MQTT.Reference"); cl != "" {
				cl += "."
				if h := get(cl + "BrokerAddress"); h != "" {
					t.Host = h
				}
				if n, err := strconv.ParseUint(get(cl+"BrokerPort"), 10, 32); err == nil {
					t.Port = uint32(n)
				}
				t.Encrypt = get(cl+"TransportProtocol") == "TLS"
				if v := get(cl + "ProtocolVersion"); v != "" {
					t.MQTTVersion = v
				}
				t.ClientID = get(cl + "ClientID")
				if n, err := strconv.ParseUint(get(cl+"KeepAliveTime"), 10, 32); err == nil {
					t.KeepAlive = uint32(n)
				}
				t.Subscriptions = nil
				subs, _ := d.m.Instances(cl+"Subscription.", now)
				for _, s := range subs {
					if get(s+"Enable") == "true" {
						if f := get(s + "Topic"); f != "" && !slices.Contains(t.Subscriptions, f) {
							t.Subscriptions = append(t.Subscriptions, f)
						}
					}
				}
			}
		}
		if ctrl != "" {
			t.ControllerTopic = get(ctrl + "MQTT.Topic")
		}
	case "STOMP":
		if agent != "" {
			t.AgentDest = get(agent + "STOMP.Destination")
			if cn := get(agent + "STOMP.Reference"); cn != "" {
				cn += "."
				if h := get(cn + "Host"); h != "" {
					t.Host = h
				}
				if n, err := strconv.ParseUint(get(cn+"Port"), 10, 32); err == nil {
					t.Port = uint32(n)
				}
				t.Encrypt = get(cn+"EnableEncryption") == "true"
				t.VirtualHost = get(cn + "VirtualHost")
			}
		}
		if ctrl != "" {
			t.ControllerDest = get(ctrl + "STOMP.Destination")
		}
	case "WebSocket":
		if ctrl != "" {
			if h := get(ctrl + "WebSocket.Host"); h != "" {
				t.Host = h
			}
			if n, err := strconv.ParseUint(get(ctrl+"WebSocket.Port"), 10, 32); err == nil && n > 0 {
				t.Port = uint32(n)
			}
			t.Path = get(ctrl + "WebSocket.Path")
			t.Encrypt = get(ctrl+"WebSocket.EnableEncryption") == "true"
		}
	}
	return t
}

// firstMTP is the first enabled row of the MTP table at table whose
// Protocol is p (for a Controller's table, the lowest Order first), or "".
func (d *Device) firstMTP(table, p string, now time.Time) string {
	rows, _ := d.m.Instances(table, now)
	best, bestOrder := "", uint64(0)
	for _, r := range rows {
		if v, _ := d.m.Value(r+"Enable", now); v != "true" {
			continue
		}
		if v, _ := d.m.Value(r+"Protocol", now); v != p {
			continue
		}
		order := uint64(0)
		if v, err := d.m.Value(r+"Order", now); err == nil {
			order, _ = strconv.ParseUint(v, 10, 32)
		}
		if best == "" || order < bestOrder {
			best, bestOrder = r, order
		}
	}
	return best
}

// retarget is the Setter of every MTP parameter that moves the session:
// once the request that changed it is answered, the device closes its
// session and opens it again where the data model now says
// (Output.Redial). Writes that leave the Target as it was change nothing.
func retarget(c dm.Ctx, _ string) error {
	dev(c).retarget = true
	return nil
}

// retargetRows is the row hook of the MQTT Subscription table: a
// controller's Add or Delete moves the session like a Set does.
func retargetRows(c dm.Ctx, _ bool) { dev(c).retarget = true }

// redial closes the session and asks for a new one if the request just
// handled changed where the session goes.
func (d *Device) redial(now time.Time, before Target) {
	d.retarget = false
	after := d.Target(now)
	if !d.conn || targetsEqual(before, after) {
		return
	}
	d.event(now, EvRetarget, "%s", after)
	if b, err := d.codec().Marshal(d.codec().Disconnect(d.cfg.ControllerID(), "MTP configuration changed", 7105)); err == nil {
		d.out.Records = append(d.out.Records, Record{To: d.cfg.ControllerID(), Data: b})
	}
	d.conn = false
	d.out.Disconnect = true
	d.out.Redial = true
	d.out.Connect = true
}

func targetsEqual(a, b Target) bool {
	return slices.Equal(a.Subscriptions, b.Subscriptions) && func() bool {
		a.Subscriptions, b.Subscriptions = nil, nil
		return a.Protocol == b.Protocol && a.Host == b.Host && a.Port == b.Port && a.Encrypt == b.Encrypt &&
			a.MQTTVersion == b.MQTTVersion && a.ClientID == b.ClientID && a.KeepAlive == b.KeepAlive &&
			a.AgentTopic == b.AgentTopic && a.ControllerTopic == b.ControllerTopic && a.VirtualHost == b.VirtualHost &&
			a.AgentDest == b.AgentDest && a.ControllerDest == b.ControllerDest && a.Path == b.Path
	}()
}
