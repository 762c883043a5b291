package scenarios

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"brickyard/boards/sweep"
	"brickyard/flash"
)

const agreeScenario = `
name: agree
clock: virtual
seed: 5
fleet:
  connect_rate: 100
  boards:
    - profile: uboot-nor
      count: 40
    - profile: mcuboot-nrf52
      count: 40
    - profile: esp32-ota
      count: 40
    - profile: single-nor
      count: 40
device: {reboot: 5s, trial: 30s}
images:
  - version: 2.0.0
    payload: 24KiB
campaign:
  image: 2.0.0
  deadline: 10m
  waves:
    - share: rest
faults:
  - kind: power-during-install
    share: 1
    torn: %s
`

// The sweep and a campaign agree: every device of a campaign loses power
// at one flash operation of its install, and its outcome is what the
// sweep of its board says of a cut at that operation (found by the
// operation's kind and address): bricked at the sweep's brick points, the
// old image (install_failed) everywhere else. With torn cuts the torn bytes
// differ between the two, but not the verdict: on the A/B boards the
// written slot never boots, on the single bank nothing does.
func TestSweepAndCampaignAgree(t *testing.T) {
	for _, torn := range []bool{false, true} {
		sc, err := Parse("agree.yaml", []byte(fmt.Sprintf(agreeScenario, strconv.FormatBool(torn))))
		if err != nil {
			t.Fatal(err)
		}
		b, err := sc.build(profiles(t), nil, "http://fw.brickyard.invalid")
		if err != nil {
			t.Fatal(err)
		}
		bricks := map[string]map[string]bool{} // board → "kind@0xaddr" of the sweep's brick points
		writeOps := map[string]int{}
		for _, g := range b.groups {
			if bricks[g.Name] != nil {
				continue
			}
			p, err := profiles(t).Get(g.Name)
			if err != nil {
				t.Fatal(err)
			}
			res, err := sweep.Run(sweep.Config{Factory: g.Factory, Update: flash.NewBlob(b.files[imagePath(g.Name, "2.0.0")], p.Flash.Erased), Torn: torn, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			bricks[g.Name] = map[string]bool{}
			for _, bp := range res.BrickPoints {
				if bp.Phase != "write" {
					t.Fatalf("%s: a brick outside the write: %+v", g.Name, bp)
				}
				bricks[g.Name][fmt.Sprintf("%s@0x%x", bp.Kind, bp.Addr)] = true
			}
			writeOps[g.Name] = res.Phases[0].Ops
		}
		r, err := Run(context.Background(), sc, Options{Profiles: profiles(t)})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, d := range r.Fleet {
			var cut string
			for _, c := range d.Cuts {
				if c.Phase == "install" {
					cut = c.Op + "@" + c.Addr
				}
			}
			if cut == "" || !strings.Contains(d.Faults, "power-during-install") {
				t.Errorf("torn %v: %s (%s): no install cut (faults %q), outcome %s", torn, d.ID, d.Board, d.Faults, d.Outcome)
				continue
			}
			want := "install_failed"
			if bricks[d.Board][cut] {
				want = "bricked"
			}
			seen[d.Board+" "+d.Outcome]++
			if d.Outcome != want {
				t.Errorf("torn %v: %s (%s) cut at %s: %s, the sweep says %s", torn, d.ID, d.Board, cut, d.Outcome, want)
			}
		}
		t.Logf("torn %v: write ops %v, outcomes %v", torn, writeOps, seen)
		if seen["single-nor bricked"] < 39 || seen["uboot-nor install_failed"] != 40 {
			t.Errorf("torn %v: %v", torn, seen)
		}
	}
}

// The rollout series counts every device in every sample (those not
// powered on yet as pending), shows the aborted devices from the abort on,
// and ends on the outcome table's counts.
func TestProgressMatchesOutcomes(t *testing.T) {
	r, _ := runSmall(t, smallVirtual)
	if r.Aborted == "" || r.AbortedAt <= 0 {
		t.Fatalf("the small scenario should abort: %q at %v", r.Aborted, r.AbortedAt)
	}
	abortedBefore := false
	for i, s := range r.Progress {
		sum := 0
		for _, c := range s.Outcomes {
			sum += c.N
		}
		if sum != r.Devices {
			t.Errorf("sample %d at %v: %d devices, want %d", i, s.At, sum, r.Devices)
		}
		for _, c := range s.Outcomes {
			if c.Name == "aborted" && c.N > 0 && i < len(r.Progress)-1 {
				abortedBefore = true
				if s.At < r.AbortedAt {
					t.Errorf("sample %d at %v counts aborted devices before the abort at %v", i, s.At, r.AbortedAt)
				}
			}
		}
	}
	if !abortedBefore {
		t.Error("no sample before the last counts the aborted devices")
	}
	last := r.Progress[len(r.Progress)-1]
	if fmt.Sprint(last.Outcomes) != fmt.Sprint(r.Outcomes) || last.At != r.Duration {
		t.Errorf("last sample %v at %v, outcomes %v at %v", last.Outcomes, last.At, r.Outcomes, r.Duration)
	}
}
