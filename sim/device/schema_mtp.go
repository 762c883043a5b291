package device

import (
	"brickyard/usp/dm"
	"brickyard/usp/path"
)

// The MTP objects of TR-181 (Device:2.19): the agent's MTPs, each
// controller's MTPs, the MQTT clients and the STOMP connections. Factory
// rows read the fleet's Transport through Templates (nothing stored per
// device); a controller's write to a parameter that says where the
// session goes is stored and moves the session (retarget).

func declareAgentMTP(la *dm.Object) {
	mtp := la.Object("MTP.{i}.").Access(dm.AddDelete).Keys("Alias").Persistent()
	mtp.String("Alias").WriteOnce().MaxLen(64)
	mtp.Bool("Enable").Writable().Setter(retarget)
	mtp.String("Protocol").Writable().Enum("WebSocket", "MQTT", "STOMP", "UDS").Setter(retarget)
	mtp.String("Status").Getter(mtpStatus)
	mtp.Bool("EnableMDNS").Writable().Default("true")

	mq := mtp.Object("MQTT.")
	mq.String("Reference").Writable().RefTo("Device.MQTT.Client.{i}.").Setter(retarget).
		Template(tmpl(func(d *Device) string { return ifProto(d, "MQTT", refMQTTClient) }))
	mq.String("ResponseTopicConfigured").Writable().MaxLen(65535).Validator(checkTopic).Setter(retarget).
		Template(tmpl(func(d *Device) string { return ifProto(d, "MQTT", d.expand(d.cfg.tr.AgentTopic)) }))
	mq.String("ResponseTopicDiscovered").Getter(func(c dm.Ctx) string { return "" })
	mq.Uint("PublishQoS").Writable().Range(0, 2).Template(tmplOr("0", func(d *Device) string { return "1" }))

	st := mtp.Object("STOMP.")
	st.String("Reference").Writable().RefTo("Device.STOMP.Connection.{i}.").Setter(retarget).
		Template(tmpl(func(d *Device) string { return ifProto(d, "STOMP", refSTOMPConn) }))
	st.String("Destination").Writable().MaxLen(256).Setter(retarget).
		Template(tmpl(func(d *Device) string { return ifProto(d, "STOMP", d.expand(d.cfg.tr.AgentDest)) }))
	st.String("DestinationFromServer").Getter(func(c dm.Ctx) string { return "" })

	// The agent as a WebSocket server: brickyard agents only dial out,
	// so these are reported as a real agent's defaults and stored.
	ws := mtp.Object("WebSocket.")
	ws.List("Interfaces", path.String).Writable()
	ws.Uint("Port").Writable().Range(1, 65535).Default("8443")
	ws.String("Path").Writable().MaxLen(256)
	ws.Bool("EnableEncryption").Writable().Default("true")
	ws.Uint("KeepAliveInterval").Writable().Min(1).Default("60")
}

