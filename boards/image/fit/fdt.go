package fit

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"brickyard/boards/image"
)

// FDT constants (libfdt's fdt.h), all big-endian on disk.
const (
	FDTMagic      = 0xd00dfeed
	HeaderSize    = 40 // version 17
	tokBeginNode  = 0x1
	tokEndNode    = 0x2
	tokProp       = 0x3
	tokNOP        = 0x4
	tokEnd        = 0x9
	maxDepth      = 32        // FDT_MAX_DEPTH
	maxTokens     = 1 << 16   // tokens a tree may have; FITs have tens
	maxStrings    = 1 << 20   // bytes of the strings block read
	maxInline     = 64 << 10  // property values longer than this stay on flash (image data)
	maxTotalSize  = 256 << 20 // CONFIG_FIT_SIGNATURE_MAX_SIZE's default
	lastCompVers  = 17        // FDT_LAST_SUPPORTED_VERSION
	minVersion    = 17        // what dtc and mkimage write; older trees are refused
	lastCompWrite = 16
)

// FDTHeader is struct fdt_header.
type FDTHeader struct {
	TotalSize, OffStruct, OffStrings, OffRsvmap, Version, LastCompVersion, BootCPUID, SizeStrings, SizeStruct uint32
}

// Tree is a parsed device tree: its nodes, and every token in order, as
// the signature's region list needs them.
type Tree struct {
	Header FDTHeader
	Root   *Node
	tokens []token
}

// Node is one node.
type Node struct {
	Name     string
	Path     string
	Props    []*Prop
	Children []*Node
	Parent   *Node
}

// Prop is one property. Value holds its bytes unless it is longer than
// 64 KiB (an image's data): then only ValueOffset and Len say where it is.
type Prop struct {
	Name        string
	Len         uint32
	ValueOffset int64 // from the start of the blob
	Value       []byte
}

// token is one structure-block token: its kind, its offset from the
// structure block's start and the offset of the token after it.
type token struct {
	kind      uint32
	off, next int64
	node      *Node // BEGIN_NODE, END_NODE
	prop      *Prop // PROP
}

// Get returns the property called name.
func (n *Node) Get(name string) (*Prop, bool) {
	for _, p := range n.Props {
		if p.Name == name {
			return p, true
		}
	}
	return nil, false
}

