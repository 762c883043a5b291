package device

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"

	"brickyard/flash"
	"brickyard/usp"
	"brickyard/usp/dm"
)

// download is a running FirmwareImage.{i}.Download().
type download struct {
	job                 uint64 // the model's job
	fetch               FetchID
	row                 int
	key, cmd, obj, from string
	url, user, pass     string
	size                uint64
	alg, sum            string
	auto                bool
	start               time.Time
}

// acceptDownload vets a Download() before its Request row exists; a
// refusal is the OperateResp's cmd_failure:
//
//   - 7027: URL not http(s), with userinfo (TR-181 forbids it), or
//     unusable; AutoActivate or FileSize not of their type; an unknown
//     CheckSumAlgorithm; a CheckSum that is not hex, or without algorithm.
//   - 7022: the row of the running image on a multi-bank board (TP-469
//     9.7 allows refusing it; a single-bank board rewrites its only slot).
//   - 7005: another download is running.
func acceptDownload(c dm.Ctx, in map[string]string) error {
	d := dev(c)
	i := int(c.Num()) - 1
	if i < 0 || i >= len(d.slots) {
		return usp.Errorf(usp.CommandFailure, "no such firmware image row")
	}
	if err := checkURL(in["URL"]); err != nil {
		return err
	}
	if _, err := strconv.ParseBool(in["AutoActivate"]); err != nil {
		return usp.Errorf(usp.InvalidCommandArguments, "AutoActivate %q is not a boolean", clip(in["AutoActivate"], 32))
	}
	if s := in["FileSize"]; s != "" {
		if _, err := strconv.ParseUint(s, 10, 32); err != nil {
			return usp.Errorf(usp.InvalidCommandArguments, "FileSize %q is not an unsignedInt", clip(s, 32))
		}
	}
	alg, sum := in["CheckSumAlgorithm"], in["CheckSum"]
	if alg != "" && newHash(alg) == nil {
		return usp.Errorf(usp.InvalidCommandArguments, "CheckSumAlgorithm %q: want SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512", clip(alg, 32))
	}
	if sum != "" {
		if _, err := hex.DecodeString(sum); err != nil {
			return usp.Errorf(usp.InvalidCommandArguments, "CheckSum is not hexBinary")
		}
		if alg == "" {
			return usp.Errorf(usp.InvalidCommandArguments, "CheckSum given without CheckSumAlgorithm")
		}
	}
	if s := in["FileSize"]; s != "" {
		if n, _ := strconv.ParseUint(s, 10, 32); n > uint64(d.slotSize(i)) {
			return usp.Errorf(usp.CommandFailure, "FileSize %d: larger than the %d-byte slot of %s", n, d.slotSize(i), rowRef(i))
		}
	}
	if len(d.slots) > 1 && i == d.running {
		return usp.Errorf(usp.CommandFailure, "%s holds the running image: download to another FirmwareImage row", rowRef(i))
	}
	if len(d.downloads) > 0 {
		return usp.Errorf(usp.ResourcesExceeded, "a download is already in progress")
	}
	return nil
}

