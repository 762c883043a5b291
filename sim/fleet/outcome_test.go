package fleet

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"brickyard/boards/boardtest"
	"brickyard/boards/image"
	"brickyard/sim/device"
	"brickyard/sim/faults"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// scriptOp is one operation the scripted controller sends an agent.
type scriptOp struct {
	at   time.Time
	kind string // download, activate, reboot
	img  string // download: the image's name (see scriptImages)
	row  int
	auto bool
}

// scriptImages are the images the scripted controller picks from, by
// name: the version, and what is special about it.
var scriptImages = []struct {
	name, version string
	counter       uint32
	flags         uint32
	corrupt       bool // a payload byte flipped after signing: the digest fails
	board         string
	missing       bool // no such URL: the download fails before any byte
}{
	{name: "2.0.0", version: "2.0.0", counter: 2},
	{name: "2.1.0", version: "2.1.0", counter: 2},
	{name: "3.0.0-bad", version: "3.0.0", counter: 3, flags: image.FlagHealthFail},
	{name: "0.5.0", version: "0.5.0", counter: 1},
	{name: "1.0.0", version: "1.0.0"},
	{name: "2.0.0-corrupt", version: "2.0.0", counter: 2, corrupt: true},
	{name: "2.0.0-other-board", version: "2.0.0", counter: 2, board: "other-board"},
	{name: "missing", version: "9.9.9", missing: true},
}

// scriptCtrl is a controller that sends each agent a random sequence of
// Download() (either row, with or without AutoActivate, of any image of
// scriptImages), Activate() and Reboot(), on top of Campaign's
// subscriptions and Notify answers.
type scriptCtrl struct {
	base   Campaign
	script map[string][]scriptOp
	asked  map[string]string // agent → name of the last image it accepted to download
	sent   map[string]string // msg_id of a Download() → its image
	board  map[string]string
	ids    []string
}

func (c *scriptCtrl) Connected(id string, now time.Time) []Send {
	return c.due(id, now, c.base.Connected(id, now))
}
func (c *scriptCtrl) Disconnected(id string, now time.Time) { c.base.Disconnected(id, now) }

// Receive notes which Download() requests the agent accepted: the oracle's
// target, when the run gives none, is the last image an agent accepted.
func (c *scriptCtrl) Receive(id string, rec []byte, now time.Time) []Send {
	if in, err := c.base.codec().Open(rec); err == nil && in.Msg != nil {
		if r := in.Msg.GetBody().GetResponse().GetOperateResp(); r != nil {
			mid := in.Msg.GetHeader().GetMsgId()
			if img, ok := c.sent[mid]; ok {
				delete(c.sent, mid)
				if res := r.GetOperationResults(); len(res) == 1 && res[0].GetCmdFailure() == nil {
					c.asked[id] = img
				}
			}
		}
	}
	return c.base.Receive(id, rec, now)
}

func (c *scriptCtrl) Tick(now time.Time) ([]Send, time.Time) {
	var out []Send
	next := time.Time{}
	for _, id := range c.ids {
		out = c.due(id, now, out)
		if ops := c.script[id]; len(ops) > 0 && (next.IsZero() || ops[0].at.Before(next)) {
			next = ops[0].at
		}
	}
	if !next.IsZero() && !next.After(now) {
		next = now.Add(10 * time.Second) // due ops of agents that are away: look again
	}
	return out, next
}

// due sends agent id the operations whose time has come, when it is online.
func (c *scriptCtrl) due(id string, now time.Time, out []Send) []Send {
	a := c.base.agent(id)
	for len(c.script[id]) > 0 && !c.script[id][0].at.After(now) && a.online {
		op := c.script[id][0]
		c.script[id] = c.script[id][1:]
		var m *pb.Msg
		switch op.kind {
		case "download":
			m = usp.NewRequest(c.base.next(), &pb.Operate{SendResp: true, CommandKey: "script",
				Command:   "Device.DeviceInfo.FirmwareImage." + strconv.Itoa(op.row) + ".Download()",
				InputArgs: map[string]string{"URL": scriptURL(c.board[id], op.img), "AutoActivate": strconv.FormatBool(op.auto)}})
		case "activate":
			m = usp.NewRequest(c.base.next(), &pb.Operate{SendResp: true, CommandKey: "script",
				Command:   "Device.DeviceInfo.FirmwareImage." + strconv.Itoa(op.row) + ".Activate()",
				InputArgs: map[string]string{"TimeWindow.1.Start": "0", "TimeWindow.1.End": "3600", "TimeWindow.1.Mode": "Immediately"}})
		case "reboot":
			m = usp.NewRequest(c.base.next(), &pb.Operate{SendResp: true, CommandKey: "script", Command: "Device.Reboot()"})
		}
		if op.kind == "download" {
			c.sent[m.GetHeader().GetMsgId()] = op.img
		}
		out = c.base.seal(id, m, out)
	}
	return out
}

