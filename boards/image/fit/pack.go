package fit

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// Image is one image node of a FIT to build.
type Image struct {
	Name        string // the unit name under /images: "kernel-1"
	Description string
	Type        string // "kernel", "firmware", "flat_dt", "ramdisk", …
	Arch        string // "arm", "arm64", …; "" writes none
	OS          string // "linux", "u-boot", …; "" writes none
	Compression string // "" means "none"
	Load, Entry *uint32
	Data        []byte
	// Hashes are the algorithms of its hash-1, hash-2, … nodes ("crc32",
	// "sha1", "sha256", …); none means one sha256.
	Hashes []string
}

// Config is one configuration node.
type Config struct {
	Name, Description string
	Kernel, Firmware  string
	FDT, Loadables    []string
	Ramdisk           string
	// Sign, when set, gives the configuration a signature-1 node signed
	// with Pack's key: Algo as "sha256,rsa2048", "sha256,ecdsa256", …;
	// KeyNameHint is the key's name in U-Boot's control device tree;
	// Padding "" (PKCS#1 v1.5) or "pss".
	Sign *Signature
}

// Signature is a configuration signature's parameters.
type Signature struct {
	Algo, KeyNameHint, Padding string
}

// PackOptions describe a FIT to build.
type PackOptions struct {
	Description string
	Timestamp   uint32 // the root's timestamp (seconds since 1970); mkimage writes the time it ran
	Version     string // the root's "version" (PropVersion); "" writes none
	HealthFail  bool   // the root's PropHealthFail
	Images      []Image
	Configs     []Config
	Default     string // /configurations default; "" means the first configuration
}

// signerName and signerVersion are what Pack writes as a signature's
// signer-name and signer-version (mkimage writes "mkimage" and its version).
const (
	signerName    = "brickyard"
	signerVersion = "1"
)