// Child returns the child node called name.
func (n *Node) Child(name string) (*Node, bool) {
	for _, c := range n.Children {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

// String returns a string property's value (up to its first NUL).
func (n *Node) String(name string) (string, bool) {
	p, ok := n.Get(name)
	if !ok || p.Value == nil {
		return "", false
	}
	s, _, _ := bytes.Cut(p.Value, []byte{0})
	return string(s), true
}

// Strings returns a string-list property's values.
func (n *Node) Strings(name string) []string {
	p, ok := n.Get(name)
	if !ok || p.Value == nil {
		return nil
	}
	var out []string
	for _, s := range bytes.Split(bytes.TrimSuffix(p.Value, []byte{0}), []byte{0}) {
		out = append(out, string(s))
	}
	return out
}

// Uint returns a property of one or two big-endian cells.
func (n *Node) Uint(name string) (uint64, bool) {
	p, ok := n.Get(name)
	if !ok || p.Value == nil {
		return 0, false
	}
	switch len(p.Value) {
	case 4:
		return uint64(binary.BigEndian.Uint32(p.Value)), true
	case 8:
		return binary.BigEndian.Uint64(p.Value), true
	}
	return 0, false
}

// ParseHeader decodes and checks an FDT header as fdt_check_header does
// against size available bytes: magic (ErrMagic), versions, and the three
// blocks inside totalsize, totalsize inside size (ErrTree, ErrTruncated).
func ParseHeader(b []byte, size int64) (FDTHeader, error) {
	if len(b) < 4 || binary.BigEndian.Uint32(b) != FDTMagic {
		var got []byte
		if len(b) >= 4 {
			got = b[:4]
		}
		return FDTHeader{}, fmt.Errorf("%w: starts % x, want d0 0d fe ed", ErrMagic, got)
	}
	if len(b) < HeaderSize {
		return FDTHeader{}, fmt.Errorf("%w: %d bytes, an FDT header needs %d", ErrTruncated, len(b), HeaderSize)
	}
	be := binary.BigEndian
	h := FDTHeader{TotalSize: be.Uint32(b[4:]), OffStruct: be.Uint32(b[8:]), OffStrings: be.Uint32(b[12:]), OffRsvmap: be.Uint32(b[16:]),
		Version: be.Uint32(b[20:]), LastCompVersion: be.Uint32(b[24:]), BootCPUID: be.Uint32(b[28:]), SizeStrings: be.Uint32(b[32:]), SizeStruct: be.Uint32(b[36:])}
	block := func(off, n uint32) bool {
		return off >= HeaderSize && uint64(off)+uint64(n) <= uint64(h.TotalSize)
	}
	switch {
	case h.Version < minVersion || h.LastCompVersion > lastCompVers || h.Version < h.LastCompVersion:
		return h, fmt.Errorf("%w: version %d, last compatible %d: want version 17", ErrTree, h.Version, h.LastCompVersion)
	case h.TotalSize < HeaderSize || h.TotalSize > maxTotalSize:
		return h, fmt.Errorf("%w: totalsize %d: want %d to %d", ErrTree, h.TotalSize, HeaderSize, maxTotalSize)
	case int64(h.TotalSize) > size:
		return h, fmt.Errorf("%w: the tree is %d bytes, %d available", ErrTruncated, h.TotalSize, size)
	case !block(h.OffRsvmap, 16):
		return h, fmt.Errorf("%w: memory reservation map at %d outside the tree", ErrTree, h.OffRsvmap)
	case !block(h.OffStruct, h.SizeStruct) || h.SizeStruct%4 != 0 || h.OffStruct%4 != 0:
		return h, fmt.Errorf("%w: structure block %d+%d outside the %d-byte tree or unaligned", ErrTree, h.OffStruct, h.SizeStruct, h.TotalSize)
	case !block(h.OffStrings, h.SizeStrings):
		return h, fmt.Errorf("%w: strings block %d+%d outside the %d-byte tree", ErrTree, h.OffStrings, h.SizeStrings, h.TotalSize)
	case h.SizeStrings > maxStrings:
		return h, fmt.Errorf("%w: strings block of %d bytes; brickyard reads at most %d", ErrTree, h.SizeStrings, maxStrings)
	}
	return h, nil
}

// ReadTree reads and parses the device tree at the start of r (size
// bytes readable). It reads the header, the strings block, and the
// structure block token by token through a 4 KiB window; values longer
// than 64 KiB are not read. Every length is checked against its block
// before it is used, nesting is limited to 32 levels and the tree to
// 65536 tokens.
func ReadTree(r io.ReaderAt, size int64) (*Tree, error) {
	size = max(size, 0)
	var hb [HeaderSize]byte
	n := min(size, HeaderSize)
	if err := image.ReadFull(r, hb[:n], 0, size); err != nil {
		return nil, err
	}
	h, err := ParseHeader(hb[:n], size)
	if err != nil {
		return nil, err
	}
	strs := make([]byte, h.SizeStrings)
	if err := image.ReadFull(r, strs, int64(h.OffStrings), size); err != nil {
		return nil, err
	}
	t := &Tree{Header: h}
	s := &scanner{r: r, size: size, base: int64(h.OffStruct), end: int64(h.SizeStruct)}
	var stack []*Node
	for off := int64(0); ; {
		if len(t.tokens) >= maxTokens {
			return nil, fmt.Errorf("%w: more than %d tokens", ErrTree, maxTokens)
		}
		tag, err := s.u32(off)
		if err != nil {
			return nil, err
		}
		tk := token{kind: tag, off: off}
		p := off + 4
		switch tag {
		case tokBeginNode:
			name, err := s.cstring(p)
			if err != nil {
				return nil, err
			}
			p += int64(len(name)) + 1
			node := &Node{Name: name}
			switch {
			case len(stack) == 0 && t.Root != nil:
				return nil, fmt.Errorf("%w: a second root node at %d", ErrTree, off)
			case len(stack) == 0 && name != "":
				return nil, fmt.Errorf("%w: the root node is named %q", ErrTree, name)
			case len(stack) == 0:
				node.Path, t.Root = "/", node
			case len(stack) >= maxDepth:
				return nil, fmt.Errorf("%w: nodes nested deeper than %d", ErrTree, maxDepth)
			default:
				parent := stack[len(stack)-1]
				node.Parent, node.Path = parent, joinPath(parent.Path, name)
				parent.Children = append(parent.Children, node)
			}
			stack = append(stack, node)
			tk.node = node
		case tokEndNode:
			if len(stack) == 0 {
				return nil, fmt.Errorf("%w: END_NODE at %d closes no node", ErrTree, off)
			}
			tk.node = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		case tokProp:
			if len(stack) == 0 {
				return nil, fmt.Errorf("%w: a property at %d outside any node", ErrTree, off)
			}
			ln, err := s.u32(p)
			if err != nil {
				return nil, err
			}
			nameoff, err := s.u32(p + 4)
			if err != nil {
				return nil, err
			}
			p += 8
			if int64(ln) > s.end-p {
				return nil, fmt.Errorf("%w: property at %d of %d bytes overruns the structure block", ErrTree, off, ln)
			}
			name, err := stringAt(strs, nameoff)
			if err != nil {
				return nil, err
			}
			pr := &Prop{Name: name, Len: ln, ValueOffset: s.base + p}
			if ln <= maxInline {
				pr.Value = make([]byte, ln)
				if err := image.ReadFull(r, pr.Value, s.base+p, size); err != nil {
					return nil, err
				}
			}
			p += int64(ln)
			node := stack[len(stack)-1]
			node.Props = append(node.Props, pr)
			tk.prop = pr
		case tokNOP:
		case tokEnd:
			if len(stack) != 0 || t.Root == nil {
				return nil, fmt.Errorf("%w: END at %d with %d node(s) open", ErrTree, off, len(stack))
			}
			tk.next = p
			t.tokens = append(t.tokens, tk)
			if p != s.end {
				return nil, fmt.Errorf("%w: END at %d, but the structure block is %d bytes", ErrTree, off, s.end)
			}
			return t, nil
		default:
			return nil, fmt.Errorf("%w: unknown token %#x at %d", ErrTree, tag, off)
		}
		tk.next = (p + 3) &^ 3
		t.tokens = append(t.tokens, tk)
		off = tk.next
	}
}

func joinPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// stringAt is the NUL-terminated string at off of the strings block.
func stringAt(strs []byte, off uint32) (string, error) {
	if int64(off) >= int64(len(strs)) {
		return "", fmt.Errorf("%w: property name offset %d outside the %d-byte strings block", ErrTree, off, len(strs))
	}
	s, _, ok := bytes.Cut(strs[off:], []byte{0})
	if !ok {
		return "", fmt.Errorf("%w: property name at %d is not terminated", ErrTree, off)
	}
	return string(s), nil
}

// scanner reads the structure block through a 4 KiB window.
type scanner struct {
	r         io.ReaderAt
	size      int64
	base, end int64 // the block's offset in the blob, and its size
	win       [image.ChunkSize]byte
	winOff    int64
	winLen    int
}

// byteAt is the structure block's byte at off.
func (s *scanner) byteAt(off int64) (byte, error) {
	if off < 0 || off >= s.end {
		return 0, fmt.Errorf("%w: structure block ends at %d, read at %d", ErrTree, s.end, off)
	}
	if off < s.winOff || off >= s.winOff+int64(s.winLen) {
		n := min(int64(len(s.win)), s.end-off)
		if err := image.ReadFull(s.r, s.win[:n], s.base+off, s.size); err != nil {
			return 0, err
		}
		s.winOff, s.winLen = off, int(n)
	}
	return s.win[off-s.winOff], nil
}

func (s *scanner) u32(off int64) (uint32, error) {
	var v uint32
	for i := range int64(4) {
		c, err := s.byteAt(off + i)
		if err != nil {
			return 0, err
		}
		v = v<<8 | uint32(c)
	}
	return v, nil
}

// cstring is a node name: NUL-terminated, at most 255 bytes of printable
// characters.
func (s *scanner) cstring(off int64) (string, error) {
	var b []byte
	for i := int64(0); ; i++ {
		c, err := s.byteAt(off + i)
		if err != nil {
			return "", err
		}
		if c == 0 {
			return string(b), nil
		}
		if c < 0x20 || c > 0x7e || len(b) >= 255 {
			return "", fmt.Errorf("%w: node name at %d is not printable or longer than 255 bytes", ErrTree, off)
		}
		b = append(b, c)
	}
}

func bytesReader(b []byte) io.ReaderAt { return bytes.NewReader(b) }
