package agents

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"brickyard/boards"
	"brickyard/boards/image"
	"brickyard/boards/image/formats"
	"brickyard/boards/profile"
	"brickyard/flash"
	"brickyard/mtp"
	"brickyard/scenarios/report"
	"brickyard/sim/device"
	"brickyard/sim/faults"
	"brickyard/sim/fleet"
	"brickyard/sim/index"
)

// Built is the signed factory boards of the fleet and its key.
type Built struct {
	key     ed25519.PrivateKey
	keyID   [8]byte
	keys    *image.Keyring
	factory map[string]*boards.Board // by "profile@version"
}

// SigningKey is the fleet's signing key: derived from the seed exactly as
// brickyard run derives a scenario's, so that the images of a scenario
// with the same seed verify on the fleet's boards. It is a test key:
// anyone who knows the seed has it.
func SigningKey(seed uint64) ed25519.PrivateKey {
	s := sha256.Sum256(fmt.Appendf(nil, "brickyard scenario key %d", seed))
	return ed25519.NewKeyFromSeed(s[:])
}

// factoryPayload is the payload size of a built factory image.
const factoryPayload = 16 << 10

// Build signs each board's factory image and provisions a factory
// board per (profile, version); the devices are clones of them.
func Build(sp *Spec) (*Built, error) {
	key := SigningKey(sp.seed)
	pub := key.Public().(ed25519.PublicKey)
	b := &Built{key: key, keyID: image.KeyID(pub), keys: image.NewKeyring(pub), factory: map[string]*boards.Board{}}
	b.keys.UseMemo(fleet.NewSignatureMemo(1024)) // the devices verify the same images at every boot
	for i, t := range sp.trust {
		if err := b.keys.AddKey(t); err != nil {
			return nil, fmt.Errorf("--trust: key %d: %w", i+1, err)
		}
	}
	files := map[string]fileImage{}
	for board, file := range sp.images {
		p, _ := sp.profiles.Get(board)
		fi, err := readFactoryImage(file, p, b.keys)
		if err != nil {
			return nil, fmt.Errorf("--image %s=%s: %w", board, file, err)
		}
		files[board] = fi
	}
	for i := range sp.boards {
		if fi, ok := files[sp.boards[i].profile]; ok {
			sp.boards[i].version = fi.info.VersionString()
		}
	}
	for _, bc := range sp.boards {
		k := bc.profile + "@" + bc.version
		if b.factory[k] != nil {
			continue
		}
		p, _ := sp.profiles.Get(bc.profile)
		raw, format, file := files[bc.profile].raw, files[bc.profile].info.Format, sp.images[bc.profile]
		if raw == nil {
			v, _ := image.ParseVersion(bc.version)
			body := make([]byte, factoryPayload)
			for i := range body { // as scenarios builds its images
				body[i] = byte(i*7) ^ v.Major ^ v.Minor<<3 ^ byte(v.Patch)
			}
			var err error
			if raw, err = image.Pack(key, image.Header{Version: v, BoardID: bc.profile}, body); err != nil {
				return nil, fmt.Errorf("--version: %s for %s: %w", bc.version, bc.profile, err)
			}
			format = image.FormatBYFW
		}
		sum := sha256.Sum256(raw)
		sp.reportImages = append(sp.reportImages, report.Image{Board: bc.profile, Version: bc.version, Format: format.String(),
			File: file, Bytes: len(raw), SHA256: hex.EncodeToString(sum[:])})
		if len(raw) > p.SlotSize() {
			return nil, fmt.Errorf("--board: %s: a %d-byte factory image does not fit its %d-byte slots", bc.profile, len(raw), p.SlotSize())
		}
		fb, err := p.Provision(b.keys, flash.NewBlob(raw, p.Flash.Erased))
		if err != nil {
			return nil, fmt.Errorf("--board: %s: %w", bc.profile, err)
		}
		b.factory[k] = fb
	}
	return b, nil
}