// checkURL accepts http and https URLs with a host and no userinfo.
func checkURL(u string) error {
	rest, ok := strings.CutPrefix(u, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(u, "http://")
	}
	if !ok {
		return usp.Errorf(usp.InvalidCommandArguments, "URL %q: want an http or https URL", clip(u, 64))
	}
	host, _, _ := strings.Cut(rest, "/")
	switch {
	case len(u) > 2048:
		return usp.Errorf(usp.InvalidCommandArguments, "URL longer than 2048 bytes")
	case host == "" || strings.HasPrefix(host, ":"):
		return usp.Errorf(usp.InvalidCommandArguments, "URL %q has no host", clip(u, 64))
	case strings.Contains(host, "@"):
		return usp.Errorf(usp.InvalidCommandArguments, "URL must not contain userinfo: use Username and Password")
	case strings.ContainsFunc(u, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return usp.Errorf(usp.InvalidCommandArguments, "URL contains spaces or control characters")
	}
	return nil
}

func newHash(alg string) hash.Hash {
	switch alg {
	case "SHA-1":
		return sha1.New()
	case "SHA-224":
		return sha256.New224()
	case "SHA-256":
		return sha256.New()
	case "SHA-384":
		return sha512.New384()
	case "SHA-512":
		return sha512.New()
	}
	return nil
}

// startDownload starts an accepted Download(): the row is Downloading
// and the shell is asked for the URL.
func (d *Device) startDownload(now time.Time, j dm.Job) {
	dl := &download{job: j.ID, fetch: FetchID(d.nextSeq()), row: int(j.Nums[0]) - 1, key: j.Key, cmd: j.Command,
		obj: j.Obj, from: j.Origin.EndpointID, url: j.Input["URL"], user: j.Input["Username"], pass: j.Input["Password"],
		alg: j.Input["CheckSumAlgorithm"], sum: strings.ToLower(j.Input["CheckSum"]), start: now}
	dl.auto, _ = strconv.ParseBool(j.Input["AutoActivate"])
	dl.size, _ = strconv.ParseUint(j.Input["FileSize"], 10, 32)
	d.downloads = append(d.downloads, dl)
	d.setRow(now, dl.row, "Status", stDownloading)
	f := Fetch{ID: dl.fetch, URL: dl.url, Username: dl.user, Password: dl.pass, SizeHint: dl.size, MaxSize: d.slotSize(dl.row),
		Rate: d.cfg.Faults().DownloadRate, Truncate: d.cfg.Faults().DownloadTruncate, Corrupt: d.cfg.Faults().DownloadCorrupt}
	if c := d.cfg.Faults().PowerDuringDownload; c != nil && d.used&faultDownload == 0 {
		d.used |= faultDownload
		f.PowerCut = c
	}
	d.out.Fetches = append(d.out.Fetches, f)
	d.event(now, EvDownloadStart, "row=%d url=%s", dl.row+1, dl.url)
}

// FetchDone hands the device the result of a Fetch: the downloaded bytes,
// or the error that ended the transfer. The image is then validated
// (CheckSum, signature, board, security counter), written through
// Loader.Write and, with AutoActivate, activated; OperationComplete and
// TransferComplete! report the result (see docs/device.md). A result for
// a fetch the device no longer waits for is ignored. The device never
// modifies data, so a shell may hand many devices the same bytes.
func (d *Device) FetchDone(now time.Time, id FetchID, data []byte, err error) Output {
	d.begin()
	if d.state != On {
		return d.finish()
	}
	k := -1
	for i, dl := range d.downloads {
		if dl.fetch == id {
			k = i
		}
	}
	if k < 0 {
		return d.finish()
	}
	dl := d.downloads[k]
	d.downloads = append(d.downloads[:k], d.downloads[k+1:]...)
	if err != nil {
		d.event(now, EvDownloadFailed, "row=%d: %v", dl.row+1, err)
		d.failDownload(now, dl, stDownloadFailed, nil, fmt.Sprintf("download of %s failed: %v", dl.url, err))
		return d.finish()
	}
	d.install(now, dl, data)
	return d.finish()
}

// cancelDownload ends a download a controller canceled (7023).
func (d *Device) cancelDownload(now time.Time, k int) {
	dl := d.downloads[k]
	d.downloads = append(d.downloads[:k], d.downloads[k+1:]...)
	d.out.CancelFetches = append(d.out.CancelFetches, dl.fetch)
	d.event(now, EvCanceled, "row=%d Download()", dl.row+1)
	if dl.row == d.running {
		d.setRow(now, dl.row, "Status", stActive)
	} else {
		d.setRow(now, dl.row, "Status", stDownloadFailed, "Available", "false")
	}
	err := usp.Errorf(usp.CommandCanceled, "Download() canceled")
	d.finishDownload(now, dl, nil, err, err)
}

var errPowerLost = fmt.Errorf("flash operation: %w", flash.ErrPowerLost)

// slotSize is the size of the partition behind FirmwareImage row i: the
// largest image it can take.
func (d *Device) slotSize(i int) int {
	p, _ := d.board.Layout.Get(d.slots[i])
	return p.Size
}
