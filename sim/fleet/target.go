package fleet

import (
	"context"
	"time"

	"brickyard/mtp"
	"brickyard/sim/device"
)

// dialDevice opens device d's session: where the Dialer is configured to
// go, or — when a controller moved the device through its MTP objects
// (device.Moved) and the Dialer can aim one Dial elsewhere
// (mtp.TargetDialer) — there, with the fields the controller changed.
func dialDevice(ctx context.Context, dl mtp.Dialer, d *device.Device, id string, now time.Time) (mtp.Conn, error) {
	if td, ok := dl.(mtp.TargetDialer); ok {
		if t, moved := d.Moved(now); moved {
			return td.DialTarget(ctx, id, mtpTarget(t))
		}
	}
	return dl.Dial(ctx, id)
}

func mtpTarget(t device.Target) mtp.Target {
	return mtp.Target{Host: t.Host, Port: int(t.Port), MQTTVersion: t.MQTTVersion, ClientID: t.ClientID,
		KeepAlive: time.Duration(t.KeepAlive) * time.Second, AgentTopic: t.AgentTopic, Subscriptions: t.Subscriptions,
		ControllerTopic: t.ControllerTopic, AgentDest: t.AgentDest, ControllerDest: t.ControllerDest,
		VirtualHost: t.VirtualHost, Path: t.Path}
}
