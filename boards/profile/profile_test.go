package profile_test

import (
	"os"
	"strings"
	"testing"

	"brickyard/boards/boardtest"
	"brickyard/boards/profile"
	"brickyard/boards/sweep"
)

func builtin(t testing.TB) profile.Set {
	t.Helper()
	data, err := os.ReadFile("../../configs/boards.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := profile.Parse("configs/boards.yaml", data, profile.Loaders())
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// Every built-in profile provisions, boots and takes an update.
func TestBuiltinProfiles_ProvisionAndUpdate(t *testing.T) {
	set := builtin(t)
	if len(set) == 0 {
		t.Fatal("no built-in profiles")
	}
	for _, name := range set.Names() {
		p, _ := set.Get(name)
		payload := min(p.SlotSize()/4, 64<<10)
		b, err := p.Provision(boardtest.Keyring(), boardtest.Blob(boardtest.Spec{Board: name, Version: "1.0.0", PayloadSize: payload}, p.Flash.Erased))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, torn := range []bool{false, true} {
			res, err := sweep.Run(sweep.Config{Factory: b, Torn: torn, Seed: 11,
				Update: boardtest.Blob(boardtest.Spec{Board: name, Version: "2.0.0", PayloadSize: payload}, p.Flash.Erased)})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			t.Logf("%s (%s) torn=%v: %d ops, %d updated, %d rolled back, %d bricked", name, p.Loader.Name(), torn, res.Ops, res.Updated, res.RolledBack, res.Bricked)
			// Every loader with a fallback survives every cut; the single bank
			// is the control group and must brick somewhere.
			if fallback := p.Loader.Name() != "single-bank"; fallback && res.Bricked != 0 {
				t.Errorf("%s torn=%v: %d cuts bricked the board: %+v", name, torn, res.Bricked, res.BrickPoints)
			} else if !fallback && res.Bricked == 0 {
				t.Errorf("%s torn=%v: no cut bricked a single-bank board", name, torn)
			}
		}
	}
}

func TestParse_BadInput(t *testing.T) {
	const ok = `boards:
  b1:
    bootloader: single-bank
    flash: {size: 1MiB, sector: 4KiB, write_unit: 1}
    partitions:
      - {name: app, offset: 0, size: 64KiB}
`
	if _, err := profile.Parse("ok.yaml", []byte(ok), profile.Loaders()); err != nil {
		t.Fatalf("valid file: %v", err)
	}
	tests := []struct{ name, yaml, want string }{
		{"unknown key", strings.Replace(ok, "bootloader:", "bootlaoder:", 1), "bootlaoder"},
		{"bad size", strings.Replace(ok, "1MiB", "1MB", 1), `size "1MB"`},
		{"unknown bootloader", strings.Replace(ok, "single-bank", "grub", 1), `bootloader "grub": want one of`},
		{"missing slot partition", strings.Replace(ok, "name: app", "name: rootfs", 1), `needs a partition named "app"`},
		{"partition outside chip", strings.Replace(ok, "size: 64KiB", "size: 2MiB", 1), "outside"},
		{"unaligned partition", strings.Replace(ok, "offset: 0,", "offset: 100,", 1), "not aligned"},
		{"bad geometry", strings.Replace(ok, "sector: 4KiB", "sector: 3000", 1), "sector size"},
		{"bad rewrite", strings.Replace(ok, "write_unit: 1}", "write_unit: 1, rewrite: maybe}", 1), "rewrite"},
		{"options for a loader without any", ok + "    options: {bootlimit: 3}\n", "bootlimit"},
		{"board name too long", strings.Replace(ok, "b1:", "a-very-long-board-name:", 1), "1 to 16"},
		{"no boards", "other: 1\n", "other"},
		{"empty", "", "no boards"},
		{"not yaml", "boards: [", "did not find"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := profile.Parse("x.yaml", []byte(tt.yaml), profile.Loaders())
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "x.yaml") {
				t.Fatalf("error %v, want one naming x.yaml and %q", err, tt.want)
			}
		})
	}
}

func TestSize(t *testing.T) {
	for in, want := range map[string]profile.Size{"65536": 65536, "0x10000": 65536, "64KiB": 65536, "2MiB": 2 << 20, "1GiB": 1 << 30, " 4 KiB ": 4096} {
		if got, err := profile.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-1", "1MB", "KiB", "0x", "99999999999GiB"} {
		if _, err := profile.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}
