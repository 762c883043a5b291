package device

import (
	"strings"
	"time"
	"unicode/utf8"

	"brickyard/usp"
	"brickyard/usp/dm"
)

// Status parameters of the MTP objects and the checks of their writable
// topics.

func mqttClientStatus(c dm.Ctx) string {
	d := dev(c)
	switch v, _ := c.Get("Enable"); {
	case v != "true":
		return "Disabled"
	case d.conn && d.cfg.tr.Protocol == "MQTT":
		return "Connected"
	}
	return "Connecting"
}

func mqttSubStatus(c dm.Ctx) string {
	d := dev(c)
	if v, _ := c.Get("Enable"); v == "true" && d.conn && d.cfg.tr.Protocol == "MQTT" {
		return "Subscribed"
	}
	return "Unsubscribed"
}

func stompStatus(c dm.Ctx) string {
	d := dev(c)
	switch v, _ := c.Get("Enable"); {
	case v != "true":
		return "Disabled"
	case d.conn && d.cfg.tr.Protocol == "STOMP":
		return "Enabled"
	}
	return "Connecting"
}

// connSince is when the session came up, Unknown Time while it is down.
func (d *Device) connSince() string {
	if !d.conn {
		return fmtTime(timeZero)
	}
	return d.reported(time.Unix(0, d.connAt))
}

// checkTopic accepts an MQTT topic name (no wildcards, valid UTF-8, no
// NUL), or empty.
func checkTopic(_ dm.Ctx, v string) error {
	switch {
	case v == "":
		return nil
	case strings.ContainsAny(v, "+#\x00") || !utf8.ValidString(v):
		return usp.Errorf(usp.InvalidValue, "%q is not an MQTT topic name (no wildcards)", clip(v, 64))
	}
	return nil
}

// checkFilter accepts an MQTT topic filter: "+" alone between levels,
// "#" alone as the last level (MQTT 5 §4.7.1).
func checkFilter(_ dm.Ctx, v string) error {
	if v == "" || strings.ContainsRune(v, 0) || !utf8.ValidString(v) {
		return usp.Errorf(usp.InvalidValue, "%q is not an MQTT topic filter", clip(v, 64))
	}
	levels := strings.Split(v, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i == len(levels)-1, l == "+":
		case strings.ContainsAny(l, "+#"):
			return usp.Errorf(usp.InvalidValue, "%q is not an MQTT topic filter: wildcards must fill a level (and # be the last)", clip(v, 64))
		}
	}
	return nil
}
