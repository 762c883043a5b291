package faults

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"
)

func fleet(n int) []Device {
	out := make([]Device, n)
	for i := range out {
		board := "uboot-nor"
		if i%4 == 0 {
			board = "esp32-ota"
		}
		out[i] = Device{ID: fmt.Sprintf("os::012345-SIM%06d", i), Board: board, Wave: 1 + i%3}
	}
	return out
}

// "3 % of 10,000 devices lose power during the install": exactly 300.
func TestAssign_ExactShareAndDeterministic(t *testing.T) {
	plan := Plan{{Kind: PowerDuringInstall, Share: 0.03, Torn: true}, {Kind: HealthFail, Share: 0.5, Board: "esp32-ota"}}
	f := fleet(10_000)
	a, err := Assign(plan, f, 42)
	if err != nil {
		t.Fatal(err)
	}
	install, health := 0, 0
	for i, x := range a {
		if x.PowerDuringInstall != nil {
			install++
			if !x.PowerDuringInstall.Torn || x.PowerDuringInstall.Fraction < 0 || x.PowerDuringInstall.Fraction >= 1 {
				t.Fatalf("cut %+v", x.PowerDuringInstall)
			}
		}
		if x.HealthFail {
			health++
			if f[i].Board != "esp32-ota" {
				t.Fatalf("health-fail on %s", f[i].Board)
			}
		}
	}
	if install != 300 || health != 1250 {
		t.Fatalf("install %d health %d", install, health)
	}
	b, _ := Assign(plan, f, 42)
	c, _ := Assign(plan, f, 43)
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, c) {
		t.Fatal("not deterministic, or not seeded")
	}
}

func TestAssign_NamedDevicesWindowsAndDownloads(t *testing.T) {
	f := fleet(10)
	plan := Plan{
		{Kind: NetPartition, Devices: []string{f[3].ID}, After: time.Minute, Within: time.Minute, Duration: 30 * time.Second},
		{Kind: NetDrop, Share: 1, Wave: 2, Drop: 0.2, Duration: time.Minute},
		{Kind: DownloadSlow, Share: 1, Rate: 1024},
		{Kind: DownloadTruncated, Devices: []string{f[0].ID}},
		{Kind: PowerAtUptime, Devices: []string{f[1].ID}, After: time.Hour},
	}
	a, err := Assign(plan, f, 1)
	if err != nil {
		t.Fatal(err)
	}
	w := a[3].Net[0]
	if w.Kind != NetPartition || w.Start < time.Minute || w.Start > 2*time.Minute || w.End-w.Start != 30*time.Second {
		t.Fatalf("partition %+v", w)
	}
	for i, x := range a {
		if x.DownloadRate != 1024 {
			t.Fatalf("device %d rate %d", i, x.DownloadRate)
		}
		if (f[i].Wave == 2) != (len(x.Net) > 0 && x.Net[len(x.Net)-1].Kind == NetDrop) {
			t.Fatalf("device %d wave %d net %+v", i, f[i].Wave, x.Net)
		}
	}
	if a[0].DownloadTruncate <= 0 || a[0].DownloadTruncate >= 1 || a[1].PowerAtUptime != time.Hour || a[2].Any() == false {
		t.Fatalf("%+v %+v", a[0], a[1])
	}
}