func declareControllerMTP(ctl *dm.Object) {
	cm := ctl.Object("MTP.{i}.").Access(dm.AddDelete).Keys("Alias").Keys("Protocol").Persistent()
	cm.String("Alias").WriteOnce().MaxLen(64)
	cm.Bool("Enable").Writable().Setter(retarget)
	cm.String("Protocol").Writable().MaxLen(64).Setter(retarget)
	cm.Uint("Order").Writable().Min(1).Default("1").Setter(retarget)

	mq := cm.Object("MQTT.")
	mq.String("Topic").Writable().MaxLen(65535).Validator(checkTopic).Setter(retarget).
		Template(tmpl(func(d *Device) string { return ifProto(d, "MQTT", d.expand(d.cfg.tr.ControllerTopic)) }))
	mq.Bool("PublishRetainResponse").Writable()
	mq.Bool("PublishRetainNotify").Writable()
	mq.String("AgentMTPReference").Writable().RefTo("Device.LocalAgent.MTP.{i}.").
		Template(tmpl(func(d *Device) string { return ifProto(d, "MQTT", "Device.LocalAgent.MTP.1") }))

	st := cm.Object("STOMP.")
	st.String("Reference").Writable().RefTo("Device.STOMP.Connection.{i}.").
		Template(tmpl(func(d *Device) string { return ifProto(d, "STOMP", refSTOMPConn) }))
	st.String("Destination").Writable().MaxLen(256).Setter(retarget).
		Template(tmpl(func(d *Device) string { return ifProto(d, "STOMP", d.expand(d.cfg.tr.ControllerDest)) }))

	ws := cm.Object("WebSocket.")
	ws.String("Host").Writable().MaxLen(256).Setter(retarget).
		Template(tmpl(func(d *Device) string { return ifProto(d, "WebSocket", d.cfg.tr.Host) }))
	ws.Uint("Port").Writable().Range(1, 65535).Default("443").Setter(retarget).
		Template(tmplOr("443", func(d *Device) string { return ifProto(d, "WebSocket", utoa(d.cfg.tr.Port)) }))
	ws.String("Path").Writable().MaxLen(256).Setter(retarget).
		Template(tmpl(func(d *Device) string { return ifProto(d, "WebSocket", d.expand(d.cfg.tr.Path)) }))
	ws.Bool("EnableEncryption").Writable().Setter(retarget).
		Template(func(c dm.Ctx) string { return boolStr(!factoryRow(c) || dev(c).cfg.tr.Encrypt) })
	ws.Uint("KeepAliveInterval").Writable().Min(1).Default("60")
	ws.Uint("CurrentRetryCount").Getter(func(c dm.Ctx) string { return utoa(uint32(dev(c).retries)) })
	ws.Uint("SessionRetryMinimumWaitInterval").Writable().Range(1, 65535).Default("5").
		Template(func(c dm.Ctx) string { return utoa(uint32(dev(c).cfg.RetryMinimumWait.Seconds())) })
	ws.Uint("SessionRetryIntervalMultiplier").Writable().Range(1000, 65535).Default("2000").
		Template(func(c dm.Ctx) string { return utoa(dev(c).cfg.RetryIntervalMultiplier) })
}

// declareMQTT is Device.MQTT.: the clients the agent's MQTT MTPs use.
func declareMQTT(b *dm.Builder) {
	mq := b.Object("Device.MQTT.")
	mq.Uint("ClientNumberOfEntries")
	cap := mq.Object("Capabilities.")
	cap.List("ProtocolVersionsSupported", path.String).Default("3.1.1,5.0")
	cap.List("TransportProtocolSupported", path.String).Default("TCP/IP,TLS")
	cap.Uint("MaxNumberOfClientSubscriptions").Default("32")

	cl := mq.Object("Client.{i}.").Access(dm.AddDelete).Keys("Alias").Persistent()
	cl.String("Alias").WriteOnce().MaxLen(64)
	cl.String("Name").Writable().MaxLen(64).Template(tmpl(func(d *Device) string { return "usp-agent" }))
	cl.Bool("Enable").Writable().Setter(retarget)
	cl.String("Status").Getter(mqttClientStatus)
	cl.String("ProtocolVersion").Writable().Enum("3.1", "3.1.1", "5.0").Setter(retarget).
		Template(tmpl(func(d *Device) string { return d.cfg.tr.MQTTVersion }))
	cl.String("BrokerAddress").Writable().MaxLen(256).Setter(retarget).
		Template(tmpl(func(d *Device) string { return d.cfg.tr.Host }))
	cl.Uint("BrokerPort").Writable().Range(1, 65535).Default("1883").Setter(retarget).
		Template(tmplOr("1883", func(d *Device) string { return utoa(d.cfg.tr.Port) }))
	cl.String("TransportProtocol").Writable().Enum("TCP/IP", "TLS").Setter(retarget).
		Template(func(c dm.Ctx) string {
			if factoryRow(c) && dev(c).cfg.tr.Encrypt {
				return "TLS"
			}
			return "TCP/IP"
		})
	cl.Bool("CleanSession").Writable().Default("true")
	cl.Bool("CleanStart").Writable().Default("true")
	cl.Uint("KeepAliveTime").Writable().Range(0, 65535).Default("60").Setter(retarget).
		Template(tmplOr("60", func(d *Device) string { return utoa(d.cfg.tr.KeepAlive) }))
	cl.Bool("RequestResponseInfo").Writable().Default("true")
	cl.String("ClientID").Writable().MaxLen(65535).Setter(retarget).
		Template(tmpl(func(d *Device) string { return d.expand(d.cfg.tr.ClientID) }))
	cl.String("Username").Writable().MaxLen(256)
	cl.String("Password").Writable().MaxLen(256).Secret()
	cl.Uint("ConnectRetryTime").Writable().Min(1).Default("5")
	cl.Uint("ConnectRetryIntervalMultiplier").Writable().Range(1000, 65535).Default("2000")
	cl.Uint("ConnectRetryMaxInterval").Writable().Min(1).Default("30720")
	cl.String("ResponseInformation").Getter(func(c dm.Ctx) string { return "" })
	cl.Uint("SubscriptionNumberOfEntries")
	sub := cl.Object("Subscription.{i}.").Access(dm.AddDelete).Keys("Alias").Keys("Topic").Persistent().OnRows(retargetRows)
	sub.String("Alias").WriteOnce().MaxLen(64)
	sub.Bool("Enable").Writable().Setter(retarget)
	sub.String("Status").Getter(mqttSubStatus)
	sub.String("Topic").Writable().MaxLen(65535).Validator(checkFilter).Setter(retarget).
		Template(tmpl(func(d *Device) string { return d.expand(d.cfg.tr.AgentTopic) }))
	sub.Uint("QoS").Writable().Range(0, 2).Template(tmplOr("0", func(d *Device) string { return "1" }))
	st := cl.Object("Stats.")
	st.DateTime("BrokerConnectionEstablished").Getter(func(c dm.Ctx) string { return dev(c).connSince() })
}

