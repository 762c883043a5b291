package fit

import (
	"fmt"
	"io"
	"strings"

	"brickyard/boards/image"
)

// Rules are what a U-Boot build and its environment decide about the FIT
// it boots. The zero value boots the default configuration, checks
// hashes and no signatures, on any architecture.
type Rules struct {
	// Config is the configuration to boot (bootm ADDR#CONFIG); "" means
	// the FIT's default.
	Config string
	// RequireSignature: the control device tree holds the trusted keys
	// with required = "conf" (and required-mode "any"): the configuration
	// must carry a signature node that one of them verifies
	// (CONFIG_FIT_SIGNATURE). Node names with '@' are refused then.
	RequireSignature bool
	// Arch, when set, is U-Boot's architecture: the kernel's "arch" must
	// be it ("arm", "arm64", …).
	Arch string
}

// Verify checks the FIT at the start of r, where size bytes are readable
// (a slot), as bootm loading the configuration does (fit_check_format,
// fit_conf_get_node, fit_config_verify, fit_image_load of each image the
// configuration names), and returns what the board needs of it: its
// version from the root "version" property, its extent, the signer.
// p is not used: U-Boot has no board id or rollback counter for FITs.
func Verify(r io.ReaderAt, size int64, keys *image.Keyring, rules Rules, p image.Policy) (image.Info, error) {
	return verify(r, size, keys, rules, nil)
}

// Describe is Verify that also explains: the root's properties, every
// image with its hashes, every configuration with its signatures, and
// each check made.
func Describe(r io.ReaderAt, size int64, keys *image.Keyring, rules Rules, p image.Policy) (image.Info, *image.Report, error) {
	rep := &image.Report{Format: image.FormatFIT}
	info, err := verify(r, size, keys, rules, rep)
	return info, rep, err
}

func verify(r io.ReaderAt, size int64, keys *image.Keyring, rules Rules, rep *image.Report) (image.Info, error) {
	size = max(size, 0)
	f, err := Parse(r, size)
	if err != nil {
		return image.Info{}, rep.Check("tree", err, "")
	}
	f.describe(rep, size)
	rep.Check("tree", nil, fmt.Sprintf("FDT version %d, %d bytes", f.tree.Header.Version, f.tree.Header.TotalSize))
	info := image.Info{Format: image.FormatFIT, Size: int(f.Extent(size))}
	if v, ok := f.Version(); ok {
		info.VersionText = v
		info.Version, _ = image.ParseVersionText(v)
	}
	info.SetHealthFail(hasProp(f.tree.Root, PropHealthFail))

	if rules.RequireSignature {
		if err := noAt(f.tree.Root); err != nil {
			return info, rep.Check("tree", err, "")
		}
	}
	conf, err := f.Config(rules.Config)
	if err != nil {
		return info, rep.Check("configuration", err, "")
	}
	rep.Check("configuration", nil, conf.Name)
	if rules.RequireSignature {
		signer, err := f.verifyConfig(r, size, conf, keys, rep)
		if err := rep.Check("signature", err, signer); err != nil {
			return info, err
		}
		info.Signer = signer
	} else {
		rep.Skip("signature", "the board holds no key that requires one")
	}

	// The images bootm loads: the kernel (or firmware), then whatever
	// else the configuration names.
	main, kind := conf.Strings("kernel"), "kernel"
	if len(main) == 0 {
		main, kind = conf.Strings("firmware"), "firmware"
	}
	if len(main) == 0 {
		return info, rep.Check("images", fmt.Errorf("%w: configuration %q names no kernel or firmware", ErrFIT, conf.Name), "")
	}
	if err := f.checkMain(main[0], kind, rules.Arch); err != nil {
		return info, rep.Check("images", err, "")
	}
	checked := map[string]bool{}
	for _, p := range conf.Props {
		switch p.Name {
		case "description", "compatible", "default":
			continue
		}
		for _, name := range conf.Strings(p.Name) {
			if checked[name] {
				continue
			}
			checked[name] = true
			img, ok := f.Image(name)
			if !ok {
				return info, rep.Check("images", fmt.Errorf("%w: configuration %q: %s %q is not in /images", ErrFIT, conf.Name, p.Name, name), "")
			}
			if err := f.checkHashes(r, size, img, rep); err != nil {
				return info, rep.Check("hash "+name, err, "")
			}
		}
	}
	rep.Check("images", nil, fmt.Sprintf("%s %s and the rest of %s", kind, main[0], conf.Name))
	return info, nil
}

// checkMain checks the kernel or firmware image's type and architecture.
func (f *FIT) checkMain(name, kind, arch string) error {
	img, ok := f.Image(name)
	if !ok {
		return fmt.Errorf("%w: %s %q is not in /images", ErrFIT, kind, name)
	}
	typ, _ := img.String("type")
	okType := map[string][]string{"kernel": {"kernel", "kernel_noload"}, "firmware": {"firmware", "standalone", "kernel"}}[kind]
	found := false
	for _, t := range okType {
		found = found || t == typ
	}
	if !found {
		return fmt.Errorf("%w: %s image %q has type %q, want %s", ErrFIT, kind, name, typ, strings.Join(okType, " or "))
	}
	if a, _ := img.String("arch"); arch != "" && a != arch {
		return fmt.Errorf("%w: %s image %q is for arch %q, this U-Boot is %q", ErrFIT, kind, name, a, arch)
	}
	return nil
}

