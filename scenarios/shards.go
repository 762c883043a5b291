package scenarios

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"time"

	"brickyard/mtp"
	"brickyard/mtp/certs"
	"brickyard/scenarios/report"
	"brickyard/sim/device"
	"brickyard/sim/faults"
	"brickyard/sim/fleet"
	"brickyard/sim/index"
)

// A real-time run's devices may live in other processes (brickyard run
// --workers): Run keeps the embedded controller, its file server and its
// transport (the controller's WebSocket listener or broker), so that one
// campaign with one set of waves and one abort rule sees the whole fleet,
// and Options.Hosts runs the devices, each process a shard of them
// (RunShard) dialing that transport. The shards together are the fleet of
// one process device for device: the same endpoint IDs, serials, boards,
// images, keys, fault assignment and power-on schedule, all derived from
// the scenario and its seed.

// Endpoint is where a run's devices find its controller and file server:
// all a process holding some of its devices needs besides the scenario.
type Endpoint struct {
	MTP     string `json:"mtp"`     // websocket, mqtt or stomp (the scenario's fleet.mtp)
	Address string `json:"address"` // the controller's WebSocket URL, or the broker's address
	// FileServer is the base URL of the images; FileServerCA, with
	// server.tls, the PEM certificate the file server presents.
	FileServer   string `json:"file_server"`
	FileServerCA []byte `json:"file_server_ca,omitempty"`
	// CA and CAKey, with fleet.tls, are the run's CA (PEM), which the
	// devices trust and, with fleet.device_certs, have their certificates
	// issued by: a shard's process holds its own copy.
	CA    []byte `json:"ca,omitempty"`
	CAKey []byte `json:"ca_key,omitempty"`
}

// Hosts runs a real-time run's devices elsewhere (scenarios/workers).
type Hosts interface {
	// Run runs every device of the fleet against ep until ctx ends,
	// keeping idx current with them as they change, and returns how they
	// ended. A device Run could not bring back (its process crashed) has
	// no Row: its ID is empty, and Lost says why.
	Run(ctx context.Context, ep Endpoint, idx *index.Index, m Metrics) (*HostsResult, error)
}

// HostsResult is how a fleet held by Hosts ended.
type HostsResult struct {
	Rows    []DeviceRow    // one per device of the fleet, in fleet order
	Lost    []string       // why devices have no row ("worker 2 (devices 101–200): killed by signal 9")
	Errors  []report.Count // the devices' link counts (sessions lost, reconnects, failed dials), summed
	Dropped []report.Count // what the devices' transports dropped, summed ("agents queue-full")
}

// DeviceRow is one device at the end of a run, as the process that held
// it saw it: its real final state.
type DeviceRow struct {
	ID       string       `json:"id"`
	Board    string       `json:"board"`
	Outcome  string       `json:"outcome"`
	Version  string       `json:"version"`
	Boots    uint32       `json:"boots"`
	Brick    string       `json:"brick,omitempty"`
	Offline  string       `json:"offline,omitempty"`
	Cuts     []fleet.Cut  `json:"cuts,omitempty"`
	Timeline []fleet.Step `json:"timeline,omitempty"`
}

// ShardResult is how one shard's devices ended (RunShard).
type ShardResult struct {
	Rows    []DeviceRow    `json:"rows"`
	Errors  []report.Count `json:"errors,omitempty"`
	Dropped []report.Count `json:"dropped,omitempty"`
}

// Shard is the part of a run's fleet one process holds: shard K of N
// (report.ShardRange), against the run's Endpoint.
type Shard struct {
	K, N     int
	Endpoint Endpoint
}

