package fit

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"brickyard/boards/image"
)

// Property names brickyard reads beyond U-Boot's own. U-Boot ignores
// both.
const (
	// PropVersion, a string in the root node, is the image's version as
	// devices report it ("2.5.0"). FITs carry no version of their own.
	PropVersion = "version"
	// PropHealthFail, an empty property in the root node, marks an image
	// whose simulated application fails its health check.
	PropHealthFail = "brickyard,health-fail"
)

// FIT is a parsed Flattened Image Tree.
type FIT struct {
	tree   *Tree
	images *Node // /images
	confs  *Node // /configurations, nil when absent
}

// Tree is the device tree the FIT is.
func (f *FIT) Tree() *Tree { return f.tree }

// Parse reads the device tree at the start of r and checks it is a FIT
// as fit_check_format does: a root "description" and an /images node.
func Parse(r io.ReaderAt, size int64) (*FIT, error) {
	t, err := ReadTree(r, size)
	if err != nil {
		return nil, err
	}
	if _, ok := t.Root.Get("description"); !ok {
		return nil, fmt.Errorf("%w: the root node has no description", ErrFIT)
	}
	images, ok := t.Root.Child("images")
	if !ok {
		return nil, fmt.Errorf("%w: no /images node", ErrFIT)
	}
	f := &FIT{tree: t, images: images}
	f.confs, _ = t.Root.Child("configurations")
	return f, nil
}

// Config returns the configuration called name, or the default one when
// name is "" (fit_conf_get_node).
func (f *FIT) Config(name string) (*Node, error) {
	if f.confs == nil {
		return nil, fmt.Errorf("%w: no /configurations node", ErrFIT)
	}
	if name == "" {
		d, ok := f.confs.String("default")
		if !ok {
			return nil, fmt.Errorf("%w: no configuration named and no default", ErrFIT)
		}
		name = d
	}
	c, ok := f.confs.Child(name)
	if !ok {
		return nil, fmt.Errorf("%w: no configuration %q", ErrFIT, name)
	}
	return c, nil
}

// Image returns the image node called name.
func (f *FIT) Image(name string) (*Node, bool) { return f.images.Child(name) }

// dataRange is where an image node's data is: an inline "data"
// property, or "data-size" bytes at "data-offset" past the tree (aligned
// to 4) or at the absolute "data-position".
func (f *FIT) dataRange(img *Node, size int64) (off, n int64, err error) {
	if p, ok := img.Get("data"); ok {
		return p.ValueOffset, int64(p.Len), nil
	}
	ds, ok := img.Uint("data-size")
	if !ok {
		return 0, 0, fmt.Errorf("%w: image %q has no data", ErrFIT, img.Name)
	}
	switch {
	case hasProp(img, "data-position"):
		pos, _ := img.Uint("data-position")
		off = int64(pos)
	case hasProp(img, "data-offset"):
		o, _ := img.Uint("data-offset")
		off = (int64(f.tree.Header.TotalSize)+3)&^3 + int64(o)
	default:
		return 0, 0, fmt.Errorf("%w: image %q has data-size but no data-offset or data-position", ErrFIT, img.Name)
	}
	if off < 0 || int64(ds) > size || off > size-int64(ds) {
		return 0, 0, fmt.Errorf("%w: image %q's %d bytes of external data at %d run past %d", ErrTruncated, img.Name, ds, off, size)
	}
	return off, int64(ds), nil
}

func hasProp(n *Node, name string) bool { _, ok := n.Get(name); return ok }

// Extent is the FIT's size: the tree rounded up to 4, or past it the end
// of the last external data.
func (f *FIT) Extent(size int64) int64 {
	end := int64(f.tree.Header.TotalSize)
	for _, img := range f.images.Children {
		if hasProp(img, "data") {
			continue
		}
		if off, n, err := f.dataRange(img, size); err == nil {
			end = max(end, off+n)
		}
	}
	return end
}

// checkHashes is fit_image_verify: every hash-* node of img must match its
// data; "uboot-ignore" skips one. An image without hash nodes passes.
func (f *FIT) checkHashes(r io.ReaderAt, size int64, img *Node, rep *image.Report) error {
	off, n, err := f.dataRange(img, size)
	if err != nil {
		return err
	}
	buf := make([]byte, image.ChunkSize)
	for _, hn := range img.Children {
		if !strings.HasPrefix(hn.Name, "hash") {
			continue
		}
		algo, _ := hn.String("algo")
		if ig, ok := hn.Uint("uboot-ignore"); ok && ig != 0 {
			rep.Skip("hash "+img.Name+"/"+hn.Name, "uboot-ignore")
			continue
		}
		h, ok := newHash(algo)
		if !ok {
			return fmt.Errorf("%w: image %q %s: unsupported hash algorithm %q", ErrHash, img.Name, hn.Name, algo)
		}
		want, ok := hn.Get("value")
		if !ok || want.Value == nil {
			return fmt.Errorf("%w: image %q %s has no value", ErrHash, img.Name, hn.Name)
		}
		if err := image.HashRange(h, r, off, n, size, buf); err != nil {
			return err
		}
		got := h.Sum(nil)
		if !bytes.Equal(got, want.Value) {
			return fmt.Errorf("%w: image %q %s (%s): value %x, the data hashes to %x", ErrHash, img.Name, hn.Name, algo, want.Value, got)
		}
		rep.Check("hash "+img.Name+"/"+hn.Name, nil, algo+" "+hex.EncodeToString(got))
	}
	return nil
}

// Version is the image's version as the root's "version" property gives it.
func (f *FIT) Version() (string, bool) { return f.tree.Root.String(PropVersion) }