// verifyConfig is fit_config_verify with required keys in "any" mode: a
// signature-* node of the configuration that a trusted key of its
// algorithm verifies.
func (f *FIT) verifyConfig(r io.ReaderAt, size int64, conf *Node, keys *image.Keyring, rep *image.Report) (string, error) {
	inc, _, nodesErr := f.signedNodes(conf)
	var sigs int
	var anyKey bool
	var last error
	for _, sn := range conf.Children {
		if !strings.HasPrefix(sn.Name, "signature") {
			continue
		}
		sigs++
		if nodesErr != nil {
			return "", nodesErr
		}
		algoName, _ := sn.String("algo")
		a, err := parseSigAlgo(algoName)
		if err != nil {
			last = fmt.Errorf("%w: %s: %v", ErrSignature, sn.Name, err)
			continue
		}
		value, ok := sn.Get("value")
		if !ok || value.Value == nil {
			last = fmt.Errorf("%w: %s has no value", ErrSignature, sn.Name)
			continue
		}
		n, _, err := f.hashedStrings(sn)
		if err != nil {
			last = fmt.Errorf("%w: %s: %v", ErrSignature, sn.Name, err)
			continue
		}
		digest, err := f.configDigest(r, size, a, inc, n)
		if err != nil {
			return "", err
		}
		padding, _ := sn.String("padding")
		for _, k := range keys.Keys() {
			if alg, _ := image.KeyAlgorithm(k.Public); alg != a.key {
				continue
			}
			anyKey = true
			if a.verify(k.Public, digest, value.Value, padding == "pss") {
				return k.Name, nil
			}
		}
		last = fmt.Errorf("%w: %s (%s) verifies with none of the board's %s keys", ErrSignature, sn.Name, algoName, a.key)
	}
	switch {
	case sigs == 0:
		return "", fmt.Errorf("%w: configuration %q has no signature node", ErrNotSigned, conf.Name)
	case !anyKey && last != nil && strings.Contains(last.Error(), "verifies with none"):
		return "", fmt.Errorf("%w: the board has no key of the algorithm configuration %q is signed with", ErrUnknownKey, conf.Name)
	}
	return "", last
}

// noAt refuses node names with '@' (fdt_check_no_at), which signature
// checking cannot tell apart from the name without it.
func noAt(n *Node) error {
	if strings.Contains(n.Name, "@") {
		return fmt.Errorf("%w: node %s has '@' in its name, which FIT signature checking refuses", ErrTree, n.Path)
	}
	for _, c := range n.Children {
		if err := noAt(c); err != nil {
			return err
		}
	}
	return nil
}

func (f *FIT) describe(rep *image.Report, size int64) {
	if rep == nil {
		return
	}
	root := f.tree.Root
	d, _ := root.String("description")
	rep.Field("description", "%q", d)
	if v, ok := f.Version(); ok {
		rep.Field("version", "%q", v)
	}
	if ts, ok := root.Uint("timestamp"); ok {
		rep.Field("timestamp", "%d", ts)
	}
	if c, ok := root.String("creator"); ok {
		rep.Field("creator", "%q", c)
	}
	if hasProp(root, PropHealthFail) {
		rep.Field("brickyard", "health-fail")
	}
	for _, img := range f.images.Children {
		var parts []string
		for _, k := range []string{"description", "type", "arch", "os", "compression"} {
			if v, ok := img.String(k); ok {
				parts = append(parts, k+" "+v)
			}
		}
		for _, k := range []string{"load", "entry"} {
			if v, ok := img.Uint(k); ok {
				parts = append(parts, fmt.Sprintf("%s %#x", k, v))
			}
		}
		if off, n, err := f.dataRange(img, size); err == nil {
			parts = append(parts, fmt.Sprintf("%d bytes of data at %#x", n, off))
		}
		rep.Field("image "+img.Name, "%s", strings.Join(parts, ", "))
		for _, c := range img.Children {
			algo, _ := c.String("algo")
			v, _ := c.Get("value")
			var val []byte
			if v != nil {
				val = v.Value
			}
			rep.Field("image "+img.Name+"/"+c.Name, "%s %x", algo, val)
		}
	}
	if f.confs == nil {
		return
	}
	if d, ok := f.confs.String("default"); ok {
		rep.Field("default configuration", "%s", d)
	}
	for _, c := range f.confs.Children {
		var parts []string
		for _, p := range c.Props {
			if p.Name != "description" {
				parts = append(parts, p.Name+" "+strings.Join(c.Strings(p.Name), ","))
			}
		}
		rep.Field("configuration "+c.Name, "%s", strings.Join(parts, ", "))
		for _, s := range c.Children {
			algo, _ := s.String("algo")
			hint, _ := s.String("key-name-hint")
			pad, _ := s.String("padding")
			if pad == "" {
				pad = "pkcs-1.5"
			}
			rep.Field("configuration "+c.Name+"/"+s.Name, "%s, key-name-hint %q, padding %s", algo, hint, pad)
		}
	}
}
