package fit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math/big"
	"strings"

	"brickyard/boards/image"
)

// newHash returns the hash a hash node's algo names ("crc32", "md5",
// "sha1", "sha256", "sha384", "sha512").
func newHash(algo string) (hash.Hash, bool) {
	switch algo {
	case "crc32":
		return crc32.NewIEEE(), true // big-endian in the value, as Sum writes it
	case "md5":
		return md5.New(), true
	case "sha1":
		return sha1.New(), true
	case "sha256":
		return sha256.New(), true
	case "sha384":
		return sha512.New384(), true
	case "sha512":
		return sha512.New(), true
	}
	return nil, false
}

// sigAlgo is a signature node's "algo": "sha256,rsa2048", "sha1,rsa4096",
// "sha256,ecdsa256", …
type sigAlgo struct {
	hash   string
	h      crypto.Hash
	crypto string // "rsa2048", "rsa3072", "rsa4096", "ecdsa256"
	key    string // the key algorithm it needs, as image.KeyAlgorithm names it
}

func parseSigAlgo(s string) (sigAlgo, error) {
	hs, cs, ok := strings.Cut(s, ",")
	a := sigAlgo{hash: hs, crypto: cs}
	switch hs {
	case "sha1":
		a.h = crypto.SHA1
	case "sha256":
		a.h = crypto.SHA256
	case "sha384":
		a.h = crypto.SHA384
	case "sha512":
		a.h = crypto.SHA512
	default:
		ok = false
	}
	switch cs {
	case "rsa2048", "rsa3072", "rsa4096":
		a.key = "rsa-" + cs[3:]
	case "ecdsa256":
		a.key = "ecdsa-p256"
	default:
		ok = false
	}
	if !ok {
		return sigAlgo{}, fmt.Errorf("unknown signature algorithm %q", s)
	}
	return a, nil
}

// verify checks value, a signature of digest, with pub; pss selects
// RSA-PSS (padding = "pss") over PKCS#1 v1.5.
func (a sigAlgo) verify(pub crypto.PublicKey, digest, value []byte, pss bool) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if pss {
			return rsa.VerifyPSS(k, a.h, digest, value, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: a.h}) == nil
		}
		return rsa.VerifyPKCS1v15(k, a.h, digest, value) == nil
	case *ecdsa.PublicKey:
		if len(value) != 64 {
			return false
		}
		return ecdsa.Verify(k, digest, new(big.Int).SetBytes(value[:32]), new(big.Int).SetBytes(value[32:]))
	}
	return false
}

// sign signs digest with s for the algorithm: PKCS#1 v1.5 or PSS for RSA
// (rand supplies the PSS salt; nil: PKCS#1 v1.5 needs none, and PSS
// refuses it), r‖s for ECDSA (RFC 6979, deterministic).
func (a sigAlgo) sign(s crypto.Signer, rand io.Reader, digest []byte, pss bool) ([]byte, error) {
	if alg, err := image.KeyAlgorithm(s.Public()); err != nil || alg != a.key {
		return nil, fmt.Errorf("fit: %s,%s needs an %s key, not %s", a.hash, a.crypto, a.key, alg)
	}
	switch k := s.(type) {
	case *rsa.PrivateKey:
		if pss {
			if rand == nil {
				return nil, fmt.Errorf("fit: RSA-PSS needs a random source for its salt")
			}
			return rsa.SignPSS(rand, k, a.h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: a.h})
		}
		return rsa.SignPKCS1v15(nil, k, a.h, digest)
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("fit: ECDSA key not on P-256")
		}
		der, err := k.Sign(nil, digest, a.h)
		if err != nil {
			return nil, err
		}
		r, sv, err := splitASN1(der)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		sv.FillBytes(out[32:])
		return out, nil
	}
	return nil, fmt.Errorf("fit: cannot sign with a %T", s)
}

// splitASN1 splits a DER ECDSA signature into r and s.
func splitASN1(der []byte) (r, s *big.Int, err error) {
	bad := fmt.Errorf("fit: malformed ECDSA signature")
	if len(der) < 8 || der[0] != 0x30 || int(der[1]) != len(der)-2 {
		return nil, nil, bad
	}
	rest := der[2:]
	var v [2]*big.Int
	for i := range v {
		if len(rest) < 2 || rest[0] != 0x02 || int(rest[1])+2 > len(rest) {
			return nil, nil, bad
		}
		v[i] = new(big.Int).SetBytes(rest[2 : 2+rest[1]])
		rest = rest[2+rest[1]:]
	}
	return v[0], v[1], nil
}

// region is a byte range of the structure block, from its start.
type region struct{ off, size int64 }

