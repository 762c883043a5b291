package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// A layer is what one source of configuration sets: each leaf key's raw value
// as the source gave it, and where it was given. Every value in a layer has
// been checked against the schema.
type layer struct {
	values map[string]any    // "log.level" -> "debug"
	where  map[string]string // "log.level" -> "flag --log-level", "x.yaml:3", ...
}

func newLayer() *layer {
	return &layer{values: map[string]any{}, where: map[string]string{}}
}

func (l *layer) set(key string, raw any, where string) {
	l.values[key] = raw
	l.where[key] = where
}

// nested turns the layer's flat keys into nested maps, as viper's config wants.
func (l *layer) nested() map[string]any {
	root := map[string]any{}
	for key, v := range l.values {
		m := root
		parts := strings.Split(key, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = v
	}
	return root
}

// envLayer checks the BRICKYARD_* variables in environ ("NAME=value" entries).
// Empty variables are ignored, as viper ignores them.
func (s *schema) envLayer(environ []string) (*layer, error) {
	l := newLayer()
	var errs []error
	for _, kv := range slices.Sorted(slices.Values(environ)) {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || val == "" {
			continue
		}
		where := "environment variable " + name
		f := s.byEnv[name]
		if f == nil {
			errs = append(errs, fmt.Errorf("%s: unknown key; expected one of %s", where, strings.Join(s.envNames(), ", ")))
			continue
		}
		if err := f.check(val, true); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", where, f.key, err))
			continue
		}
		l.set(f.key, val, where)
	}
	return l, errors.Join(errs...)
}

func (s *schema) envNames() []string {
	var names []string
	for _, l := range s.leaves {
		names = append(names, l.env)
	}
	return names
}

// flagKeyAnnotation marks a flag that sets a configuration key.
const flagKeyAnnotation = "brickyard_config_key"

// bindFlag marks flag name in fs as setting configuration key: loading binds it
// to that key. It panics if fs has no such flag (a programming error).
func bindFlag(fs *pflag.FlagSet, name, key string) {
	if err := fs.SetAnnotation(name, flagKeyAnnotation, []string{key}); err != nil {
		panic(fmt.Sprintf("bindFlag %q: %v", name, err))
	}
}

// bindFlags binds every flag in fs marked by bindFlag to its key in v, and
// checks the values of the flags given on the command line.
func (s *schema) bindFlags(v *viper.Viper, fs *pflag.FlagSet) (*layer, error) {
	l := newLayer()
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		keys := f.Annotations[flagKeyAnnotation]
		if len(keys) != 1 {
			return
		}
		where := "flag --" + f.Name
		leaf := s.byKey[keys[0]]
		if leaf == nil {
			errs = append(errs, fmt.Errorf("%s: bound to unknown configuration key %q", where, keys[0]))
			return
		}
		if err := v.BindPFlag(leaf.key, f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			return
		}
		if !f.Changed {
			return
		}
		raw := v.Get(leaf.key) // the flag's value, converted as viper converts it
		if err := leaf.check(raw, true); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", where, leaf.key, err))
			return
		}
		l.set(leaf.key, raw, where)
	})
	return l, errors.Join(errs...)
}
