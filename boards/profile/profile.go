// Package profile reads board profiles: named combinations of a flash chip,
// a partition layout and a bootloader model with its options. The built-in
// profiles are data, configs/boards.yaml; users add their own files of the
// same form.
package profile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"brickyard/boards"
	"brickyard/boards/image"
	"brickyard/boards/image/formats"
	"brickyard/flash"
)

// Profile is one board type.
type Profile struct {
	Name        string
	Description string
	// Model names the vendor data-model file (docs/vendor-model.md) the
	// board's devices present: brickyard fleet and run load it.
	Model  string
	Flash  flash.Geometry
	Layout boards.Layout
	Loader boards.Bootloader
}

// Set is the profiles of one or more files, by name.
type Set map[string]Profile

// Names lists the profiles, sorted.
func (s Set) Names() []string {
	out := make([]string, 0, len(s))
	for n := range s {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Get returns the named profile, or an error listing the known names.
func (s Set) Get(name string) (Profile, error) {
	p, ok := s[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown board %q (known: %s)", name, strings.Join(s.Names(), ", "))
	}
	return p, nil
}

// LoaderFactory builds a bootloader model from its options (a YAML mapping,
// possibly empty). It decodes strictly.
type LoaderFactory func(decode func(into any) error) (boards.Bootloader, error)

type fileDoc struct {
	Boards map[string]boardDoc `yaml:"boards"`
}

type boardDoc struct {
	Description string    `yaml:"description"`
	Model       string    `yaml:"model"`
	Bootloader  string    `yaml:"bootloader"`
	Flash       flashDoc  `yaml:"flash"`
	Partitions  []partDoc `yaml:"partitions"`
	Options     yaml.Node `yaml:"options"`
}

type flashDoc struct {
	Size      Size   `yaml:"size"`
	Sector    Size   `yaml:"sector"`
	WriteUnit int    `yaml:"write_unit"`
	Erased    *uint8 `yaml:"erased"`
	Rewrite   string `yaml:"rewrite"`
	Endurance uint32 `yaml:"endurance"`
}

type partDoc struct {
	Name   string `yaml:"name"`
	Offset Size   `yaml:"offset"`
	Size   Size   `yaml:"size"`
}

// Parse reads a profile file. source names it in errors ("configs/boards.yaml",
// a path); loaders maps bootloader names to their factories. Unknown keys,
// bad values, unknown bootloaders and layouts that do not fit the chip are
// errors naming the file, the board and what was wrong.
func Parse(source string, data []byte, loaders map[string]LoaderFactory) (Set, error) {
	var doc fileDoc
	if _, err := DecodeStrict(source, data, &doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(doc.Boards) == 0 {
		return nil, fmt.Errorf("%s: no boards: the file needs a top-level boards: mapping", source)
	}
	set := Set{}
	for name, bd := range doc.Boards {
		p, err := build(name, bd, loaders)
		if err != nil {
			return nil, fmt.Errorf("%s: board %q: %w", source, name, err)
		}
		set[name] = p
	}
	return set, nil
}

func build(name string, bd boardDoc, loaders map[string]LoaderFactory) (Profile, error) {
	if len(name) == 0 || len(name) > 16 || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return Profile{}, errors.New("a board name is 1 to 16 characters of printable ASCII without spaces (images carry it)")
	}
	g := flash.Geometry{Size: int(bd.Flash.Size), SectorSize: int(bd.Flash.Sector), WriteUnit: bd.Flash.WriteUnit,
		Erased: 0xFF, Endurance: bd.Flash.Endurance}
	if bd.Flash.Erased != nil {
		g.Erased = *bd.Flash.Erased
	}
	switch bd.Flash.Rewrite {
	case "", "combine":
		g.Rewrite = flash.RewriteCombine
	case "forbid":
		g.Rewrite = flash.RewriteForbid
	default:
		return Profile{}, fmt.Errorf("flash.rewrite %q: want combine or forbid", bd.Flash.Rewrite)
	}
	if err := g.Validate(); err != nil {
		return Profile{}, err
	}
	var layout boards.Layout
	for _, pd := range bd.Partitions {
		layout = append(layout, boards.Partition{Name: pd.Name, Offset: int(pd.Offset), Size: int(pd.Size)})
	}
	if err := layout.Validate(g.Size, g.SectorSize); err != nil {
		return Profile{}, err
	}
	factory, ok := loaders[bd.Bootloader]
	if !ok {
		known := make([]string, 0, len(loaders))
		for k := range loaders {
			known = append(known, k)
		}
		sort.Strings(known)
		return Profile{}, fmt.Errorf("bootloader %q: want one of %s", bd.Bootloader, strings.Join(known, ", "))
	}
	opts := bd.Options
	l, err := factory(func(into any) error {
		if opts.Kind == 0 {
			return nil
		}
		raw, err := yaml.Marshal(&opts)
		if err != nil {
			return err
		}
		d := yaml.NewDecoder(bytes.NewReader(raw))
		d.KnownFields(true)
		if err := d.Decode(into); err != nil {
			return fmt.Errorf("options (line %d): %w", opts.Line, err)
		}
		return nil
	})
	if err != nil {
		return Profile{}, fmt.Errorf("bootloader %s: %w", bd.Bootloader, err)
	}
	for _, s := range l.Slots() {
		if _, ok := layout.Get(s); !ok {
			return Profile{}, fmt.Errorf("bootloader %s needs a partition named %q", bd.Bootloader, s)
		}
	}
	return Profile{Name: name, Description: bd.Description, Model: bd.Model, Flash: g, Layout: layout, Loader: l}, nil
}

// Provision makes a factory-fresh board of this profile running img.
func (p Profile) Provision(keys *image.Keyring, img *flash.Blob) (*boards.Board, error) {
	return boards.Provision(p.Name, p.Flash, p.Layout, p.Loader, keys, img)
}

// ImageRules are the rules the profile's bootloader verifies images by
// (formats.Rules{}, BYFW only, for a loader without its own), before a
// board exists: without the bounds a board's slots add.
func (p Profile) ImageRules() formats.Rules {
	if r, ok := p.Loader.(boards.ImageRuler); ok {
		return r.ImageRules(nil)
	}
	return formats.Rules{}
}

// SlotSize is the size of the smallest image slot: the largest image the
// board takes.
func (p Profile) SlotSize() int {
	n := p.Flash.Size
	for _, s := range p.Loader.Slots() {
		if part, ok := p.Layout.Get(s); ok && part.Size < n {
			n = part.Size
		}
	}
	return n
}
