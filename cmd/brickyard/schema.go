package main

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

// envPrefix starts the name of every environment variable that sets a
// configuration key: key log.level is BRICKYARD_LOG_LEVEL.
const envPrefix = "BRICKYARD_"

// enum is implemented by a string type whose values form a closed set, such
// as LogFormat. A value outside the set is rejected when it is loaded.
type enum interface{ Values() []string }

// schema lists the configuration keys of a struct type. It is derived from the
// struct's mapstructure tags, so the struct is the one definition of what can
// be configured. A struct-typed field is a section; any other field is a leaf.
type schema struct {
	leaves   []*leaf             // in struct order
	byKey    map[string]*leaf    // "log.level" -> leaf
	byEnv    map[string]*leaf    // "BRICKYARD_LOG_LEVEL" -> leaf
	children map[string][]string // section key ("" for the top level) -> child names
}

// leaf is one settable key.
type leaf struct {
	key   string // e.g. "log.level"
	env   string // e.g. "BRICKYARD_LOG_LEVEL"
	index []int  // reflect field index path from the root struct
	typ   reflect.Type
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func newSchema(t reflect.Type) *schema {
	s := &schema{byKey: map[string]*leaf{}, byEnv: map[string]*leaf{}, children: map[string][]string{}}
	s.walk(t, "", nil)
	return s
}

func (s *schema) walk(t reflect.Type, prefix string, index []int) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		key := joinKey(prefix, name)
		idx := append(slices.Clone(index), i)
		s.children[prefix] = append(s.children[prefix], name)
		if isSection(f.Type) {
			s.walk(f.Type, key, idx)
			continue
		}
		l := &leaf{key: key, env: envName(key), index: idx, typ: f.Type}
		s.leaves = append(s.leaves, l)
		s.byKey[key] = l
		s.byEnv[l.env] = l
	}
}

func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(textUnmarshalerType)
}

func (s *schema) isSection(key string) bool {
	_, ok := s.children[key]
	return ok
}

// expectedChildren describes the keys allowed in a section.
func (s *schema) expectedChildren(section string) string {
	return "expected one of " + strings.Join(s.children[section], ", ")
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// decodeHook converts strings to durations, lists (comma-separated) and types
// that implement encoding.TextUnmarshaler. The final viper decode uses it too.
func decodeHook() mapstructure.DecodeHookFunc {
	return mapstructure.ComposeDecodeHookFunc(
		mapstructure.TextUnmarshallerHookFunc(),
		mapstructure.StringToTimeDurationHookFunc(),
		mapstructure.StringToSliceHookFunc(","),
	)
}

// check reports whether raw, a value as one source gave it, is a valid value
// for the leaf. weak allows the string conversions that environment variables
// and flags need ("5" for an integer, "true" for a boolean). The error says
// what was expected and what was got; the caller adds the source and key.
func (l *leaf) check(raw any, weak bool) error {
	if raw == nil || (l.typ == durationType && !isString(raw)) {
		return l.mismatch(raw)
	}
	ptr := reflect.New(l.typ)
	if u, ok := ptr.Interface().(encoding.TextUnmarshaler); ok {
		if !isString(raw) {
			return l.mismatch(raw)
		}
		return u.UnmarshalText([]byte(raw.(string))) // the type's own message
	}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result: ptr.Interface(), WeaklyTypedInput: weak, DecodeHook: decodeHook(), ErrorUnused: true,
	})
	if err != nil {
		return err
	}
	if err := dec.Decode(raw); err != nil || !sameNumber(raw, ptr.Elem()) {
		if err != nil && l.typ.Kind() == reflect.Slice && l.typ.Elem().Kind() == reflect.Struct {
			// A list of mappings: mapstructure names the entry and the key.
			msg := strings.TrimPrefix(err.Error(), "decoding failed due to the following error(s):")
			return errors.New(strings.Join(strings.Fields(msg), " "))
		}
		return l.mismatch(raw)
	}
	if e, ok := ptr.Elem().Interface().(enum); ok && !slices.Contains(e.Values(), fmt.Sprint(e)) {
		return l.mismatch(raw)
	}
	return nil
}

func (l *leaf) mismatch(raw any) error {
	return fmt.Errorf("expected %s; got %s", expectation(l.typ), describe(raw))
}

// sameNumber rejects the conversions mapstructure makes silently: a fraction
// or an out-of-range number decoded into an integer field.
func sameNumber(raw any, v reflect.Value) bool {
	var want float64
	switch r := raw.(type) {
	case int:
		want = float64(r)
	case uint64:
		want = float64(r)
	case float64:
		want = r
	default:
		return true
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int()) == want
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(v.Uint()) == want
	}
	return true
}

func isString(raw any) bool {
	_, ok := raw.(string)
	return ok
}

// expectation describes the values a type accepts, for error messages.
func expectation(t reflect.Type) string {
	if e, ok := reflect.Zero(t).Interface().(enum); ok {
		return "one of " + strings.Join(e.Values(), ", ")
	}
	if t == durationType {
		return "a duration such as 30s or 1m30s"
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(expectation(t.Elem()), "a "), "an ") + " values"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

// describe shows a raw value in an error message.
func describe(raw any) string {
	if raw == nil {
		return "null"
	}
	if s, ok := raw.(string); ok {
		return strconv.Quote(s)
	}
	switch reflect.TypeOf(raw).Kind() {
	case reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	}
	return fmt.Sprint(raw)
}
