package main

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"brickyard/configs"
)

func TestEmbeddedDefault(t *testing.T) {
	clearEnv(t)
	cfg, src, err := loadConfig("", false, pflag.NewFlagSet("test", pflag.ContinueOnError))
	if err != nil {
		t.Fatalf("embedded default: %v", err)
	}
	if want := (LogConfig{Level: "info", Format: "auto"}); cfg.Log != want {
		t.Errorf("embedded default log = %+v; want %+v", cfg.Log, want)
	}
	// Every key has a default, so `brickyard config` shows and documents it.
	for _, l := range newSchema(reflect.TypeFor[Config]()).leaves {
		if !strings.HasPrefix(src[l.key], "embedded default "+configs.DefaultName+":") {
			t.Errorf("%s: source %q; want the embedded default", l.key, src[l.key])
		}
	}
}

// showConfig runs `brickyard config` and returns each key's value and source.
func showConfig(t *testing.T, env []string, args ...string) map[string][2]string {
	t.Helper()
	out, errOut, code := runBrickyard(t, env, append(args, "config")...)
	if code != 0 {
		t.Fatalf("run %q: code %d, stderr %q", args, code, errOut)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("config output is not YAML: %v\n%s", err, out)
	}
	got := map[string][2]string{}
	var walk func(prefix string, n *yaml.Node)
	walk = func(prefix string, n *yaml.Node) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, v := joinKey(prefix, n.Content[i].Value), n.Content[i+1]
			if v.Kind == yaml.MappingNode {
				walk(key, v)
			} else {
				got[key] = [2]string{v.Value, strings.TrimPrefix(v.LineComment, "# ")}
			}
		}
	}
	walk("", doc.Content[0])
	return got
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "log:\n  level: debug\n")
	const def = "embedded default brickyard.yaml:"
	for _, tc := range []struct {
		name      string
		env, args []string
		level     string // want log.level's value
		source    string // and a prefix of its source
	}{
		{"default", nil, nil, "info", def},
		{"file over default", nil, []string{"--config", file}, "debug", file + ":2"},
		{"env over file", []string{"BRICKYARD_LOG_LEVEL=warn"}, []string{"--config", file}, "warn", "environment variable BRICKYARD_LOG_LEVEL"},
		{"flag over env", []string{"BRICKYARD_LOG_LEVEL=warn"}, []string{"--config", file, "--log-level", "error"}, "error", "flag --log-level"},
		{"flag over default", nil, []string{"--log-level=error"}, "error", "flag --log-level"},
		{"empty env ignored", []string{"BRICKYARD_LOG_LEVEL="}, []string{"--config", file}, "debug", file + ":2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := showConfig(t, tc.env, tc.args...)
			if lv := got["log.level"]; lv[0] != tc.level || !strings.HasPrefix(lv[1], tc.source) {
				t.Errorf("log.level = %q from %q; want %q from %q", lv[0], lv[1], tc.level, tc.source)
			}
			// A file naming only log.level leaves log.format at its default.
			if lf := got["log.format"]; lf[0] != "auto" || !strings.HasPrefix(lf[1], def) {
				t.Errorf("log.format = %q from %q; want auto from the embedded default", lf[0], lf[1])
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		file string // contents of the --config file, if not empty
		env  []string
		args []string
		want []string // each must appear in stderr; "FILE" stands for the file's path
	}{
		{name: "unknown key", file: "log:\n  level: info\n  colour: red\n",
			want: []string{"FILE:3: log.colour: unknown key; expected one of level, format"}},
		{name: "unknown section", file: "farm:\n  size: 3\n",
			want: []string{"FILE:1: farm: unknown key; expected one of log, run, fleet"}},
		{name: "unknown fleet key", file: "fleet:\n  size: 3\n",
			want: []string{"FILE:2: fleet.size: unknown key; expected one of ws_url, mqtt"}},
		{name: "fleet key of the wrong type", file: "fleet:\n  devices: many\n",
			want: []string{"FILE:2: fleet.devices: expected an integer; got \"many\""}},
		{name: "upper-case key", file: "log:\n  Level: debug\n",
			want: []string{"FILE:2: log.Level: unknown key; expected one of level, format"}},
		{name: "wrong type", file: "log:\n  level: [debug]\n",
			want: []string{"FILE:2: log.level: expected one of debug, info, warn, error; got a list"}},
		{name: "number for enum", file: "log:\n  level: 3\n",
			want: []string{"FILE:2: log.level: expected one of debug, info, warn, error; got 3"}},
		{name: "null value", file: "log:\n  level:\n",
			want: []string{"FILE:2: log.level: expected one of debug, info, warn, error; got null"}},
		{name: "section not a mapping", file: "log: verbose\n",
			want: []string{`FILE:1: log: expected a mapping; got "verbose"`}},
		{name: "top level not a mapping", file: "- log\n",
			want: []string{"FILE:1: top level: expected a mapping; got a list"}},
		{name: "complex key", file: "log:\n  ? [level]\n  : debug\n",
			want: []string{"FILE:2: log: expected a plain key; got a list"}},
		{name: "bad enum in file", file: "log:\n  format: xml\n",
			want: []string{`FILE:2: log.format: expected one of auto, console, json; got "xml"`}},
		{name: "duplicate key", file: "log:\n  level: info\n  level: debug\n",
			want: []string{"FILE:3: log.level: duplicate key; first at line 2"}},
		{name: "two documents", file: "log: {}\n---\nlog: {}\n",
			want: []string{"FILE:2: expected one YAML document; got more"}},
		{name: "YAML syntax error", file: "log:\n\tlevel: info\n",
			want: []string{"FILE: yaml: line 2: found character that cannot start any token"}},
		{name: "all problems at once", file: "log:\n  level: loud\n  format: xml\nfarm: {}\n",
			want: []string{"FILE:2: log.level:", "FILE:3: log.format:", "FILE:4: farm: unknown key"}},
		{name: "bad file value overridden by a flag", file: "log:\n  level: loud\n", args: []string{"--log-level", "info"},
			want: []string{`FILE:2: log.level: expected one of debug, info, warn, error; got "loud"`}},
		{name: "missing file", args: []string{"--config", dir + "/nope.yaml"},
			want: []string{"--config: open " + dir + "/nope.yaml: no such file or directory"}},
		{name: "directory as file", args: []string{"--config", dir},
			want: []string{"--config: read " + dir + ": is a directory"}},
		{name: "empty file name", args: []string{"--config="},
			want: []string{"--config: expected a file name; got an empty string"}},
		{name: "bad enum in env", env: []string{"BRICKYARD_LOG_FORMAT=xml"},
			want: []string{`environment variable BRICKYARD_LOG_FORMAT: log.format: expected one of auto, console, json; got "xml"`}},
		{name: "unknown env", env: []string{"BRICKYARD_LOG_COLOUR=red"},
			want: []string{"environment variable BRICKYARD_LOG_COLOUR: unknown key; expected one of BRICKYARD_LOG_LEVEL, BRICKYARD_LOG_FORMAT"}},
		{name: "bad enum in flag", args: []string{"--log-format", "xml"},
			want: []string{`flag --log-format: log.format: expected one of auto, console, json; got "xml"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			var path string
			if tc.file != "" {
				path = writeFile(t, tc.file)
				args = append([]string{"--config", path}, args...)
			}
			out, errOut, code := runBrickyard(t, tc.env, append(args, "version")...)
			if code != 1 || out != "" {
				t.Errorf("code %d, stdout %q; want 1 and nothing", code, out)
			}
			for _, w := range tc.want {
				if w = "brickyard: " + strings.ReplaceAll(w, "FILE", path); !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

func TestUnreadableConfigFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can read any file")
	}
	path := writeFile(t, "log: {}\n")
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runBrickyard(t, nil, "--config", path, "version")
	if want := "brickyard: --config: open " + path + ": permission denied"; code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("code %d, stderr %q; want 1, %q", code, errOut, want)
	}
}

// FuzzConfigFile checks that no configuration file makes loading panic.
func FuzzConfigFile(f *testing.F) {
	for _, seed := range []string{"", "log: {}\n", "log:\n  level: debug\n", "log: [\n", "- a\n", "a: &x [*x]\n",
		"log:\n  <<: {level: warn}\n", "log:\n  <<: [*a]\n", "? [a]\n: b\n", "log:\n  level: !!binary aGk=\n"} {
		f.Add([]byte(seed))
	}
	s := newSchema(reflect.TypeFor[Config]())
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := s.yamlLayer("fuzz.yaml", data)
		if err == nil && l == nil {
			t.Fatal("nil layer without an error")
		}
	})
}

func TestYAMLMergeKeys(t *testing.T) {
	s := newSchema(reflect.TypeFor[Config]())
	for _, tc := range []struct {
		name, doc    string
		level, where string // want log.level and its line, or an error containing where
		wantErr      bool
	}{
		{name: "explicit key overrides merge", doc: "log:\n  <<: {level: debug}\n  level: warn\n", level: "warn", where: "f.yaml:3"},
		{name: "earlier merge wins", doc: "log:\n  <<: [{level: debug}, {level: warn}]\n", level: "debug", where: "f.yaml:2"},
		{name: "self merge", doc: "log: &x\n  <<: *x\n", where: "refers to the mapping that contains it", wantErr: true},
		{name: "merge bomb", wantErr: true, where: "too many merged aliases", doc: "a: &a {level: info}\n" +
			"b: &b {<<: [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]}\nc: &c {<<: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]}\n" +
			"d: &d {<<: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]}\ne: &e {<<: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]}\n" +
			"f: &f {<<: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]}\nlog: {<<: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := s.yamlLayer("f.yaml", []byte(tc.doc))
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), tc.where) {
					t.Errorf("error %v; want one containing %q", err, tc.where)
				}
				return
			}
			if err != nil || l.values["log.level"] != tc.level || l.where["log.level"] != tc.where {
				t.Errorf("log.level = %v at %q, err %v; want %q at %q", l.values["log.level"], l.where["log.level"], err, tc.level, tc.where)
			}
		})
	}
}

// Every flag of run and fleet is a configuration key (section.<flag with
// - as _>), bound to it, whose default in configs/brickyard.yaml is the
// flag's own default, so that --help tells the truth.
func TestCommandFlagsAreKeys(t *testing.T) {
	clearEnv(t)
	s := newSchema(reflect.TypeFor[Config]())
	defaults, err := s.yamlLayer("default", configs.Default())
	if err != nil {
		t.Fatal(err)
	}
	a := &app{}
	for _, cmd := range []*cobra.Command{newRunCmd(a), newFleetCmd(a)} {
		section := cmd.Name()
		n := 0
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			n++
			key := section + "." + strings.ReplaceAll(f.Name, "-", "_")
			if got := f.Annotations[flagKeyAnnotation]; len(got) != 1 || got[0] != key {
				t.Errorf("%s --%s: bound to %v, want %s", section, f.Name, got, key)
			}
			if s.byKey[key] == nil {
				t.Errorf("%s --%s: no configuration key %s", section, f.Name, key)
				return
			}
			want := fmt.Sprint(defaults.values[key])
			switch v := defaults.values[key].(type) {
			case []any:
				want = "[]"
				if len(v) > 0 {
					want = fmt.Sprint(v)
				}
			}
			got := f.DefValue
			if d, err := time.ParseDuration(got); err == nil && f.Value.Type() == "duration" {
				if dw, err := time.ParseDuration(want); err == nil && dw == d {
					got = want
				}
			}
			if got != want {
				t.Errorf("%s --%s: flag default %q, configs/brickyard.yaml %s: %q", section, f.Name, f.DefValue, key, want)
			}
		})
		if n < 9 {
			t.Errorf("%s: only %d flags", section, n)
		}
	}
}

// A fleet setting through each layer: the file gives devices, the
// environment the board, the flag the version; a flag beats the
// environment, which beats the file. Shard 2 of 2 of 4 devices starts at
// device 3, so the devices' count shows in the first device's ID.
func TestFleetConfigLayers(t *testing.T) {
	file := writeFile(t, "fleet:\n  devices: 4\n  board: mcuboot-nrf52\n  version: 3.0.0\n")
	out, errOut, code := runBrickyard(t, []string{"BRICKYARD_FLEET_BOARD=esp32-ota", "BRICKYARD_FLEET_VERSION=4.0.0"},
		"--config", file, "fleet", "--shard", "2/2", "--dump-model", "--version", "2.0.0")
	if code != 0 || !strings.Contains(out, "# os::00256D-SIM000003: board esp32-ota, firmware 2.0.0") {
		t.Fatalf("code %d, stderr %s\n%s", code, errOut, out)
	}
	// A bad value names its layer and key.
	_, errOut, code = runBrickyard(t, []string{"BRICKYARD_FLEET_DEVICES=lots"}, "fleet", "--dump-model")
	if code != 1 || !strings.Contains(errOut, "environment variable BRICKYARD_FLEET_DEVICES: fleet.devices: expected an integer") {
		t.Fatalf("code %d, stderr %s", code, errOut)
	}
	// A value Resolve refuses names the flag, from whichever layer.
	_, errOut, code = runBrickyard(t, []string{"BRICKYARD_FLEET_DEVICES=0"}, "fleet", "--dump-model")
	if code != 1 || !strings.Contains(errOut, "--devices: 0: want 1 to 1,000,000") {
		t.Fatalf("code %d, stderr %s", code, errOut)
	}
}

// run's settings come from the file as well: run.devices and run.seed.
func TestRunConfigLayers(t *testing.T) {
	file := writeFile(t, "run:\n  devices: 12\n  seed: 3\n  quiet: true\n")
	out, errOut, code := runBrickyard(t, nil, "--config", file, "run", "power-cuts-10k")
	if code != 0 && code != ExitExpectations {
		t.Fatalf("code %d: %s", code, errOut)
	}
	if !strings.Contains(out, "seed 3") || !strings.Contains(out, ": 12 devices") || strings.Contains(errOut, "devices  connected") {
		t.Fatalf("stderr %s\n%s", errOut, out)
	}
}