func scriptURL(board, img string) string { return "https://fw.test/" + board + "/" + img + ".img" }

// scriptFleet builds a fleet of every board with random scripts and a
// random fault plan. target: the run's target (BoardGroup.Target), or ""
// to let each device's downloads give it.
func scriptFleet(t *testing.T, seed uint64, perBoard int, target string) (*Virtual, *scriptCtrl) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 17))
	boards := []string{"uboot-nor", "mcuboot-nrf52", "esp32-ota", "single-nor"}
	cfg := Config{Seed: seed, Start: t0, Images: map[string][]byte{}, ConnectRate: 20, ConnectJitter: time.Second,
		Device: func(n int, c *device.Config) { c.TrialPeriod = 2 * time.Minute; c.RebootDuration = 10 * time.Second }}
	ctrl := &scriptCtrl{script: map[string][]scriptOp{}, asked: map[string]string{}, sent: map[string]string{}}
	boardOf := map[string]string{}
	for _, b := range boards {
		f, s := factory(t, b)
		cfg.Schema = s
		cfg.Boards = append(cfg.Boards, BoardGroup{Name: b, Factory: f, Count: perBoard, Target: target})
		for _, im := range scriptImages {
			if im.missing {
				continue
			}
			id := b
			if im.board != "" {
				id = im.board
			}
			raw := boardtest.Image(boardtest.Spec{Board: id, Version: im.version, PayloadSize: 9000, Counter: im.counter, Flags: im.flags})
			if im.corrupt {
				raw[image.HeaderSize+100] ^= 0x01
			}
			cfg.Images[scriptURL(b, im.name)] = raw
		}
	}
	k := 0
	for _, g := range cfg.Boards {
		for range g.Count {
			k++
			id := fmt.Sprintf("os::00256D-SIM%06d", k)
			boardOf[id] = g.Name
			ctrl.ids = append(ctrl.ids, id)
			var ops []scriptOp
			for range 2 + rng.IntN(6) {
				op := scriptOp{at: t0.Add(time.Minute + time.Duration(rng.Int64N(int64(50*time.Minute)))), row: 1 + rng.IntN(2)}
				switch r := rng.IntN(100); {
				case r < 70:
					op.kind, op.auto = "download", rng.IntN(4) != 0
					imgs := scriptImages
					if target == "" {
						imgs = imgs[:len(imgs)-1] // every download delivers a header: see below
					}
					op.img = imgs[rng.IntN(len(imgs))].name
					if rng.IntN(2) == 0 {
						op.img = "2.0.0" // the target, often
					}
				case r < 85:
					op.kind = "activate"
				default:
					op.kind = "reboot"
				}
				ops = append(ops, op)
			}
			slices.SortStableFunc(ops, func(a, b scriptOp) int { return a.at.Compare(b.at) })
			ctrl.script[id] = ops
		}
	}
	ctrl.board = boardOf
	torn := rng.IntN(2) == 0
	cfg.Plan = faults.Plan{
		{Kind: faults.PowerDuringInstall, Share: 0.15 + 0.2*rng.Float64(), Torn: torn},
		{Kind: faults.PowerDuringTrial, Share: 0.1 + 0.1*rng.Float64(), Torn: !torn},
		{Kind: faults.PowerAtUptime, Share: 0.1, After: 5 * time.Minute, Within: 40 * time.Minute, Torn: torn},
		{Kind: faults.HealthFail, Share: 0.1},
		{Kind: faults.DownloadTruncated, Share: 0.05},
		{Kind: faults.DownloadCorrupt, Share: 0.05},
	}
	if target != "" {
		// A cut may come before the image's header has arrived: the
		// device then cannot know the version it was sent, so only a run
		// that gives the target is checked with it.
		cfg.Plan = append(cfg.Plan, faults.Rule{Kind: faults.PowerDuringDownload, Share: 0.1})
	}
	cfg.Controller = ctrl
	v, err := NewVirtual(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v, ctrl
}