// RunShard runs shard sh of a real-time run's devices, in this process,
// against the controller and file server of sh.Endpoint, until ctx ends.
// opt's Profiles, ReadFile, Logf, EventLog, Index and Metrics are used as
// Run uses them. It returns the shard's devices as they ended.
func RunShard(ctx context.Context, sc *Scenario, opt Options, sh Shard) (*ShardResult, error) {
	if sc.Clock != "real" {
		return nil, fmt.Errorf("%s: a shard of a run is a real-time run (clock %q)", sc.source, sc.Clock)
	}
	if len(sc.Bench) > 0 || len(opt.Bench) > 0 {
		return nil, errors.New("bench boards join a run in one process")
	}
	if sh.Endpoint.MTP != sc.Fleet.MTP {
		return nil, fmt.Errorf("%s: the controller is on %q, the scenario's fleet on %q", sc.source, sh.Endpoint.MTP, sc.Fleet.MTP)
	}
	if sh.N < 1 || sh.K < 1 || sh.K > sh.N || sh.N > sc.Devices() {
		return nil, fmt.Errorf("%s: shard %d/%d of %d devices", sc.source, sh.K, sh.N, sc.Devices())
	}
	first, last := report.ShardRange(sh.K, sh.N, sc.Devices())
	lo, hi := first-1, last
	if err := checkFiles(sc, hi-lo, 1); err != nil {
		return nil, err
	}
	var roots *x509.CertPool
	if len(sh.Endpoint.FileServerCA) > 0 {
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(sh.Endpoint.FileServerCA) {
			return nil, errors.New("the file server's certificate: no PEM certificate")
		}
	}
	fetcher, pool := sc.fetcher(roots)
	defer pool.CloseIdleConnections()
	b, err := sc.build(opt.Profiles, opt.ReadFile, sh.Endpoint.FileServer)
	if err != nil {
		return nil, err
	}
	drops := newSideDrops(opt.Logf).agents
	if opt.Metrics != nil {
		opt.Metrics.Dropped("agents", drops)
	}
	var ca *certs.CA
	if sc.Fleet.TLS {
		if ca, err = certs.Load(sh.Endpoint.CA, sh.Endpoint.CAKey); err != nil {
			return nil, fmt.Errorf("the run's CA: %w", err)
		}
	}
	dialer, err := agentDialer(sc, sh.Endpoint.Address, drops, ca)
	if err != nil {
		return nil, err
	}
	fs, err := fleet.ShardFaults(sc.plan(), b.groups, b.ids.printf(), sc.Seed, lo, hi)
	if err != nil {
		return nil, err
	}
	dc := sc.deviceConfig(b, protocolOf(sc), ca)
	idFormat := b.ids.printf()
	links := &linkCounts{lost: map[string]bool{}}
	rf, err := fleet.NewReal(fleet.RealConfig{
		Seed: sc.Seed, ControllerID: ControllerID, Boards: shardGroups(b.groups, lo, hi), IDFormat: idFormat, IDOffset: lo,
		Device: func(n int, c *device.Config) { dc(lo+n, c) }, Faults: fs, Dialer: dialer, Fetcher: fetcher,
		PowerOnAt: sc.powerOnAt(idFormat, lo), Diurnal: sc.Fleet.Diurnal.DiurnalOf(),
		Log: opt.EventLog, LogFormat: opt.EventLogFormat, Index: opt.Index, Observe: links.observer(opt.Metrics, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sc.source, err)
	}
	runErr := rf.Run(ctx)
	res := &ShardResult{Rows: make([]DeviceRow, rf.Len()), Errors: links.counts(), Dropped: sideDrops{agents: drops, controller: &mtp.Drops{}}.counts()}
	for n := range rf.Len() {
		rec := rf.Record(n)
		res.Rows[n] = DeviceRow{ID: rec.ID, Board: rec.Board, Outcome: rec.Outcome, Version: rec.Version, Boots: rec.Boots,
			Brick: rf.Brick(n), Offline: rf.Offline(n), Cuts: rf.Cuts(n), Timeline: rf.Timeline(n)}
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return res, runErr
	}
	return res, nil
}

// powerOnAt is when device lo+n of the fleet powers on after the devices'
// start, whichever process holds it (fleet.PowerOnDelay).
func (sc *Scenario) powerOnAt(idFormat string, lo int) func(n int) time.Duration {
	return func(n int) time.Duration {
		return fleet.PowerOnDelay(sc.Seed, fmt.Sprintf(idFormat, lo+n+1), lo+n, sc.Fleet.ConnectRate, sc.Fleet.ConnectJitter, sc.Fleet.RampOf())
	}
}

// protocolOf is the scenario's MTP as Device.LocalAgent.MTP.1.Protocol
// names it.
func protocolOf(sc *Scenario) string {
	switch sc.Fleet.MTP {
	case "mqtt":
		return string(mtp.MQTT)
	case "stomp":
		return string(mtp.STOMP)
	}
	return string(mtp.WebSocket)
}

// shardGroups cuts a fleet's board groups to its devices lo … hi-1.
func shardGroups(groups []fleet.BoardGroup, lo, hi int) []fleet.BoardGroup {
	var out []fleet.BoardGroup
	at := 0
	for _, g := range groups {
		from, to := max(at, lo), min(at+g.Count, hi)
		at += g.Count
		if to > from {
			g.Count = to - from
			out = append(out, g)
		}
	}
	return out
}

// fetcher is the devices' HTTP client of the file server, trusting roots
// when it is TLS, and the connection pool it uses (the caller closes its
// idle connections at the end).
func (sc *Scenario) fetcher(roots *x509.CertPool) (*fleet.HTTPFetcher, *http.Transport) {
	// The devices of one process share a pool of downloadConns
	// connections to the file server: a device whose download finds them
	// all busy waits for one, as behind a saturated server, instead of
	// every download of a wave holding two more open files at once.
	pool := &http.Transport{MaxConnsPerHost: downloadConns, MaxIdleConnsPerHost: downloadConns, IdleConnTimeout: 30 * time.Second}
	if roots != nil {
		pool.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return &fleet.HTTPFetcher{Timeout: sc.Server.DownloadTimeout, StallTimeout: sc.Server.StallTimeout,
		MaxActive: downloadConns, Client: &http.Client{Transport: pool}}, pool
}

// certPEM is the PEM form of a TLS configuration's first certificate.
func certPEM(tc *tls.Config) []byte {
	if tc == nil || len(tc.Certificates) == 0 || len(tc.Certificates[0].Certificate) == 0 {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tc.Certificates[0].Certificate[0]})
}

// rowsView is a fleet held by Hosts, as the report reads it: every
// device's row, the faults the plan gave it (computed here, as each shard
// did), and lost devices as report.Lost.
type rowsView struct {
	rows   []DeviceRow
	waves  []int
	faults []faults.Faults
}

func newRowsView(sc *Scenario, b *built, res *HostsResult) (*rowsView, error) {
	n := len(b.devices)
	fs, err := fleet.ShardFaults(sc.plan(), b.groups, b.ids.printf(), sc.Seed, 0, n)
	if err != nil {
		return nil, err
	}
	v := &rowsView{rows: make([]DeviceRow, n), waves: make([]int, n), faults: fs}
	for i, d := range b.devices {
		v.waves[i] = d.Wave
		switch {
		case i < len(res.Rows) && res.Rows[i].ID == d.ID:
			v.rows[i] = res.Rows[i]
		case i < len(res.Rows) && res.Rows[i].ID != "":
			return nil, fmt.Errorf("device %d came back as %s, not %s: the processes' fleets differ", i+1, res.Rows[i].ID, d.ID)
		default:
			v.rows[i] = DeviceRow{ID: d.ID, Board: d.Board, Outcome: report.Lost}
		}
	}
	return v, nil
}

func (v *rowsView) Len() int                    { return len(v.rows) }
func (v *rowsView) ID(n int) string             { return v.rows[n].ID }
func (v *rowsView) Timeline(n int) []fleet.Step { return v.rows[n].Timeline }
func (v *rowsView) Faults(n int) faults.Faults  { return v.faults[n] }
func (v *rowsView) Cuts(n int) []fleet.Cut      { return v.rows[n].Cuts }
func (v *rowsView) Brick(n int) string          { return v.rows[n].Brick }
func (v *rowsView) Offline(n int) string        { return v.rows[n].Offline }
func (v *rowsView) Record(n int) index.Device {
	r := v.rows[n]
	return index.Device{ID: r.ID, Board: r.Board, Wave: v.waves[n], Version: r.Version, Outcome: r.Outcome, Boots: r.Boots}
}

// AddCounts sums counts by name into a list sorted by name.
func AddCounts(lists ...[]report.Count) []report.Count {
	m := map[string]int{}
	for _, l := range lists {
		for _, c := range l {
			m[c.Name] += c.N
		}
	}
	if len(m) == 0 {
		return nil
	}
	return report.SortedCounts(m)
}
