package device

import (
	"slices"
	"time"

	"brickyard/usp"
	"brickyard/usp/dm"
)

// startJob starts an asynchronous command the model accepted.
func (d *Device) startJob(now time.Time, j dm.Job) {
	switch {
	case j.Name == "Download()" && len(j.Nums) == 1:
		d.startDownload(now, j)
	case j.Name == "Activate()" && len(j.Nums) == 1:
		d.startActivate(now, j)
	case d.vendorCommand(j) != nil:
		d.startVendorJob(now, j, d.vendorCommand(j))
	default:
		fx, _ := d.m.Complete(j.ID, nil, usp.Errorf(usp.CommandFailure, "%s is not implemented", j.Name), now)
		d.apply(now, fx)
	}
}

// cancelJob stops a command a controller canceled (Request.{i}.Cancel()):
// it ends with 7023 and, for an activation, no reboot.
func (d *Device) cancelJob(now time.Time, j dm.Job) {
	if d.cancelVendorJob(now, j) {
		return
	}
	if k := slices.IndexFunc(d.downloads, func(dl *download) bool { return dl.job == j.ID }); k >= 0 {
		d.cancelDownload(now, k)
		return
	}
	if k := slices.IndexFunc(d.activations, func(a *activation) bool { return a.job == j.ID }); k >= 0 {
		a := d.activations[k]
		d.activations = slices.Delete(d.activations, k, k+1)
		d.setTimer(a.timer, time.Time{})
		d.event(now, EvCanceled, "row=%d Activate()", a.row+1)
		fx, _ := d.m.Complete(a.job, nil, usp.Errorf(usp.CommandCanceled, "Activate() canceled"), now)
		d.apply(now, fx)
	}
}