// The outcome is the device's firmware at the end against the target,
// whatever the sequence of operations and faults that led there: random
// scripts of downloads (good, bad, refused, corrupt, missing images, the
// running row or the other), activations and reboots, under power cuts at
// every phase, on every board. The oracle reads the board: what runs, and
// what the flash boots at the next power-on (NextBoot on a copy).
func TestOutcome_MatchesFirmwareState(t *testing.T) {
	seen := map[string]int{}
	for _, mode := range []string{"2.0.0", ""} {
		for seed := uint64(1); seed <= 6; seed++ {
			v, ctrl := scriptFleet(t, seed, 12, mode)
			if err := v.RunUntil(t0.Add(2 * time.Hour)); err != nil {
				t.Fatal(err)
			}
			for n := range v.Len() {
				id := v.ID(n)
				target := mode
				if target == "" {
					target = ctrl.asked[id]
					for _, im := range scriptImages {
						if im.name == target {
							target = im.version
						}
					}
				}
				d := v.Device(n)
				fw, next := d.Firmware(), NextBoot(d.Board())
				if fw.Power == device.Off {
					fw = next
				}
				// On the target: running it, not on trial, and the flash
				// boots it again at the next power-on, not on trial.
				onTarget := target != "" && fw.Power == device.On && fw.Version == target && !fw.Trial &&
					next.Power == device.On && next.Version == target && !next.Trial
				out := v.Outcome(n)
				seen[out]++
				ok := true
				switch out {
				case Bricked:
					ok = fw.Power == device.Dead && next.Power == device.Dead
				case Updated:
					// Running the target for good, and the flash boots it
					// again, not on trial.
					ok = onTarget
				case RolledBack, DownloadFailed, InstallFailed, Pending:
					ok = fw.Power == device.On && next.Power == device.On && !onTarget
				default:
					ok = false
				}
				if !ok {
					t.Errorf("target %q seed %d: %s (%s) outcome %s; runs %+v, next boot %+v, target %q; timeline %v",
						mode, seed, id, v.Board(n), out, fw, next, target, v.Timeline(n))
				}
				// What the events told (the index, the progress) agrees
				// with the board once the device is up and idle.
				// (Not where the flash already holds something else than
				// what runs: only the board can tell that.)
				if tr := &v.devs[n].tr; d.State() == device.On && (tr.phase == phIdle || tr.phase == phTrial) &&
					next.Version == d.Firmware().Version && next.Trial == d.Firmware().Trial {
					if live := v.live(n); live != out {
						t.Errorf("target %q seed %d: %s: the index says %s, the board %s", mode, seed, id, live, out)
					}
				}
			}
		}
	}
	t.Logf("outcomes over every run: %v", seen)
	for _, o := range []string{Updated, RolledBack, Bricked, DownloadFailed, InstallFailed} {
		if seen[o] == 0 {
			t.Errorf("no device ended %s: the scripts do not reach it", o)
		}
	}
}