// declareSTOMP is Device.STOMP.: the connections the agent's STOMP MTPs use.
func declareSTOMP(b *dm.Builder) {
	sp := b.Object("Device.STOMP.")
	sp.Uint("ConnectionNumberOfEntries")
	cn := sp.Object("Connection.{i}.").Access(dm.AddDelete).Keys("Alias").Persistent()
	cn.String("Alias").WriteOnce().MaxLen(64)
	cn.Bool("Enable").Writable().Setter(retarget)
	cn.String("Status").Getter(stompStatus)
	cn.DateTime("LastChangeDate").Getter(func(c dm.Ctx) string { return dev(c).connSince() })
	cn.String("Host").Writable().MaxLen(256).Setter(retarget).
		Template(tmpl(func(d *Device) string { return d.cfg.tr.Host }))
	cn.Uint("Port").Writable().Range(1, 65535).Default("61613").Setter(retarget).
		Template(tmplOr("61613", func(d *Device) string { return utoa(d.cfg.tr.Port) }))
	cn.String("Username").Writable().MaxLen(256)
	cn.String("Password").Writable().MaxLen(256).Secret()
	cn.String("VirtualHost").Writable().MaxLen(256).Setter(retarget).
		Template(tmpl(func(d *Device) string { return d.cfg.tr.VirtualHost }))
	cn.Bool("EnableHeartbeats").Writable().Template(tmplOr("false", func(d *Device) string { return boolStr(d.cfg.tr.Heartbeat > 0) }))
	cn.Uint("OutgoingHeartbeat").Writable().Template(tmplOr("0", func(d *Device) string { return utoa(d.cfg.tr.Heartbeat) }))
	cn.Uint("IncomingHeartbeat").Writable().Template(tmplOr("0", func(d *Device) string { return utoa(d.cfg.tr.Heartbeat) }))
	cn.Uint("ServerRetryInitialInterval").Writable().Range(1, 65535).Default("60")
	cn.Uint("ServerRetryIntervalMultiplier").Writable().Range(1000, 65535).Default("2000")
	cn.Uint("ServerRetryMaxInterval").Writable().Min(1).Default("30720")
	cn.Bool("EnableEncryption").Writable().Setter(retarget).
		Template(func(c dm.Ctx) string { return boolStr(!factoryRow(c) || dev(c).cfg.tr.Encrypt) })
}

func ifProto(d *Device, p, v string) string {
	if d.cfg.tr.Protocol != p {
		return ""
	}
	return v
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