// Key is the fleet's signing key: the boards trust it (--write-key writes
// it for brickyard image pack).
func (b *Built) Key() ed25519.PrivateKey { return b.key }

// KeyID is the first 8 bytes of SHA-256 of the public key.
func (b *Built) KeyID() [8]byte { return b.keyID }

// fileImage is a factory image read from a file, and what it verified as.
type fileImage struct {
	raw  []byte
	info image.Info
}

// maxImageFile bounds what is read of an --image file: no slot of a
// built-in profile is near it.
const maxImageFile = 64 << 20

// readFactoryImage reads an --image file and verifies it as p's
// bootloader would, against keys.
func readFactoryImage(file string, p profile.Profile, keys *image.Keyring) (fileImage, error) {
	f, err := os.Open(file)
	if err != nil {
		return fileImage{}, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxImageFile+1))
	if err != nil {
		return fileImage{}, err
	}
	if len(raw) > maxImageFile || len(raw) > p.SlotSize() {
		return fileImage{}, fmt.Errorf("larger than the %d-byte slots of %s", p.SlotSize(), p.Name)
	}
	info, err := formats.VerifyBytes(raw, keys, p.ImageRules(), image.Policy{Board: p.Name})
	if err != nil {
		return fileImage{}, fmt.Errorf("%w (is its key given with --trust?)", err)
	}
	return fileImage{raw: raw, info: info}, nil
}

// groups are the board groups of this shard, in fleet order.
func (sp *Spec) groups(b *Built) []fleet.BoardGroup {
	lo, hi := sp.shardRange()
	var out []fleet.BoardGroup
	at := 0 // devices before this board count
	for _, bc := range sp.boards {
		from, to := max(at, lo), min(at+bc.count, hi)
		if to > from {
			out = append(out, fleet.BoardGroup{Name: bc.profile, Factory: b.factory[bc.profile+"@"+bc.version], Count: to - from, Model: bc.model})
		}
		at += bc.count
	}
	return out
}

// idFormat is the endpoint-ID pattern as fleet.RealConfig's IDFormat.
func idFormat(pattern string) string {
	i := strings.Index(pattern, "{n")
	j := i + strings.IndexByte(pattern[i:], '}')
	spec := pattern[i+2 : j]
	w := strings.TrimPrefix(spec, ":")
	esc := func(s string) string { return strings.ReplaceAll(s, "%", "%%") }
	return esc(pattern[:i]) + "%" + w + "d" + esc(pattern[j+1:])
}

// protocolName is the binding's name as Device.LocalAgent.MTP.1.Protocol
// and reports say it.
func protocolName(transport string) string {
	switch transport {
	case "mqtt":
		return string(mtp.MQTT)
	case "stomp":
		return string(mtp.STOMP)
	}
	return string(mtp.WebSocket)
}

// realConfig is the fleet runner's configuration for this shard.
func (sp *Spec) realConfig(b *Built, tr *transport, idx *index.Index) fleet.RealConfig {
	lo, _ := sp.shardRange()
	ft := fetchTransport(sp.f.TLSCA)
	ft.MaxConnsPerHost = sp.downloads
	client := &http.Client{Transport: ft}
	return fleet.RealConfig{
		Seed: sp.seed, ControllerID: sp.controllerID, Boards: sp.groups(b), IDFormat: idFormat(sp.idPattern), IDOffset: lo,
		Device: sp.deviceConfig(lo, protocolName(sp.transport)), Plan: sp.plan, Dialer: tr.dialer, StateDir: sp.f.StateDir,
		Fetcher: &fleet.HTTPFetcher{Client: client, Timeout: sp.downloadTimeout, StallTimeout: sp.downloadStall,
			MaxActive: sp.downloads},
		ConnectRate: sp.connectRate, ConnectJitter: sp.connectJitter, Index: idx,
		PowerOnAt: sp.powerOnAt(lo), Diurnal: sp.diurnal,
	}
}

