package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// shard is a TextUnmarshaler, as a later "i/K" flag type might be.
type shard struct{ I, K int }

func (s *shard) UnmarshalText(b []byte) error {
	if string(b) != "1/4" {
		return errors.New(`expected "i/K" with 0 <= i < K`)
	}
	*s = shard{1, 4}
	return nil
}

// richConfig has a leaf of each kind later sections will use.
type richConfig struct {
	Fleet struct {
		Size    int           `mapstructure:"size"`
		Small   int8          `mapstructure:"small"`
		Ratio   float64       `mapstructure:"ratio"`
		Enabled bool          `mapstructure:"enabled"`
		Timeout time.Duration `mapstructure:"timeout"`
		Tags    []string      `mapstructure:"tags"`
		Shard   shard         `mapstructure:"shard"`
		Format  LogFormat     `mapstructure:"format"`
	} `mapstructure:"fleet"`
}

const richDefault = "fleet:\n  size: 10\n  small: 1\n  ratio: 0.5\n  enabled: false\n  timeout: 30s\n" +
	"  tags: [a]\n  shard: 1/4\n  format: auto\n"

func TestLeafCheck(t *testing.T) {
	s := newSchema(reflect.TypeFor[richConfig]())
	for _, tc := range []struct {
		key  string
		raw  any
		weak bool   // as from an environment variable or flag
		want string // error text; "" means valid
	}{
		{"fleet.size", 5, false, ""},
		{"fleet.size", "5", false, `expected an integer; got "5"`},
		{"fleet.size", "5", true, ""},
		{"fleet.size", 1.5, false, "expected an integer; got 1.5"},
		{"fleet.size", "many", true, `expected an integer; got "many"`},
		{"fleet.small", 300, false, "expected an integer; got 300"},
		{"fleet.ratio", 1, false, ""},
		{"fleet.enabled", true, false, ""},
		{"fleet.enabled", "yes", false, `expected true or false; got "yes"`},
		{"fleet.enabled", "true", true, ""},
		{"fleet.timeout", "1m30s", false, ""},
		{"fleet.timeout", 30, false, "expected a duration such as 30s or 1m30s; got 30"},
		{"fleet.timeout", "soon", true, `expected a duration such as 30s or 1m30s; got "soon"`},
		{"fleet.tags", []any{"a", "b"}, false, ""},
		{"fleet.tags", "a,b", true, ""},
		{"fleet.tags", map[string]any{"a": 1}, false, "expected a list of string values; got a mapping"},
		{"fleet.shard", "1/4", false, ""},
		{"fleet.shard", "9/4", false, `expected "i/K" with 0 <= i < K`},
		{"fleet.shard", 3, false, "expected a string; got 3"},
		{"fleet.format", "json", true, ""},
		{"fleet.format", nil, false, "expected one of auto, console, json; got null"},
	} {
		err := s.byKey[tc.key].check(tc.raw, tc.weak)
		if got := errText(err); got != tc.want {
			t.Errorf("%s = %#v (weak %v): error %q; want %q", tc.key, tc.raw, tc.weak, got, tc.want)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestLoadRichConfig checks that values of every kind survive viper's merge
// and decode from each layer.
func TestLoadRichConfig(t *testing.T) {
	s := newSchema(reflect.TypeFor[richConfig]())
	for _, l := range s.leaves {
		t.Setenv(l.env, "")
	}
	t.Setenv("BRICKYARD_FLEET_TAGS", "x,y")
	t.Setenv("BRICKYARD_FLEET_SIZE", "7")
	file := writeFile(t, "fleet:\n  timeout: 2m\n  ratio: 1\n  size: 3\n")
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.Bool("enabled", false, "")
	bindFlag(fs, "enabled", "fleet.enabled")
	fs.Duration("timeout", 0, "")
	bindFlag(fs, "timeout", "fleet.timeout")
	if err := fs.Parse([]string{"--enabled"}); err != nil {
		t.Fatal(err)
	}

	cfg, src, err := load[richConfig]([]byte(richDefault), file, true, fs)
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Fleet
	if f.Size != 7 || f.Small != 1 || f.Ratio != 1 || !f.Enabled || f.Timeout != 2*time.Minute ||
		strings.Join(f.Tags, ",") != "x,y" || f.Shard != (shard{1, 4}) || f.Format != "auto" {
		t.Errorf("loaded %+v", f)
	}
	for key, want := range map[string]string{
		"fleet.size": "environment variable BRICKYARD_FLEET_SIZE", "fleet.enabled": "flag --enabled",
		"fleet.timeout": file + ":2", "fleet.small": "embedded default brickyard.yaml:3",
	} {
		if src[key] != want {
			t.Errorf("source of %s = %q; want %q", key, src[key], want)
		}
	}
}

func TestLoadNeedsEveryDefault(t *testing.T) {
	_, _, err := load[richConfig]([]byte("fleet: {size: 1}\n"), "", false, pflag.NewFlagSet("t", pflag.ContinueOnError))
	if err == nil || !strings.Contains(err.Error(), "fleet.small: missing; every key needs a default") {
		t.Errorf("error %v; want a missing default", err)
	}
}
