package device

import (
	"strconv"
	"time"

	"brickyard/usp/dm"
	"brickyard/usp/path"
)

// The rest of the default model: what a controller's inventory pages
// read besides the firmware. Values are computed from the device (its
// seed, its clock, its usage) or are schema defaults: a device stores
// nothing for them until a controller writes one.

func declareInfoStatus(di *dm.Object) {
	di.String("ModelNumber").Getter(func(c dm.Ctx) string { return dev(c).cfg.ModelName() })
	di.String("Description").Getter(func(c dm.Ctx) string {
		return "Brickyard simulated " + dev(c).cfg.ModelName() + " (" + dev(c).board.ID + ")"
	})
	di.String("ProvisioningCode").Writable().Persistent().MaxLen(64)
	di.String("FriendlyName").Writable().Persistent().MaxLen(64).
		Template(func(c dm.Ctx) string { return FriendlyName(dev(c).cfg.ModelName(), dev(c).cfg.SerialNumber) })
	di.String("HostName").Writable().Persistent().MaxLen(255).
		Template(func(c dm.Ctx) string { return hostName(dev(c).cfg.SerialNumber) })
	di.DateTime("FirstUseDate").Getter(func(c dm.Ctx) string { return dev(c).reported(time.Unix(dev(c).nv.firstUse, 0)) })
	di.Uint("VendorLogFileNumberOfEntries")
	di.Uint("LocationNumberOfEntries")

	ms := di.Object("MemoryStatus.")
	ms.Uint("Total").Default(strconv.Itoa(memTotalKiB))
	ms.Uint("Free").Getter(func(c dm.Ctx) string { return dev(c).memFree(c.Now) }).IgnoreValueChange()

	ps := di.Object("ProcessStatus.")
	ps.Uint("CPUUsage").Getter(func(c dm.Ctx) string { return dev(c).cpuUsage(c.Now) }).IgnoreValueChange()
	ps.Uint("ProcessNumberOfEntries")
	pr := ps.Object("Process.{i}.").Keys("PID")
	// The factory processes' values are the schema's, by instance number:
	// a device stores nothing for them.
	proc := func(f func(factoryProcess) string) dm.Getter {
		return func(c dm.Ctx) string {
			if n := c.Num(); n >= 1 && int(n) <= len(factoryProcesses) {
				return f(factoryProcesses[n-1])
			}
			return ""
		}
	}
	pr.Uint("PID").Template(proc(func(p factoryProcess) string { return strconv.Itoa(p.pid) }))
	pr.String("Command").MaxLen(256).Template(proc(func(p factoryProcess) string { return p.cmd }))
	pr.Uint("Size").Template(proc(func(p factoryProcess) string { return strconv.Itoa(p.size) }))
	pr.Uint("Priority").Range(0, 99).Template(proc(func(p factoryProcess) string { return strconv.Itoa(p.prio) }))
	pr.Uint("CPUTime").Getter(func(c dm.Ctx) string {
		// A process's share of the uptime, in ms.
		return strconv.FormatUint(uint64(dev(c).up(c.Now)*float64(c.Num())*7), 10)
	}).IgnoreValueChange()
	pr.String("State").Enum("Running", "Sleeping", "Stopped", "Idle", "Uninterruptible", "Zombie").Default("Sleeping")

	ts := di.Object("TemperatureStatus.")
	ts.Uint("TemperatureSensorNumberOfEntries")
	tsn := ts.Object("TemperatureSensor.{i}.").Keys("Alias")
	tsn.String("Alias").WriteOnce().MaxLen(64)
	tsn.Bool("Enable").Writable().Default("true")
	tsn.String("Status").Enum("Disabled", "Enabled", "Error").Getter(func(c dm.Ctx) string {
		if v, _ := c.Get("Enable"); v != "true" {
			return "Disabled"
		}
		return "Enabled"
	})
	tsn.DateTime("ResetTime").Getter(func(c dm.Ctx) string { return dev(c).reported(dev(c).bootAt) })
	tsn.String("Name").MaxLen(256).Default("SoC")
	tsn.Int("Value").Getter(func(c dm.Ctx) string { return strconv.Itoa(dev(c).temperature(c.Now)) }).IgnoreValueChange()
	tsn.DateTime("LastUpdate").Getter(func(c dm.Ctx) string { return dev(c).reported(c.Now.Truncate(time.Minute)) }).IgnoreValueChange()
	tsn.Int("MinValue").Getter(func(c dm.Ctx) string { return strconv.Itoa(dev(c).temperature(dev(c).bootAt)) })
	tsn.Int("MaxValue").Getter(func(c dm.Ctx) string {
		d := dev(c)
		return strconv.Itoa(max(d.temperature(c.Now), d.temperature(d.bootAt)))
	}).IgnoreValueChange()
	tsn.Int("LowAlarmValue").Writable().Default("-1")
	tsn.Int("HighAlarmValue").Writable().Default("-1")
	tsn.Uint("PollingInterval").Writable().Default("60")

	vl := di.Object("VendorLogFile.{i}.").Keys("Alias")
	vl.String("Alias").WriteOnce().MaxLen(64)
	vl.String("Name").MaxLen(64).Default("/var/log/messages")
	vl.Uint("MaximumSize").Default("65536")
	vl.Bool("Persistent").Default("true")

	loc := di.Object("Location.{i}.").Access(dm.AddDelete).Keys("Source", "ExternalSource").Persistent()
	loc.String("Source").Enum("GPS", "AGPS", "Manual", "External").Default("External")
	loc.DateTime("AcquiredTime").Template(func(c dm.Ctx) string { return dev(c).reported(dev(c).bootAt) })
	loc.String("ExternalSource").MaxLen(256)
	loc.String("ExternalProtocol").Enum("", "CWMP", "USP", "OMA-DM", "SNMP", "UPnP", "HELD", "DHCPv4", "DHCPv6", "LLDP-MED", "MLP", "Other").Default("USP")
	loc.String("DataObject").Writable().MaxLen(1200)
}