// wholeFleet is every board group of the fleet, every shard's, in fleet
// order (without factory boards: for numbering and the fault plan).
func (sp *Spec) wholeFleet() []fleet.BoardGroup {
	out := make([]fleet.BoardGroup, len(sp.boards))
	for i, bc := range sp.boards {
		out[i] = fleet.BoardGroup{Name: bc.profile, Count: bc.count}
	}
	return out
}

// shardFaults are the fault plan's faults of this shard's devices, as
// the plan assigns them over the whole fleet: the shards of a fleet are
// its one-process run, device for device.
func (sp *Spec) shardFaults() ([]faults.Faults, error) {
	lo, hi := sp.shardRange()
	return fleet.ShardFaults(sp.plan, sp.wholeFleet(), idFormat(sp.idPattern), sp.seed, lo, hi)
}

// powerOnAt is the shard's part of the fleet's power-on schedule: device
// lo+n of the fleet powers on when it would in one process.
func (sp *Spec) powerOnAt(lo int) func(n int) time.Duration {
	format := idFormat(sp.idPattern)
	return func(n int) time.Duration {
		return fleet.PowerOnDelay(sp.seed, fmt.Sprintf(format, lo+n+1), lo+n, sp.connectRate, sp.connectJitter, sp.ramp)
	}
}

// deviceConfig sets what the flags say of device n (1-based in this
// shard; lo devices come before it in the fleet).
func (sp *Spec) deviceConfig(lo int, protocol string) func(n int, c *device.Config) {
	return func(n int, c *device.Config) {
		c.SerialNumber = sp.serials.ID(lo + n)
		c.MTP = protocol
		c.Transport = sp.deviceTransport
		c.Onboarded = sp.f.Onboarded
		if sp.oui != "" {
			c.ManufacturerOUI = sp.oui
		}
		if sp.reboot > 0 {
			c.RebootDuration = sp.reboot
		}
		if sp.trial > 0 {
			c.TrialPeriod = sp.trial
		}
		if sp.periodic > 0 {
			c.PeriodicInterval = sp.periodic
		}
		c.PeriodicJitter = sp.periodicJitter
		c.RetryMinimumWait, c.RetryIntervalMultiplier = sp.retryMin, sp.retryMult
		c.Unknown = sp.unknown
		c.Cert = sp.deviceCert
	}
}

// fetchTransport is the HTTP transport of image downloads: the system's
// roots plus the --tls-ca certificates (a test CA often signs the
// controller's file server too).
func fetchTransport(caFile string) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	if caFile == "" {
		return t
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if pem, err := os.ReadFile(caFile); err == nil {
		pool.AppendCertsFromPEM(pem)
	}
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	return t
}

// DumpFirst builds the first device of the shard, powers it on and
// writes its data model to w (brickyard fleet --dump-model alone).
func DumpFirst(w io.Writer, sp *Spec, b *Built) error {
	lo, _ := sp.shardRange()
	g := sp.groups(b)[0]
	g.Count = 1
	r, err := fleet.NewReal(fleet.RealConfig{
		Seed: sp.seed, ControllerID: sp.controllerID, Boards: []fleet.BoardGroup{g}, IDFormat: idFormat(sp.idPattern),
		IDOffset: lo, Device: sp.deviceConfig(lo, protocolName(sp.transport)), Plan: sp.plan, Dialer: noDialer{},
	})
	if err != nil {
		return err
	}
	return dumpModel(w, r.Device(0), r.ID(0), sp.controllerID, g.Name, protocolName(sp.transport), time.Now())
}

// noDialer is the dialer of a fleet that never runs.
type noDialer struct{}

func (noDialer) Dial(_ context.Context, _ string) (mtp.Conn, error) {
	return nil, fmt.Errorf("no controller")
}