// Pack builds a FIT with inline data, as mkimage -f writes one from an
// image source file (a version 17 device tree: header, empty memory
// reservation map, structure block, strings block), computing every hash
// node's value and signing each configuration with a Sign with key (nil
// when none is signed). RSA-PSS needs rand for its salt; PKCS#1 v1.5 and
// ECDSA (RFC 6979) are deterministic, so Pack's output is too.
func Pack(o PackOptions, key crypto.Signer, rand io.Reader) ([]byte, error) {
	if len(o.Images) == 0 || len(o.Configs) == 0 {
		return nil, fmt.Errorf("fit: a FIT needs at least one image and one configuration")
	}
	names := map[string]bool{}
	for _, im := range o.Images {
		if err := nodeName(im.Name); err != nil || names[im.Name] {
			return nil, fmt.Errorf("fit: image name %q: unique, 1-255 printable characters without '/' or '@'", im.Name)
		}
		names[im.Name] = true
	}
	def := o.Default
	if def == "" {
		def = o.Configs[0].Name
	}
	confNames := map[string]bool{}
	for _, c := range o.Configs {
		if err := nodeName(c.Name); err != nil || confNames[c.Name] {
			return nil, fmt.Errorf("fit: configuration name %q: unique, 1-255 printable characters without '/' or '@'", c.Name)
		}
		confNames[c.Name] = true
		refs := append(append([]string{c.Kernel, c.Firmware, c.Ramdisk}, c.FDT...), c.Loadables...)
		for _, r := range refs {
			if r != "" && !names[r] {
				return nil, fmt.Errorf("fit: configuration %q names image %q, which is not in the FIT", c.Name, r)
			}
		}
		if c.Kernel == "" && c.Firmware == "" {
			return nil, fmt.Errorf("fit: configuration %q names no kernel or firmware", c.Name)
		}
		if c.Sign != nil {
			if key == nil {
				return nil, fmt.Errorf("fit: configuration %q is to be signed and no key was given", c.Name)
			}
			if _, err := parseSigAlgo(c.Sign.Algo); err != nil {
				return nil, fmt.Errorf("fit: configuration %q: %v", c.Name, err)
			}
		}
	}
	if !confNames[def] {
		return nil, fmt.Errorf("fit: default configuration %q is not in the FIT", def)
	}

	var b fdtBuilder
	be := binary.BigEndian
	b.begin("")
	b.str("description", o.Description)
	b.prop("timestamp", be.AppendUint32(nil, o.Timestamp))
	b.prop("#address-cells", be.AppendUint32(nil, 1))
	if o.Version != "" {
		b.str(PropVersion, o.Version)
	}
	if o.HealthFail {
		b.prop(PropHealthFail, nil)
	}
	b.begin("images")
	for _, im := range o.Images {
		b.begin(im.Name)
		b.str("description", im.Description)
		b.str("type", im.Type)
		if im.Arch != "" {
			b.str("arch", im.Arch)
		}
		if im.OS != "" {
			b.str("os", im.OS)
		}
		comp := im.Compression
		if comp == "" {
			comp = "none"
		}
		b.str("compression", comp)
		if im.Load != nil {
			b.prop("load", be.AppendUint32(nil, *im.Load))
		}
		if im.Entry != nil {
			b.prop("entry", be.AppendUint32(nil, *im.Entry))
		}
		b.prop("data", im.Data)
		hashes := im.Hashes
		if len(hashes) == 0 {
			hashes = []string{"sha256"}
		}
		for i, algo := range hashes {
			h, ok := newHash(algo)
			if !ok {
				return nil, fmt.Errorf("fit: image %q: unknown hash algorithm %q", im.Name, algo)
			}
			h.Write(im.Data)
			b.begin(fmt.Sprintf("hash-%d", i+1))
			b.prop("value", h.Sum(nil))
			b.str("algo", algo)
			b.end()
		}
		b.end()
	}
	b.end()
	b.begin("configurations")
	b.str("default", def)
	for _, c := range o.Configs {
		b.begin(c.Name)
		b.str("description", c.Description)
		for _, p := range [][2]string{{"kernel", c.Kernel}, {"firmware", c.Firmware}, {"ramdisk", c.Ramdisk}} {
			if p[1] != "" {
				b.str(p[0], p[1])
			}
		}
		if len(c.FDT) > 0 {
			b.strList("fdt", c.FDT)
		}
		if len(c.Loadables) > 0 {
			b.strList("loadables", c.Loadables)
		}
		if c.Sign != nil {
			a, _ := parseSigAlgo(c.Sign.Algo)
			b.begin("signature-1")
			b.str("algo", c.Sign.Algo)
			b.str("key-name-hint", c.Sign.KeyNameHint)
			if c.Sign.Padding != "" {
				b.str("padding", c.Sign.Padding)
			}
			b.prop("value", make([]byte, sigLen(a, key))) // filled in below
			b.strList("hashed-nodes", signedPaths(c, o.Images))
			b.prop("timestamp", be.AppendUint32(nil, o.Timestamp))
			b.str("signer-name", signerName)
			b.str("signer-version", signerVersion)
			b.prop("hashed-strings", make([]byte, 8)) // filled in below
			b.end()
		}
		b.end()
	}
	b.end()
	b.end()
	blob := b.finish()

	// Sign: the tree is final but for the signature values and the
	// hashed-strings cells, which lie in the signature nodes and so are
	// outside every region a signature covers.
	f, err := Parse(bytes.NewReader(blob), int64(len(blob)))
	if err != nil {
		return nil, fmt.Errorf("fit: the tree just built does not parse: %w", err)
	}
	for _, c := range o.Configs {
		if c.Sign == nil {
			continue
		}
		conf, _ := f.Config(c.Name)
		sn, _ := conf.Child("signature-1")
		hs, _ := sn.Get("hashed-strings")
		be.PutUint32(blob[hs.ValueOffset+4:], f.tree.Header.SizeStrings)
		inc, _, err := f.signedNodes(conf)
		if err != nil {
			return nil, err
		}
		a, _ := parseSigAlgo(c.Sign.Algo)
		digest, err := f.configDigest(bytes.NewReader(blob), int64(len(blob)), a, inc, f.tree.Header.SizeStrings)
		if err != nil {
			return nil, err
		}
		sig, err := a.sign(key, rand, digest, c.Sign.Padding == "pss")
		if err != nil {
			return nil, fmt.Errorf("fit: sign configuration %q: %w", c.Name, err)
		}
		v, _ := sn.Get("value")
		if len(sig) != int(v.Len) {
			return nil, fmt.Errorf("fit: a %d-byte signature for a %d-byte value", len(sig), v.Len)
		}
		copy(blob[v.ValueOffset:], sig)
	}
	return blob, nil
}

