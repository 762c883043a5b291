package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// runBrickyard calls run as main would, with a clean BRICKYARD_* environment
// plus env ("NAME=value" entries).
func runBrickyard(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	clearEnv(t)
	for _, kv := range env {
		name, val, _ := strings.Cut(kv, "=")
		t.Setenv(name, val)
	}
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// clearEnv empties the variables of every configuration key for the test
// (empty variables are ignored).
func clearEnv(t *testing.T) {
	t.Helper()
	for _, l := range newSchema(reflect.TypeFor[Config]()).leaves {
		t.Setenv(l.env, "")
	}
}

// writeFile writes content to a new file in a temporary directory.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "brickyard.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunWithoutCommandPrintsHelp(t *testing.T) {
	out, errOut, code := runBrickyard(t, nil)
	if code != 0 || errOut != "" {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"Usage:", "version", "--config", "--log-level", "--log-format"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "\n  config ") {
		t.Errorf("help does not list the config command:\n%s", out)
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `brickyard: unknown command "frobnicate" for "brickyard"`},
		{[]string{"version", "--frob"}, "brickyard: unknown flag: --frob (see 'brickyard version --help')"},
		{[]string{"version", "extra"}, `brickyard: unknown command "extra" for "brickyard version"`},
		{[]string{"--log-level"}, "brickyard: flag needs an argument: --log-level"},
	} {
		out, errOut, code := runBrickyard(t, nil, tc.args...)
		if code != 1 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("run %q: code %d, stdout %q, stderr %q; want 1, \"\", %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// Help must work even when the configuration is broken: it is how users find out.
func TestHelpIgnoresBrokenConfiguration(t *testing.T) {
	bad := writeFile(t, "log: [\n")
	for _, args := range [][]string{{"help"}, {"--config", bad, "help", "version"}, {"--log-format", "xml", "--help"}} {
		out, errOut, code := runBrickyard(t, []string{"BRICKYARD_LOG_LEVEL=loud"}, args...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("run %q: code %d, stderr %q", args, code, errOut)
		}
	}
}
