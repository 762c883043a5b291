package device

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"brickyard/boards"
	"brickyard/boards/image"
	"brickyard/flash"
	"brickyard/usp"
)

// install validates and writes a downloaded image.
func (d *Device) install(now time.Time, dl *download, data []byte) {
	i := dl.row
	if h, err := image.ParseHeader(data); err == nil {
		// The version the controller asked for, even if the image is then
		// refused: reports measure the device against it.
		d.event(now, EvDownloaded, "row=%d bytes=%d version=%s", i+1, len(data), h.Version)
	} else {
		d.event(now, EvDownloaded, "row=%d bytes=%d", i+1, len(data))
	}
	d.setRow(now, i, "Status", stValidating)
	if dl.sum != "" {
		h := newHash(dl.alg)
		h.Write(data)
		if got := hex.EncodeToString(h.Sum(nil)); got != dl.sum {
			msg := fmt.Sprintf("%s checksum mismatch: the file's is %s, CheckSum is %s", dl.alg, got, dl.sum)
			d.event(now, EvValidationFailed, "row=%d: checksum mismatch", i+1)
			d.failDownload(now, dl, stValidationFailed, data, msg)
			return
		}
	}
	h, err := d.board.VerifyImage(data)
	if err != nil {
		d.event(now, EvValidationFailed, "row=%d: %v", i+1, err)
		d.failDownload(now, dl, stValidationFailed, data, "image validation failed: "+err.Error())
		return
	}
	var blob *flash.Blob
	if d.cfg.Blobs != nil {
		blob = d.cfg.Blobs.Blob(data, d.board.Chip.Geometry().Erased)
	} else {
		blob = flash.NewBlob(data, d.board.Chip.Geometry().Erased)
	}
	slot := d.slots[i]
	if c := d.cfg.Faults().PowerDuringInstall; c != nil && d.used&faultInstall == 0 {
		if n := d.countOps(func(b *boards.Board) error { return b.Loader.Write(b, slot, blob) }); n > 0 {
			d.used |= faultInstall
			d.armCut(c, n)
		}
	}
	d.event(now, EvInstall, "row=%d slot=%s version=%s", i+1, slot, h.VersionString())
	ops := d.board.Chip.Ops()
	if err := d.board.Loader.Write(d.board, slot, blob); err != nil {
		if d.lost(now, "install", err) {
			return
		}
		d.event(now, EvInstallFailed, "row=%d: %v", i+1, err)
		d.failDownload(now, dl, stInstallationFailed, data, "installation failed: "+err.Error())
		return
	}
	d.setRow(now, i, "Status", stAvailable, "Available", "true", "Version", h.VersionString(),
		"Name", fileName(dl.url, h), "BootFailureLog", "")
	d.event(now, EvInstalled, "row=%d version=%s ops=%d", i+1, h.VersionString(), d.board.Chip.Ops()-ops)
	if dl.auto {
		if err := d.activate(now, i, dl.key); err != nil {
			if d.state != On {
				return
			}
			d.finishDownload(now, dl, data, usp.Errorf(usp.CommandFailure, "image installed, activation failed: %v", err), nil)
			return
		}
	}
	d.finishDownload(now, dl, data, nil, nil)
	if dl.auto && d.state == On {
		d.restart(now, restartReq{cause: "RemoteReboot", reason: "firmware activation", key: dl.key})
	}
}

// failDownload ends a download that failed: the row's Status (the
// running row of a single-bank board keeps Active: its image is intact
// unless the install failed), then OperationComplete and TransferComplete!.
func (d *Device) failDownload(now time.Time, dl *download, status string, data []byte, msg string) {
	if dl.row != d.running || status == stInstallationFailed {
		d.setRow(now, dl.row, "Status", status, "Available", "false")
	} else {
		d.setRow(now, dl.row, "Status", stActive)
	}
	err := usp.Errorf(usp.CommandFailure, "%s", msg)
	d.finishDownload(now, dl, data, err, err)
}

// finishDownload sends OperationComplete (the Request row ends; cmdErr
// is its cmd_failure) and then TransferComplete! with all the results of
// the transfer (xferErr its FaultCode and FaultString). data is what was
// downloaded, for CheckSum; nil when nothing was.
func (d *Device) finishDownload(now time.Time, dl *download, data []byte, cmdErr, xferErr error) {
	fx, _ := d.m.Complete(dl.job, nil, cmdErr, now)
	d.apply(now, fx)
	args := map[string]string{
		"Command": dl.cmd, "CommandKey": dl.key, "Requestor": dl.from, "TransferType": "Download",
		"Affected": strings.TrimSuffix(dl.obj, "."), "TransferURL": dl.url,
		"StartTime": dateTime(dl.start), "CompleteTime": dateTime(now),
		"FaultCode": "0", "FaultString": "", "CheckSumAlgorithm": "Unknown", "CheckSum": "",
	}
	if xferErr != nil {
		code, text := usp.Reason(xferErr, nil)
		args["FaultCode"], args["FaultString"] = strconv.FormatUint(uint64(code), 10), clip(text, 256)
	}
	if data != nil {
		alg := dl.alg
		if alg == "" {
			alg = "SHA-256"
		}
		h := newHash(alg)
		h.Write(data)
		args["CheckSumAlgorithm"], args["CheckSum"] = alg, hex.EncodeToString(h.Sum(nil))
	}
	fx, _ = d.m.Event(eventTransfer, args, now)
	d.apply(now, fx)
}

// fileName is the Name of an installed image: the last element of its
// URL's path, or one made from its header.
func fileName(u string, h image.Info) string {
	u, _, _ = strings.Cut(u, "?")
	u, _, _ = strings.Cut(u, "#")
	if i := strings.LastIndexByte(u, '/'); i >= 0 && i+1 < len(u) && !strings.HasSuffix(u[:i], "/") {
		return clip(u[i+1:], 64)
	}
	return clip(fmt.Sprintf("%s-%s.img", h.BoardID, h.VersionString()), 64)
}

func dateTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