func TestValidate(t *testing.T) {
	bad := []Rule{
		{Kind: "meteor", Share: 0.1},
		{Kind: HealthFail},
		{Kind: HealthFail, Share: 1.5},
		{Kind: NetDrop, Share: 0.1, Duration: time.Minute},
		{Kind: NetDelay, Share: 0.1, Duration: time.Minute},
		{Kind: NetPartition, Share: 0.1},
		{Kind: DownloadSlow, Share: 0.1},
		{Kind: HealthFail, Share: 0.1, After: -time.Second},
		// Numbers that are not numbers (issue: a .nan share panicked in pick).
		{Kind: HealthFail, Share: math.NaN()},
		{Kind: HealthFail, Share: math.Inf(1)},
		{Kind: HealthFail, Share: math.Inf(-1)},
		{Kind: NetDrop, Share: 0.1, Drop: math.NaN(), Duration: time.Minute},
		{Kind: NetDrop, Share: 0.1, Drop: math.Inf(1), Duration: time.Minute},
		{Kind: NetPartition, Share: 0.1, Duration: math.MaxInt64},
		// Misbehaviour without its parameters, or with impossible ones.
		{Kind: AnswerDelay, Share: 0.1},
		{Kind: AnswerDelay, Share: 0.1, Dist: "pareto", Delay: time.Second},
		{Kind: AnswerDelay, Share: 0.1, Dist: DistUniform, Delay: time.Second, MaxDelay: time.Second},
		{Kind: AnswerDelay, Share: 0.1, Dist: DistLogNormal, Delay: time.Second},
		{Kind: AnswerDelay, Share: 0.1, Dist: DistLogNormal, Delay: time.Second, Sigma: math.NaN()},
		{Kind: AnswerDelay, Share: 0.1, Dist: DistLogNormal, Delay: time.Second, Sigma: math.Inf(1)},
		{Kind: AnswerDelay, Share: 0.1, Delay: time.Second, Tail: 0.1},
		{Kind: AnswerDelay, Share: 0.1, Delay: time.Second, Tail: math.NaN(), TailDelay: time.Second},
		{Kind: AnswerDelay, Share: 0.1, Delay: time.Second, MaxDelay: -time.Second},
		{Kind: AnswerDrop, Share: 0.1, Chance: 1.5},
		{Kind: AnswerDrop, Share: 0.1, Chance: -0.1},
		{Kind: AnswerDrop, Share: 0.1, Chance: math.NaN()},
		{Kind: NotifyRepeat, Share: 0.1},
		{Kind: NotifyRepeat, Share: 0.1, Count: 1000},
		{Kind: RecordOversized, Share: 0.1},
		{Kind: RecordOversized, Share: 0.1, Size: MaxOversize + 1},
		{Kind: RecordWrongTo, Share: 0.1, To: "two words"},
		{Kind: ConnChurn, Share: 0.1},
		{Kind: ConnChurn, Share: 0.1, Every: time.Millisecond},
		{Kind: SlowConsumer, Share: 0.1},
		{Kind: ClockSkew, Share: 0.1},
		{Kind: ClockSkew, Share: 0.1, Skew: math.MaxInt64},
		{Kind: ClockSkew, Share: 0.1, Skew: math.MinInt64},
		{Kind: BootStorm, Share: 0.1, Rate: -1},
		{Kind: ReconnectWave, Share: 0.1, Rate: 10, Within: time.Second},
	}
	for _, r := range bad {
		if err := (Plan{r}).Validate(); err == nil {
			t.Errorf("%+v accepted", r)
		}
		if _, err := Assign(Plan{r}, fleet(3), 1); err == nil {
			t.Errorf("Assign accepted %+v", r)
		}
	}
}

// A share of sequentially numbered devices is spread over the whole range,
// not clustered on the IDs that differ only in their last digits.
func TestShareSpread(t *testing.T) {
	var fleet []Device
	for i := range 1000 {
		fleet = append(fleet, Device{ID: fmt.Sprintf("os::00256D-SIM%06d", i+1), Board: "b"})
	}
	for seed := range uint64(5) {
		fs, err := Assign(Plan{{Kind: HealthFail, Share: 0.04}}, fleet, seed)
		if err != nil {
			t.Fatal(err)
		}
		quarters := [4]int{}
		for i, f := range fs {
			if f.HealthFail {
				quarters[i/250]++
			}
		}
		for q, n := range quarters {
			if n == 0 || n > 25 {
				t.Errorf("seed %d: %d of 40 picked devices in quarter %d (%v)", seed, n, q, quarters)
			}
		}
	}
}

func TestFaultsString(t *testing.T) {
	for _, tc := range []struct {
		f    Faults
		want string
	}{
		{Faults{}, ""},
		{Faults{PowerDuringInstall: &Cut{Fraction: 0.4213, Torn: true}, HealthFail: true}, "power-during-install@0.42/torn health-fail"},
		{Faults{Net: []Window{{Kind: NetDrop, Start: time.Minute, End: 90 * time.Second}}, DownloadRate: 1000}, "net-drop@1m0s+30s download-slow@1000B/s"},
		{Faults{DownloadTruncate: 0.5, DownloadCorrupt: true, PowerAtUptime: time.Hour}, "power-at-uptime@1h0m0s download-truncated@0.50 download-corrupt"},
	} {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.f, got, tc.want)
		}
	}
}

// Misbehaviour rules land on their devices in plan order, and the short
// form names them.
func TestAssign_Misbehaviour(t *testing.T) {
	fs, err := Assign(Plan{
		{Kind: AnswerDelay, Devices: []string{"d1"}, Dist: DistUniform, Delay: time.Second, MaxDelay: 2 * time.Second},
		{Kind: AnswerDrop, Devices: []string{"d1"}, Chance: 0.25},
		{Kind: ConnChurn, Devices: []string{"d2"}, Every: time.Minute},
		{Kind: SlowConsumer, Devices: []string{"d2"}, After: time.Minute, Duration: 30 * time.Second},
	}, []Device{{ID: "d1"}, {ID: "d2"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := fs[0].String(); got != "answer-delay answer-drop@0.25" {
		t.Errorf("d1: %q", got)
	}
	if got := fs[1].String(); got != "conn-churn@1m0s slow-consumer@1m0s+30s" {
		t.Errorf("d2: %q", got)
	}
	if len(fs[0].Misbehave) != 2 || fs[0].Misbehave[0].MaxDelay != 2*time.Second || !fs[0].Any() || !fs[1].Any() {
		t.Errorf("%+v", fs)
	}
	if !RealTimeOnly(ConnChurn) || !RealTimeOnly(SlowConsumer) || RealTimeOnly(AnswerDrop) {
		t.Error("RealTimeOnly")
	}
}