// signedPaths is the hashed-nodes list mkimage writes for c: the root,
// the configuration, and each image it names with its hash nodes, in the
// order the configuration's properties name them. U-Boot before 2025
// hashes the nodes this property lists; later ones rebuild the list
// themselves, and Verify does too.
func signedPaths(c Config, images []Image) []string {
	byName := map[string]Image{}
	for _, im := range images {
		byName[im.Name] = im
	}
	out := []string{"/", "/configurations/" + c.Name}
	seen := map[string]bool{}
	refs := append(append([]string{c.Kernel, c.Firmware, c.Ramdisk}, c.FDT...), c.Loadables...)
	for _, r := range refs {
		if r == "" || seen[r] {
			continue
		}
		seen[r] = true
		out = append(out, "/images/"+r)
		n := max(len(byName[r].Hashes), 1)
		for i := range n {
			out = append(out, fmt.Sprintf("/images/%s/hash-%d", r, i+1))
		}
	}
	return out
}

// sigLen is the length of a signature value for a and key.
func sigLen(a sigAlgo, key crypto.Signer) int {
	if strings.HasPrefix(a.crypto, "ecdsa") {
		return 64
	}
	if k, ok := key.Public().(interface{ Size() int }); ok {
		return k.Size()
	}
	return 0
}

func nodeName(n string) error {
	if n == "" || len(n) > 255 || strings.ContainsAny(n, "/@") {
		return fmt.Errorf("bad node name")
	}
	for i := 0; i < len(n); i++ {
		if n[i] < 0x21 || n[i] > 0x7e {
			return fmt.Errorf("bad node name")
		}
	}
	return nil
}

// fdtBuilder writes a version 17 flattened device tree.
type fdtBuilder struct {
	st     []byte
	strs   []byte
	offset map[string]uint32
}

func (b *fdtBuilder) u32(v uint32) { b.st = binary.BigEndian.AppendUint32(b.st, v) }

func (b *fdtBuilder) align() {
	for len(b.st)%4 != 0 {
		b.st = append(b.st, 0)
	}
}

func (b *fdtBuilder) begin(name string) {
	b.u32(tokBeginNode)
	b.st = append(append(b.st, name...), 0)
	b.align()
}

func (b *fdtBuilder) end() { b.u32(tokEndNode) }

func (b *fdtBuilder) prop(name string, v []byte) {
	if b.offset == nil {
		b.offset = map[string]uint32{}
	}
	off, ok := b.offset[name]
	if !ok {
		off = uint32(len(b.strs))
		b.offset[name] = off
		b.strs = append(append(b.strs, name...), 0)
	}
	b.u32(tokProp)
	b.u32(uint32(len(v)))
	b.u32(off)
	b.st = append(b.st, v...)
	b.align()
}

func (b *fdtBuilder) str(name, v string) { b.prop(name, append([]byte(v), 0)) }

func (b *fdtBuilder) strList(name string, vs []string) {
	var v []byte
	for _, s := range vs {
		v = append(append(v, s...), 0)
	}
	b.prop(name, v)
}

// finish returns the blob: header, the memory reservation map's
// terminating entry, the structure block, the strings block.
func (b *fdtBuilder) finish() []byte {
	b.u32(tokEnd)
	const rsv = HeaderSize
	offStruct := rsv + 16
	offStrings := offStruct + len(b.st)
	total := offStrings + len(b.strs)
	out := make([]byte, offStruct, total)
	be := binary.BigEndian
	be.PutUint32(out[0:], FDTMagic)
	be.PutUint32(out[4:], uint32(total))
	be.PutUint32(out[8:], uint32(offStruct))
	be.PutUint32(out[12:], uint32(offStrings))
	be.PutUint32(out[16:], rsv)
	be.PutUint32(out[20:], minVersion)
	be.PutUint32(out[24:], lastCompWrite)
	be.PutUint32(out[28:], 0)
	be.PutUint32(out[32:], uint32(len(b.strs)))
	be.PutUint32(out[36:], uint32(len(b.st)))
	out = append(out, b.st...)
	return append(out, b.strs...)
}
