package bench_test

import (
	"encoding/json"
	"testing"

	"brickyard/boards/boardtest"
	"brickyard/boards/profile"
	"brickyard/boards/sweep"
)

// Small boards of every bootloader kind, so that an exhaustive sweep over
// the link takes seconds.
const smallBoards = `
boards:
  uboot-small:
    bootloader: uboot-ab
    flash: {size: 256KiB, sector: 4KiB, write_unit: 1}
    partitions:
      - {name: env1, offset: 0x0, size: 8KiB}
      - {name: env2, offset: 0x2000, size: 8KiB}
      - {name: A, offset: 0x10000, size: 64KiB}
      - {name: B, offset: 0x20000, size: 64KiB}
    options: {boot_limit: 1}
  mcuboot-small:
    bootloader: mcuboot-swap
    flash: {size: 256KiB, sector: 4KiB, write_unit: 4}
    partitions:
      - {name: primary, offset: 0x10000, size: 64KiB}
      - {name: secondary, offset: 0x20000, size: 64KiB}
      - {name: scratch, offset: 0x30000, size: 8KiB}
  esp-small:
    bootloader: esp-ota
    flash: {size: 256KiB, sector: 4KiB, write_unit: 1}
    partitions:
      - {name: otadata, offset: 0xd000, size: 8KiB}
      - {name: ota_0, offset: 0x10000, size: 64KiB}
      - {name: ota_1, offset: 0x20000, size: 64KiB}
  single-small:
    bootloader: single-bank
    flash: {size: 256KiB, sector: 4KiB, write_unit: 1}
    partitions:
      - {name: app, offset: 0x10000, size: 64KiB}
`

func small(t testing.TB) profile.Set {
	t.Helper()
	set, err := profile.Parse("small", []byte(smallBoards), profile.Loaders())
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// The exhaustive power-cut sweep over the link, against board-emu and its
// rig, counts what the same sweep counts on a simulated board: the same
// operations, phases, outcomes and brick points, clean and torn. The
// bridge adds no way to brick.
func TestSweepOverLinkMatchesSimulation(t *testing.T) {
	set := small(t)
	for _, name := range set.Names() {
		p, _ := set.Get(name)
		for _, torn := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "/clean", true: "/torn"}[torn], func(t *testing.T) {
				old, upd := img(t, p, "1.0.0", 8000), img(t, p, "2.0.0", 9000)
				sim, err := p.Provision(boardtest.Keyring(), old)
				if err != nil {
					t.Fatal(err)
				}
				want, err := sweep.Run(sweep.Config{Factory: sim, Update: upd, Torn: torn, Seed: 5})
				if err != nil {
					t.Fatal(err)
				}
				r := newRig(t, p, rigOpts{})
				got, err := r.host.Sweep(old, upd, torn, 5)
				if err != nil {
					t.Fatal(err)
				}
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				if string(g) != string(w) {
					t.Fatalf("over the link:\n%s\nsimulated:\n%s", g, w)
				}
				if got.Cuts == 0 || got.Cuts != got.Ops {
					t.Fatalf("%d cuts of %d operations", got.Cuts, got.Ops)
				}
			})
		}
	}
}