// The outcome of a sequence of events, as the index shows it: the state
// reached decides, the history only says why the target is not reached.
func TestOutcome_EventSequences(t *testing.T) {
	ev := func(kind device.EventKind, detail string) device.Event {
		return device.Event{At: t0, Kind: kind, Detail: detail}
	}
	update := func(v string) []device.Event {
		return []device.Event{ev(device.EvDownloadStart, ""), ev(device.EvDownloaded, "row=2 bytes=9160 version="+v),
			ev(device.EvInstall, "row=2 slot=B version="+v), ev(device.EvInstalled, ""), ev(device.EvActivate, ""),
			ev(device.EvReboot, ""), ev(device.EvPowerOn, ""), ev(device.EvBoot, "slot=B version="+v+" trial"),
			ev(device.EvTrial, ""), ev(device.EvConnected, ""), ev(device.EvConfirmed, "")}
	}
	refused := func(v string) []device.Event {
		return []device.Event{ev(device.EvDownloadStart, ""), ev(device.EvDownloaded, "row=1 bytes=9160 version="+v),
			ev(device.EvValidationFailed, "row=1: security counter")}
	}
	boot := []device.Event{ev(device.EvPowerOn, ""), ev(device.EvBoot, "slot=A version=1.0.0"), ev(device.EvConnected, "")}
	cat := func(s ...[]device.Event) []device.Event { return slices.Concat(s...) }
	cases := []struct {
		name, target, want string
		events             []device.Event
	}{
		{"updated, a downgrade refused, then another update", "", Updated, cat(boot, update("2.0.0"), refused("1.0.0"), update("2.1.0"))},
		{"updated, then a downgrade refused last", "", DownloadFailed, cat(boot, update("2.0.0"), refused("1.0.0"))},
		{"the campaign's target reached, then a refused image", "2.0.0", Updated, cat(boot, update("2.0.0"), refused("1.0.0"))},
		{"a cut in the install, and the image booted anyway", "2.0.0", Updated, cat(boot, []device.Event{
			ev(device.EvDownloadStart, ""), ev(device.EvDownloaded, "row=1 bytes=9160 version=2.0.0"),
			ev(device.EvInstall, "row=1 slot=app version=2.0.0"), ev(device.EvPowerCut, "phase=install op=271 erase@0xff000"),
			ev(device.EvPowerOn, ""), ev(device.EvBoot, "slot=app version=2.0.0"), ev(device.EvConnected, "")})},
		{"a cut in the install, the old image runs", "2.0.0", InstallFailed, cat(boot, []device.Event{
			ev(device.EvDownloadStart, ""), ev(device.EvInstall, "row=2 slot=B version=2.0.0"),
			ev(device.EvPowerCut, "phase=install op=3 erase@0x10000"), ev(device.EvPowerOn, ""),
			ev(device.EvBoot, "slot=A version=1.0.0")})},
		{"a cut in the install that bricks", "2.0.0", Bricked, cat(boot, []device.Event{
			ev(device.EvDownloadStart, ""), ev(device.EvInstall, "row=1 slot=app version=2.0.0"),
			ev(device.EvPowerCut, "phase=install op=3 erase@0x10000"), ev(device.EvPowerOn, ""),
			ev(device.EvBricked, "app: image: bad magic")})},
		{"on trial at the end", "2.0.0", Pending, cat(boot, update("2.0.0")[:9])},
		{"rolled back", "2.0.0", RolledBack, cat(boot, update("2.0.0")[:9], []device.Event{ev(device.EvHealthFail, ""),
			ev(device.EvReboot, ""), ev(device.EvPowerOn, ""), ev(device.EvBoot, "slot=A version=1.0.0"),
			ev(device.EvRolledBack, "row=2 version=2.0.0 running=1.0.0")})},
		{"a download under way", "2.0.0", Pending, cat(boot, []device.Event{ev(device.EvDownloadStart, "")})},
		{"a truncated download", "2.0.0", DownloadFailed, cat(boot, refused("2.0.0"))},
		{"never asked", "2.0.0", Pending, boot},
	}
	for _, c := range cases {
		tr := newTrack()
		for _, e := range c.events {
			tr.event(e, c.target != "")
		}
		if got := tr.outcome(tr.mirror(), c.target); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// BenchmarkFinalOutcome is the cost of reading every device's outcome off
// its board at the end of a run (an updated device's flash is booted once
// on a copy): per device, after a campaign to 2.0.0 over 2,000 devices of
// the three A/B boards.
func BenchmarkFinalOutcome(b *testing.B) {
	cfg, _ := campaignConfig(b, 1, 2000, []string{"uboot-nor", "mcuboot-nrf52", "esp32-ota"}, 10*time.Second, nil)
	v, err := NewVirtual(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := v.RunUntil(t0.Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	if v.Count(Updated) != v.Len() {
		b.Fatalf("%d of %d updated", v.Count(Updated), v.Len())
	}
	b.ResetTimer()
	for range b.N {
		for n := range v.Len() {
			if v.Outcome(n) != Updated {
				b.Fatal(v.Outcome(n))
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*v.Len()), "ns/device")
}