// excludedProps are left out of a configuration signature: image data,
// which each image's hash node protects instead.
var excludedProps = map[string]bool{"data": true, "data-size": true, "data-position": true, "data-offset": true}

// regions is fdt_find_regions: the parts of the structure block a
// configuration signature covers, given the paths of the nodes it signs.
// A listed node contributes its BEGIN_NODE and name, its properties (but
// the excluded ones), its NOPs and its END_NODE; a child of a listed node
// contributes only its BEGIN_NODE and END_NODE; the END token is always
// in. Adjacent ranges merge.
func (t *Tree) regions(inc map[string]bool) []region {
	var (
		out   []region
		stack []int
		want  int
		start int64 = -1
	)
	for _, tk := range t.tokens {
		include, stopAt := false, tk.next
		switch tk.kind {
		case tokProp:
			include, stopAt = want >= 2 && !excludedProps[tk.prop.Name], tk.off
		case tokNOP:
			include, stopAt = want >= 2, tk.off
		case tokBeginNode:
			stack = append(stack, want)
			if want == 1 {
				stopAt = tk.off
			}
			switch {
			case inc[tk.node.Path]:
				want = 2
			case want > 0:
				want--
			default:
				stopAt = tk.off
			}
			include = want > 0
		case tokEndNode:
			include = want > 0
			want = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		case tokEnd:
			include = true
		}
		if include && start < 0 {
			if n := len(out); n > 0 && tk.off == out[n-1].off+out[n-1].size {
				start = out[n-1].off
				out = out[:n-1]
			} else {
				start = tk.off
			}
		}
		if !include && start >= 0 {
			out = append(out, region{start, stopAt - start})
			start = -1
		}
		if tk.kind == tokEnd {
			out = append(out, region{start, tk.next - start})
		}
	}
	return out
}

// signedNodes is fit_config_get_signed_nodes: the root, the
// configuration, and every image a property of the configuration names
// (all but description, compatible and default) with its hash, cipher
// and dm-verity sub-nodes. Each such image must have a hash node.
func (f *FIT) signedNodes(conf *Node) (map[string]bool, []string, error) {
	inc := map[string]bool{"/": true, conf.Path: true}
	order := []string{"/", conf.Path}
	add := func(p string) {
		if !inc[p] {
			inc[p] = true
			order = append(order, p)
		}
	}
	n := 0
	for _, p := range conf.Props {
		switch p.Name {
		case "description", "compatible", "default":
			continue
		}
		for _, name := range conf.Strings(p.Name) {
			img, ok := f.images.Child(name)
			if !ok {
				continue
			}
			add(img.Path)
			hashes := 0
			for _, c := range img.Children {
				if strings.HasPrefix(c.Name, "hash") {
					add(c.Path)
					hashes++
				}
			}
			if hashes == 0 {
				return nil, nil, fmt.Errorf("%w: image %q of configuration %q has no hash node, which a configuration signature needs", ErrSignature, name, conf.Name)
			}
			for _, c := range img.Children {
				if c.Name == "cipher" || c.Name == "dm-verity" {
					add(c.Path)
				}
			}
			n++
		}
	}
	if n == 0 {
		return nil, nil, fmt.Errorf("%w: configuration %q names no image", ErrSignature, conf.Name)
	}
	return inc, order, nil
}

// configDigest hashes what a configuration signature covers: the regions
// of the signed nodes, then the first n bytes of the strings block.
func (f *FIT) configDigest(r io.ReaderAt, size int64, a sigAlgo, inc map[string]bool, strings uint32) ([]byte, error) {
	h := a.h.New()
	buf := make([]byte, image.ChunkSize)
	for _, g := range f.tree.regions(inc) {
		if err := image.HashRange(h, r, int64(f.tree.Header.OffStruct)+g.off, g.size, size, buf); err != nil {
			return nil, err
		}
	}
	if err := image.HashRange(h, r, int64(f.tree.Header.OffStrings), int64(strings), size, buf); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// hashedStrings is the size a signature node's "hashed-strings" gives
// (its second cell), at most the strings block.
func (f *FIT) hashedStrings(sig *Node) (uint32, bool, error) {
	p, ok := sig.Get("hashed-strings")
	if !ok {
		return 0, false, nil
	}
	if len(p.Value) < 8 {
		return 0, false, fmt.Errorf("invalid hashed-strings property")
	}
	n := binary.BigEndian.Uint32(p.Value[4:])
	if n > f.tree.Header.SizeStrings {
		return 0, false, fmt.Errorf("hashed-strings region of %d bytes is out of bounds", n)
	}
	return n, true, nil
}
