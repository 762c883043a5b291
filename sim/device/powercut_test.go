package device

import (
	"fmt"
	"testing"
	"time"

	"brickyard/sim/faults"
)

var cutFractions = []float64{0, 0.002, 0.1, 0.37, 0.5, 0.83, 0.999}

// A power cut during the install's flash writes: an A/B board keeps
// running its old image and answers (the row is InstallationFailed); a
// single-bank board may be bricked, and then says so. A second download
// after the cut succeeds.
func TestPowerCutDuringInstall(t *testing.T) {
	for _, board := range append([]string{"single-nor"}, abBoards...) {
		for _, torn := range []bool{false, true} {
			for _, f := range cutFractions {
				name := fmt.Sprintf("%s/torn=%v/%.3f", board, torn, f)
				t.Run(name, func(t *testing.T) {
					cut := &faults.Cut{Fraction: f, Torn: torn}
					h := newHarness(t, board, withFaults(faults.Faults{PowerDuringInstall: cut}))
					h.boot()
					h.standardSubs()
					h.serve(fwURL, fwImage(board, "2.0.0", 0))
					row := newRow
					if board == "single-nor" {
						row = "Device.DeviceInfo.FirmwareImage.1"
					}
					h.operate(row+".Download()", "k1", "URL", fwURL, "AutoActivate", "true")
					h.runUntil(func() bool { return h.hasEvent(EvPowerCut) }, time.Minute)
					if !h.hasEvent(EvPowerCut) {
						t.Fatalf("no cut:\n%s", h.eventLog())
					}
					h.runUntil(func() bool { return h.online || h.dead }, 5*time.Minute)
					if h.dead {
						if board != "single-nor" {
							t.Fatalf("an A/B board bricked:\n%s", h.eventLog())
						}
						if h.d.State() != Dead || !h.hasEvent(EvBricked) {
							t.Fatal("dead but does not say so")
						}
						return
					}
					v := h.get("Device.DeviceInfo.")
					sw := v["Device.DeviceInfo.SoftwareVersion"]
					switch {
					case board == "single-nor" && sw == "2.0.0":
						// The cut landed after the image's last sector (on
						// the erase of the rest of the slot): updated.
						bs := h.events_("Boot!", 0)
						if v[row+".Status"] != "Active" || bs[len(bs)-1].GetParams()["FirmwareUpdated"] != "true" {
							t.Fatalf("updated single bank: %v", v)
						}
						return
					case sw != "1.0.0":
						t.Fatalf("after the cut: %v", v)
					case board != "single-nor" && v[row+".Status"] != "InstallationFailed":
						t.Fatalf("row %s", v[row+".Status"])
					}
					// The fault is spent: the next download updates the device.
					mark := len(h.msgs)
					h.operate(row+".Download()", "k2", "URL", fwURL, "AutoActivate", "true")
					h.waitEvent("Boot!", mark, 1, 5*time.Minute)
					h.run(time.Minute)
					if got := h.value("Device.DeviceInfo.SoftwareVersion"); got != "2.0.0" {
						t.Fatalf("second download: %s\n%s", got, h.eventLog())
					}
				})
			}
		}
	}
}

// A power cut during the trial boot (the bootloader's own writes, then
// the confirm's): the board ends updated or rolled back, never bricked,
// and the device answers.
func TestPowerCutDuringTrial(t *testing.T) {
	for _, board := range abBoards {
		for _, torn := range []bool{false, true} {
			for _, f := range cutFractions {
				t.Run(fmt.Sprintf("%s/torn=%v/%.3f", board, torn, f), func(t *testing.T) {
					cut := &faults.Cut{Fraction: f, Torn: torn}
					h := newHarness(t, board, withFaults(faults.Faults{PowerDuringTrial: cut})).boot()
					h.standardSubs()
					h.serve(fwURL, fwImage(board, "2.0.0", 0))
					h.operate(newRow+".Download()", "k1", "URL", fwURL, "AutoActivate", "true")
					h.runUntil(func() bool { return h.hasEvent(EvPowerCut) }, 10*time.Minute)
					if !h.hasEvent(EvPowerCut) {
						t.Fatalf("no cut:\n%s", h.eventLog())
					}
					h.run(15 * time.Minute)
					if h.dead || !h.online {
						t.Fatalf("device lost:\n%s", h.eventLog())
					}
					v := h.get("Device.DeviceInfo.")
					sw := v["Device.DeviceInfo.SoftwareVersion"]
					switch {
					case sw == "2.0.0" && (h.hasEvent(EvConfirmed) || h.hasEvent(EvUpdated)):
						// Confirmed by the application, or the cut landed
						// after the confirm's commit point.
					case sw == "1.0.0" && h.hasEvent(EvRolledBack) && v[newRow+".Status"] == "ActivationFailed":
					default:
						t.Fatalf("ended on %s, row 2 %s:\n%s", sw, v[newRow+".Status"], h.eventLog())
					}
					h.checkMsgIDs()
				})
			}
		}
	}
}

// PowerDuringDownload: the shell cuts power while the image arrives; the
// row is DownloadFailed after the boot.
func TestPowerCutDuringDownload(t *testing.T) {
	h := newHarness(t, "uboot-nor", withFaults(faults.Faults{PowerDuringDownload: &faults.Cut{Fraction: 0.5}})).boot()
	h.standardSubs()
	h.serve(fwURL, fwImage("uboot-nor", "2.0.0", 0))
	h.operate(newRow+".Download()", "k1", "URL", fwURL, "AutoActivate", "true")
	h.runUntil(func() bool { return h.hasEvent(EvPowerCut) }, time.Minute)
	h.runUntil(func() bool { return h.online }, 5*time.Minute)
	if st := h.value(newRow + ".Status"); st != "DownloadFailed" {
		t.Fatalf("Status %s\n%s", st, h.eventLog())
	}
	if h.value("Device.LocalAgent.RequestNumberOfEntries") != "0" {
		t.Fatal("Request row survived")
	}
}

// Download faults the shell applies: a corrupt or truncated transfer fails
// validation.
func TestDownloadFaults(t *testing.T) {
	for _, f := range []faults.Faults{{DownloadCorrupt: true}, {DownloadTruncate: 0.5}} {
		h := newHarness(t, "esp32-ota", withFaults(f)).boot()
		h.standardSubs()
		h.serve(fwURL, fwImage("esp32-ota", "2.0.0", 0))
		mark := len(h.msgs)
		h.operate(newRow+".Download()", "k1", "URL", fwURL, "AutoActivate", "true")
		tc := h.waitEvent("TransferComplete!", mark, 1, time.Minute)[0].GetParams()
		if tc["FaultCode"] != "7022" || h.value(newRow+".Status") != "ValidationFailed" {
			t.Fatalf("%+v: %v", f, tc)
		}
	}
}
