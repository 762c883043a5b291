package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSweep_JSONIsDeterministicAndCountsAddUp(t *testing.T) {
	args := []string{"sweep", "--board", "single-nor", "--torn", "--seed", "5", "--format", "json", "--payload-size", "16KiB"}
	out1, errOut, code := runBrickyard(t, nil, args...)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	out2, _, _ := runBrickyard(t, nil, args...)
	if out1 != out2 {
		t.Fatal("the same seed gave different JSON")
	}
	var res struct {
		Board       string            `json:"board"`
		Torn        bool              `json:"torn"`
		Ops         int               `json:"ops"`
		Cuts        int               `json:"cuts"`
		Updated     int               `json:"updated"`
		RolledBack  int               `json:"rolled_back"`
		Bricked     int               `json:"bricked"`
		BrickPoints []json.RawMessage `json:"brick_points"`
	}
	if err := json.Unmarshal([]byte(out1), &res); err != nil {
		t.Fatal(err)
	}
	if res.Board != "single-nor" || !res.Torn || res.Cuts != res.Ops || res.Updated+res.RolledBack+res.Bricked != res.Cuts ||
		res.Bricked == 0 || len(res.BrickPoints) != res.Bricked {
		t.Fatalf("result %+v", res)
	}
}

func TestSweep_Table(t *testing.T) {
	out, errOut, code := runBrickyard(t, nil, "sweep", "--board", "single-nor", "--payload-size", "8KiB")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	for _, want := range []string{"single-nor (single-bank)", "phase", "write", "total", "rolled back", "bricked", "brick points:"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestSweep_BadInput(t *testing.T) {
	badBoards := filepath.Join(t.TempDir(), "boards.yaml")
	if err := os.WriteFile(badBoards, []byte("boards:\n  x:\n    bootloader: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"sweep"}, `--board NAME or --bench NAME is required`},
		{[]string{"sweep", "--bench", "lab-1"}, `no bench board "lab-1": the configuration's bench.boards lists none`},
		{[]string{"sweep", "--bench", "lab-1", "--board", "single-nor"}, `--board and --bench`},
		{[]string{"sweep", "--board", "nosuch"}, `unknown board "nosuch" (known: `},
		{[]string{"sweep", "--board", "single-nor", "--format", "xml"}, "--format"},
		{[]string{"sweep", "--board", "single-nor", "--payload-size", "lots"}, "--payload-size"},
		{[]string{"sweep", "--board", "single-nor", "--payload-size", "4MiB"}, "does not fit"},
		{[]string{"sweep", "--board", "single-nor", "--boards", badBoards}, badBoards},
		{[]string{"sweep", "--board", "single-nor", "--boards", "/nonexistent/b.yaml"}, "--boards"},
	}
	for _, tt := range tests {
		_, errOut, code := runBrickyard(t, nil, tt.args...)
		if code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: code %d, stderr %q, want it to contain %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestBoards_ListsBuiltinProfiles(t *testing.T) {
	out, errOut, code := runBrickyard(t, nil, "boards")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	if !strings.Contains(out, "single-nor") || !strings.Contains(out, "single-bank") {
		t.Fatalf("boards output:\n%s", out)
	}
	// Each board lists the image formats its bootloader takes.
	for _, want := range []string{"byfw,mcuboot", "byfw,esp-app", "byfw,fit"} {
		if !strings.Contains(out, want) {
			t.Errorf("boards output lacks %q:\n%s", want, out)
		}
	}
}

// sweep --factory/--update sweeps your own images: two MCUboot images on
// mcuboot-nrf52 signed with a --trust key; no cut bricks it.
func TestSweep_OwnImageFiles(t *testing.T) {
	keys := keygen1(t)
	key := filepath.Join(keys, "image.key.pem")
	v1 := packAs(t, "--format", "mcuboot", "--key", key, "--board", "mcuboot-nrf52", "--version", "1.0.0", "--size", "12KiB")
	v2 := packAs(t, "--format", "mcuboot", "--key", key, "--board", "mcuboot-nrf52", "--version", "2.0.0", "--size", "12KiB")
	out, errOut, code := runBrickyard(t, nil, "sweep", "--board", "mcuboot-nrf52", "--factory", v1, "--update", v2,
		"--trust", filepath.Join(keys, "image.pub.pem"), "--format", "json")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	var res struct {
		Ops, Cuts, Updated, Bricked int
		RolledBack                  int `json:"rolled_back"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 || res.Bricked != 0 || res.Updated+res.RolledBack != res.Cuts {
		t.Errorf("sweep of own images: %+v", res)
	}
	// Without the key the factory image does not boot.
	if _, errOut, code := runBrickyard(t, nil, "sweep", "--board", "mcuboot-nrf52", "--factory", v1, "--update", v2); code == 0 || !strings.Contains(errOut, "--factory") {
		t.Errorf("no --trust: code %d, stderr %q", code, errOut)
	}
	if _, errOut, code := runBrickyard(t, nil, "sweep", "--board", "mcuboot-nrf52", "--factory", v1); code == 0 || !strings.Contains(errOut, "give both") {
		t.Errorf("--factory alone: code %d, stderr %q", code, errOut)
	}
}
