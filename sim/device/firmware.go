package device

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"brickyard/boards"
	"brickyard/boards/image"
)

// FirmwareImage row i (0-based) is the bootloader's slot i; its instance
// number is i+1.

func rowPath(i int) string { return pathFW + strconv.Itoa(i+1) + "." }

// rowRef is row i as a reference value (no trailing dot).
func rowRef(i int) string { return pathFW + strconv.Itoa(i+1) }

// rowIndex is the 0-based row a reference value names.
func rowIndex(ref string) (int, bool) {
	s, ok := strings.CutPrefix(strings.TrimSuffix(ref, "."), pathFW)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, false
	}
	return n - 1, true
}

func (d *Device) activeRowPath() string {
	if d.state != On {
		return ""
	}
	return rowRef(d.running)
}

func (d *Device) softwareVersion() string {
	if r := d.board.Running; r != nil {
		return r.Image.VersionString()
	}
	return ""
}

// value reads a parameter of the model ("" when it fails).
func (d *Device) value(p string, now time.Time) string {
	v, _ := d.m.Value(p, now)
	return v
}

// setValue stores a value through the model, so that subscribers hear of
// it, and applies the effects.
func (d *Device) setValue(now time.Time, p, v string) {
	fx, _ := d.m.SetValue(p, v, now)
	d.apply(now, fx)
}

// setRow stores pairs of relative names and values in row i.
func (d *Device) setRow(now time.Time, i int, kv ...string) {
	base := rowPath(i)
	for j := 0; j+1 < len(kv); j += 2 {
		d.setValue(now, base+kv[j], kv[j+1])
	}
}

// reconcile brings the FirmwareImage rows in line with the board after a
// boot: the running slot is Active; a row whose download or install the
// boot interrupted failed; a row holding a valid image is Available (its
// Version and Name follow the image, which a swapping bootloader may have
// moved from another slot); an erased slot is NoImage. Failed rows keep
// their Status until a new Download.
func (d *Device) reconcile(now time.Time, r boards.Boot) {
	type was struct{ status, version, name string }
	old := make([]was, len(d.slots))
	for i := range d.slots {
		p := rowPath(i)
		old[i] = was{d.value(p+"Status", now), d.value(p+"Version", now), d.value(p+"Name", now)}
	}
	name := func(i int, h image.Info) string {
		v := h.VersionString()
		if old[i].version == v && old[i].name != "" {
			return old[i].name
		}
		for _, o := range old {
			if o.version == v && o.name != "" {
				return o.name
			}
		}
		return fmt.Sprintf("%s-%s.img", h.BoardID, v)
	}
	for i, slot := range d.slots {
		st := old[i].status
		if i == d.running {
			d.setRow(now, i, "Status", stActive, "Available", "true", "Version", r.Image.VersionString(), "Name", name(i, r.Image))
			continue
		}
		switch st {
		case stDownloading:
			d.setRow(now, i, "Status", stDownloadFailed, "Available", "false")
			continue
		case stValidating:
			d.setRow(now, i, "Status", stInstallationFailed, "Available", "false")
			continue
		case stDownloadFailed, stValidationFailed, stInstallationFailed, stActivationFailed:
			continue
		}
		h, err := d.board.VerifySlot(slot)
		switch {
		case err == nil:
			d.setRow(now, i, "Status", stAvailable, "Version", h.VersionString(), "Name", name(i, h))
			if st != stAvailable {
				d.setRow(now, i, "Available", "true")
			}
		case errors.Is(err, image.ErrBadMagic):
			d.setRow(now, i, "Status", stNoImage, "Available", "false", "Version", "", "Name", "")
		case st == stNoImage:
		default: // an image that no longer boots here (corrupt, or below the security counter)
			d.setRow(now, i, "Status", stAvailable, "Available", "false")
		}
	}
}
