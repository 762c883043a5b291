package device

import (
	"strconv"
	"strings"

	"brickyard/usp"
	"brickyard/usp/dm"
)

// Bindings of the schema: values the device computes, writes it vets,
// and the synchronous commands.

func upTime(c dm.Ctx) string {
	d := dev(c)
	if d.state != On || c.Now.Before(d.bootAt) {
		return "0"
	}
	return strconv.FormatInt(int64(c.Now.Sub(d.bootAt).Seconds()), 10)
}

func mtpStatus(c dm.Ctx) string {
	if v, _ := c.Get("Enable"); v == "true" && dev(c).conn {
		return "Up"
	}
	return "Down"
}

// checkBootFirmwareImage refuses a BootFirmwareImage that names no row
// holding a bootable image (7012) or a row whose Available is false
// (7014). The value is already resolved to a row path.
func checkBootFirmwareImage(c dm.Ctx, v string) error {
	if v == "" {
		return usp.Errorf(usp.InvalidValue, "BootFirmwareImage must name a FirmwareImage row")
	}
	st, _ := c.Model.Value(v+".Status", c.Now)
	switch st {
	case stActive, stAvailable, stActivationFailed:
	default:
		return usp.Errorf(usp.InvalidValue, "%s holds no installed image (Status %s)", v, st)
	}
	if av, _ := c.Model.Value(v+".Available", c.Now); av != "true" {
		return usp.Errorf(usp.ValueConflict, "%s is not Available", v)
	}
	return nil
}

// setBootFirmwareImage notes that a controller chose the image to boot:
// the next Reboot() activates it (procedure A).
func setBootFirmwareImage(c dm.Ctx, v string) error {
	d := dev(c)
	i, ok := rowIndex(v)
	d.nv.bootReq = v != "" && (v != d.activeRowPath() || (ok && i < len(d.slots) && d.replacedInPlace(i)))
	return nil
}

// checkAvailable refuses Available=false on the active row and on the
// row BootFirmwareImage names (7014).
func checkAvailable(c dm.Ctx, v string) error {
	if v != "false" {
		return nil
	}
	d := dev(c)
	row := strings.TrimSuffix(c.Path(), ".")
	if row == d.activeRowPath() {
		return usp.Errorf(usp.ValueConflict, "%s is the active image", row)
	}
	if b, _ := c.Model.Value(pathBootFW, c.Now); b == row {
		return usp.Errorf(usp.ValueConflict, "%s is the BootFirmwareImage", row)
	}
	return nil
}

// rebootCmd is Device.Reboot(): the device reboots once the OperateResp is
// out. When a controller has set BootFirmwareImage to another row since
// the last activation, that row is activated through the bootloader first
// (procedure A), before the response: a failure is the command's.
func rebootCmd(c dm.Ctx, in map[string]string) (map[string]string, error) {
	d := dev(c)
	cause := in["Cause"]
	switch cause {
	case "":
		cause = "RemoteReboot"
	case "LocalReboot", "RemoteReboot":
	default:
		return nil, usp.Errorf(usp.InvalidCommandArguments, "Cause %q: want LocalReboot or RemoteReboot", cause)
	}
	reason := in["Reason"]
	if reason == "" {
		reason = "Unknown"
	}
	if d.nv.bootReq {
		if err := d.activateBootImage(c); err != nil {
			return nil, err
		}
	}
	d.restartReq = &restartReq{cause: cause, reason: reason, key: c.CommandKey}
	return nil, nil
}

// factoryResetCmd is Device.FactoryReset(): the data model returns to its
// factory state (controllers, subscriptions, BootParameters all gone but
// the factory controller) and the device reboots. The firmware is kept.
func factoryResetCmd(c dm.Ctx, in map[string]string) (map[string]string, error) {
	d := dev(c)
	cause := in["Cause"]
	switch cause {
	case "":
		cause = "RemoteFactoryReset"
	case "LocalFactoryReset", "RemoteFactoryReset":
	default:
		return nil, usp.Errorf(usp.InvalidCommandArguments, "Cause %q: want LocalFactoryReset or RemoteFactoryReset", cause)
	}
	reason := in["Reason"]
	if reason == "" {
		reason = "Unknown"
	}
	d.restartReq = &restartReq{cause: cause, reason: reason, key: c.CommandKey, factory: true}
	return nil, nil
}