// declareTime is Device.Time.
func declareTime(b *dm.Builder) {
	t := b.Object("Device.Time.")
	t.Bool("Enable").Writable().Persistent().Default("true")
	t.String("Status").Enum("Disabled", "Unsynchronized", "Synchronized", "Error_FailedToSynchronize", "Error").
		Getter(func(c dm.Ctx) string {
			if v, _ := c.Model.Value("Device.Time.Enable", c.Now); v != "true" {
				return "Disabled"
			}
			return "Synchronized"
		})
	t.DateTime("CurrentLocalTime").Getter(func(c dm.Ctx) string { return dev(c).reported(c.Now) }).IgnoreValueChange()
	t.String("LocalTimeZone").Writable().Persistent().MaxLen(256).Default("UTC0")
}

// declareNetwork is Device.Ethernet. and Device.IP.: one Ethernet
// interface and the IP interface on it, with one IPv4 address, their
// counters moving with the device's usage.
func declareNetwork(b *dm.Builder) {
	stats := func(o *dm.Object, ip bool) {
		s := o.Object("Stats.")
		for _, c := range []struct {
			name string
			k    counterKind
		}{{"BytesSent", cBytesSent}, {"BytesReceived", cBytesRecv}, {"PacketsSent", cPacketsSent}, {"PacketsReceived", cPacketsRecv},
			{"ErrorsSent", cErrorsSent}, {"ErrorsReceived", cErrorsRecv}, {"DiscardPacketsSent", cDiscardSent}, {"DiscardPacketsReceived", cDiscardRecv}} {
			s.ULong(c.name).Getter(counterGetter(c.k, ip)).IgnoreValueChange()
		}
	}
	lastChange := func(c dm.Ctx) string { return strconv.FormatUint(uint64(dev(c).up(c.Now)), 10) }

	eth := b.Object("Device.Ethernet.")
	eth.Uint("InterfaceNumberOfEntries")
	ei := eth.Object("Interface.{i}.").Keys("Alias").Keys("Name")
	ei.String("Alias").WriteOnce().MaxLen(64)
	ei.Bool("Enable").Writable().Default("true")
	ei.String("Status").Enum("Up", "Down", "Unknown", "Dormant", "NotPresent", "LowerLayerDown", "Error").Getter(ifStatus)
	ei.String("Name").MaxLen(64).Default("eth0")
	ei.Uint("LastChange").Getter(lastChange).IgnoreValueChange()
	ei.Bool("Upstream").Default("true")
	ei.String("MACAddress").MaxLen(17).Getter(func(c dm.Ctx) string { return dev(c).macAddress() })
	ei.Int("MaxBitRate").Writable().Default("-1")
	ei.Uint("CurrentBitRate").Default("1000")
	ei.String("DuplexMode").Writable().Enum("Half", "Full", "Auto").Default("Auto")
	stats(ei, false)

	ip := b.Object("Device.IP.")
	ip.Bool("IPv4Capable").Default("true")
	ip.Bool("IPv4Enable").Writable().Default("true")
	ip.String("IPv4Status").Default("Enabled")
	ip.Uint("InterfaceNumberOfEntries")
	ii := ip.Object("Interface.{i}.").Access(dm.AddDelete).Keys("Alias").Keys("Name").Persistent()
	ii.String("Alias").WriteOnce().MaxLen(64)
	ii.Bool("Enable").Writable()
	ii.Bool("IPv4Enable").Writable().Default("true")
	ii.String("Status").Enum("Up", "Down", "Unknown", "Dormant", "NotPresent", "LowerLayerDown", "Error").Getter(ifStatus)
	ii.String("Name").MaxLen(64).Template(tmpl(func(*Device) string { return "wan" }))
	ii.Uint("LastChange").Getter(lastChange).IgnoreValueChange()
	ii.List("LowerLayers", path.String).Writable().MaxLen(1024).Template(tmpl(func(*Device) string { return "Device.Ethernet.Interface.1" }))
	ii.String("Type").Enum("Normal", "Loopback", "Tunnel", "Tunneled").Default("Normal")
	ii.Uint("IPv4AddressNumberOfEntries")
	a := ii.Object("IPv4Address.{i}.").Access(dm.AddDelete).Keys("Alias").Keys("IPAddress", "SubnetMask").Persistent()
	a.String("Alias").WriteOnce().MaxLen(64)
	a.Bool("Enable").Writable()
	a.String("Status").Enum("Disabled", "Enabled", "Error_Misconfigured", "Error").Getter(func(c dm.Ctx) string {
		if v, _ := c.Get("Enable"); v != "true" {
			return "Disabled"
		}
		return "Enabled"
	})
	a.String("IPAddress").Writable().MaxLen(15).Template(tmpl(func(d *Device) string { return d.ipAddress() }))
	a.String("SubnetMask").Writable().MaxLen(15).Template(tmpl(func(*Device) string { return "255.0.0.0" }))
	a.String("AddressingType").Enum("DHCP", "IKEv2", "AutoIP", "IPCP", "Static").Template(tmpl(func(*Device) string { return "DHCP" }))
	stats(ii, true)
}

