package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"brickyard/configs"
	"brickyard/scenarios/agents"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is brickyard's configuration. Each section's type lives next to the
// code that uses it (LogConfig in logging.go). Every key must have its default,
// with a comment, in configs/brickyard.yaml; TestEmbeddedDefault checks that.
//
// A section is a struct field with a mapstructure tag naming its YAML key;
// a leaf is any other field. Leaf types are checked strictly when loaded:
// a string type with a Values method (see enum) accepts only those values,
// a type implementing encoding.TextUnmarshaler parses itself, and
// time.Duration takes strings such as "30s".
type Config struct {
	Log   LogConfig     `mapstructure:"log"`
	Run   RunConfig     `mapstructure:"run"`   // brickyard run's flags (run.go)
	Fleet agents.Config `mapstructure:"fleet"` // brickyard fleet's flags
	Bench BenchConfig   `mapstructure:"bench"` // real boards on the bench (benchcfg.go)
}

// sources maps each leaf key to where its effective value came from:
// "embedded default brickyard.yaml:21", "/etc/brickyard.yaml:3",
// "environment variable BRICKYARD_LOG_LEVEL" or "flag --log-level".
type sources map[string]string

// loadConfig loads brickyard's configuration. Layers, lowest to highest: the
// embedded default, the --config file (if fileSet), BRICKYARD_* environment
// variables, and the flags in fs that bindFlag marked. fs should be the
// running command's Flags(), which include the inherited persistent flags.
func loadConfig(file string, fileSet bool, fs *pflag.FlagSet) (Config, sources, error) {
	return load[Config](configs.Default(), file, fileSet, fs)
}

// load is loadConfig for any configuration struct T with default def.
// Each layer is checked on its own, so an error names the layer that caused
// it, even when a higher layer overrides the bad value; all problems are
// reported together. Viper then resolves the precedence.
func load[T any](def []byte, file string, fileSet bool, fs *pflag.FlagSet) (T, sources, error) {
	var zero T
	s := newSchema(reflect.TypeFor[T]())
	v := viper.New() // one per invocation; never the global viper

	defaults, err := s.yamlLayer("embedded default "+configs.DefaultName, def)
	errs := []error{err}
	var fromFile *layer
	if fileSet {
		if file == "" {
			return zero, nil, errors.New("--config: expected a file name; got an empty string")
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return zero, nil, fmt.Errorf("--config: %w", err)
		}
		fromFile, err = s.yamlLayer(file, data)
		errs = append(errs, err)
	}
	fromEnv, err := s.envLayer(os.Environ())
	errs = append(errs, err)
	fromFlags, err := s.bindFlags(v, fs)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return zero, nil, err
	}

	for key, raw := range defaults.values {
		v.SetDefault(key, raw)
	}
	if fromFile != nil {
		if err := v.MergeConfigMap(fromFile.nested()); err != nil {
			return zero, nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	src := sources{}
	for _, l := range s.leaves {
		// Explicit names: AutomaticEnv would only see keys viper already knows.
		if err := v.BindEnv(l.key, l.env); err != nil {
			return zero, nil, err
		}
		for _, ly := range []*layer{fromFlags, fromEnv, fromFile, defaults} {
			if where, ok := ly.lookup(l.key); ok {
				src[l.key] = where
				break
			}
		}
		if src[l.key] == "" {
			return zero, nil, fmt.Errorf("embedded default %s: %s: missing; every key needs a default", configs.DefaultName, l.key)
		}
	}

	var cfg T
	if err := v.Unmarshal(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.DecodeHook = decodeHook()
	}); err != nil {
		return zero, nil, fmt.Errorf("decoding configuration: %w", err)
	}
	return cfg, src, nil
}

// lookup returns where the layer set key; a nil layer sets nothing.
func (l *layer) lookup(key string) (string, bool) {
	if l == nil {
		return "", false
	}
	where, ok := l.where[key]
	return where, ok
}

// bindSection binds every flag of a command's own flag set (not the
// persistent ones) to the key section.<flag with - as _> of the
// configuration: --mqtt-version of fleet is fleet.mqtt_version, so every
// flag can come from the configuration file or a BRICKYARD_* variable too.
func bindSection(fs *pflag.FlagSet, section string) {
	fs.VisitAll(func(f *pflag.Flag) {
		bindFlag(fs, f.Name, section+"."+strings.ReplaceAll(f.Name, "-", "_"))
	})
}

// given returns a function that reports whether the user set the flag
// name of section in any layer above the embedded default: the file,
// the environment or the flag itself.
func (a *app) given(section string) func(name string) bool {
	return func(name string) bool {
		where, ok := a.sources[section+"."+strings.ReplaceAll(name, "-", "_")]
		return ok && !strings.HasPrefix(where, "embedded default ")
	}
}
