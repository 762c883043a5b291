package scenarios

import (
	"bytes"
	"context"
	"testing"

	"brickyard/boards/profile"
	"brickyard/configs"
	"brickyard/scenarios/report"
)

func profiles(t testing.TB) profile.Set {
	t.Helper()
	set, err := profile.Parse("configs/boards.yaml", configs.Boards(), profile.Loaders())
	if err != nil {
		t.Fatal(err)
	}
	return set
}

const smallVirtual = `
name: small
clock: virtual
seed: 7
fleet:
  connect_rate: 50
  boards:
    - profile: uboot-nor
      count: 40
    - profile: mcuboot-nrf52
      count: 30
    - profile: esp32-ota
      count: 30
device:
  reboot: 5s
  trial: 60s
images:
  - version: 2.0.0
    payload: 16KiB
  - version: 2.1.0
    payload: 16KiB
    bad: true
campaign:
  image: 2.0.0
  deadline: 5m
  abort:
    failure_rate: 0.5
    min_devices: 5
  waves:
    - name: canary
      share: 10%
    - name: main
      share: 50%
    - name: bad canary
      share: 20%
      image: 2.1.0
    - name: bad rest
      share: rest
      image: 2.1.0
faults:
  - kind: power-during-install
    share: 0.1
    wave: 2
expect:
  - bricked == 0
  - updated >= 0.5
`

func runSmall(t *testing.T, src string) (*report.Report, []byte) {
	t.Helper()
	sc, err := Parse("small.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), sc, Options{Profiles: profiles(t)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	return r, buf.Bytes()
}

func TestVirtualSmall(t *testing.T) {
	r, js := runSmall(t, smallVirtual)
	t.Logf("outcomes %v aborted %q duration %v", r.Outcomes, r.Aborted, r.Duration)
	for _, w := range r.ByWave {
		t.Logf("wave %+v", w)
	}
	t.Logf("latency %+v messages %v", r.Latency, r.Messages)
	_, js2 := runSmall(t, smallVirtual)
	if !bytes.Equal(js, js2) {
		t.Fatal("same seed, different report.json")
	}
}