// ifStatus is an interface's Status: Up while it is enabled and the
// device is on.
func ifStatus(c dm.Ctx) string {
	if v, _ := c.Get("Enable"); v != "true" || dev(c).state != On {
		return "Down"
	}
	return "Up"
}

// hardwareRows adds, at every boot, the rows of the tables the device
// fills from what it is and runs (not kept across a reboot, like a real
// agent's): its processes, its sensor, its log file, its Ethernet port.
func (d *Device) hardwareRows(now time.Time) {
	for i := range factoryProcesses {
		d.m.AddRow("Device.DeviceInfo.ProcessStatus.Process.", uint32(i+1), nil, now)
	}
	d.m.AddRow("Device.DeviceInfo.TemperatureStatus.TemperatureSensor.", 1, nil, now)
	d.m.AddRow("Device.DeviceInfo.VendorLogFile.", 1, nil, now)
	d.m.AddRow("Device.Ethernet.Interface.", 1, nil, now)
	d.vendorRows(now, false)
}

// factoryProcesses are the processes every device runs.
var factoryProcesses = []factoryProcess{{1, "init", 1024, 20}, {212, "usp-agent", 6144, 20}, {230, "dropbear", 1536, 20}}

type factoryProcess struct {
	pid  int
	cmd  string
	size int
	prio int
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339)
}

// reported is a time as the device reports it: off by its clock-skew
// fault, if it has one (the unknown time stays unknown).
func (d *Device) reported(t time.Time) string {
	if s := d.cfg.Faults().Skew; s != 0 && !t.IsZero() {
		t = t.Add(s)
	}
	return fmtTime(t)
}

// hostName makes a host name of a serial number: letters, digits and
// hyphens, at most 63.
func hostName(serial string) string {
	b := []byte("dev-")
	for i := 0; i < len(serial) && len(b) < 63; i++ {
		c := serial[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			b = append(b, c)
		case 'A' <= c && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			b = append(b, '-')
		}
	}
	return string(b)
}

// FriendlyName is a device's factory Device.DeviceInfo.FriendlyName (the
// "name" of its DNS-SD TXT record, R-DIS.10): its model and serial number.
func FriendlyName(model, serial string) string { return clip(model+" "+serial, 64) }
