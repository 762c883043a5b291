package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cCodec is the C reference codec (boards/bench/c), built with the
// system's gcc under AddressSanitizer and UndefinedBehaviorSanitizer and
// driven through its test driver's stdin and stdout.
type cCodec struct {
	t   *testing.T
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startC(t *testing.T) *cCodec {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatalf("gcc is needed to test the C codec (Debian package gcc, installed by .ci/install-deps): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "bylink_test")
	build := exec.Command(gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1", "-g",
		"-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
		"-o", bin, "../c/bylink.c", "../c/bylink_test.c")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "selftest").CombinedOutput(); err != nil {
		t.Fatalf("C selftest: %v\n%s", err, out)
	}
	c := &cCodec{t: t, cmd: exec.Command(bin)}
	c.cmd.Stderr = os.Stderr
	c.in, _ = c.cmd.StdinPipe()
	stdout, _ := c.cmd.StdoutPipe()
	c.out = bufio.NewReaderSize(stdout, 1<<20)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.in.Close()
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("C driver: %v", err)
		}
	})
	return c
}

func (c *cCodec) ask(line string) string {
	c.t.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		c.t.Fatalf("C driver: %v", err)
	}
	s, err := c.out.ReadString('\n')
	if err != nil {
		c.t.Fatalf("C driver: %v", err)
	}
	return strings.TrimSuffix(s, "\n")
}

// cClass is the C codec's number for each of Decode's errors.
func cClass(err error) int {
	var ve *VersionError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrCOBS):
		return 1
	case errors.Is(err, ErrShort):
		return 2
	case errors.Is(err, ErrLength):
		return 3
	case errors.Is(err, ErrCRC):
		return 4
	case errors.As(err, &ve):
		return 5
	case errors.Is(err, ErrFlags):
		return 6
	case errors.Is(err, ErrOversized):
		return 7
	case errors.Is(err, ErrTooLarge):
		return 8
	}
	return -1
}

func goVerdict(b []byte) string {
	f, err := Decode(b)
	if err != nil {
		return fmt.Sprintf("err %d", cClass(err))
	}
	return fmt.Sprintf("ok %d %d %d %x", f.Type, f.Flags, f.Seq, f.Payload)
}

func TestCCodecCRC(t *testing.T) {
	c := startC(t)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 9, 100, 4106} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if n == 9 {
			b = []byte("123456789")
		}
		if got, want := c.ask("crc "+hex.EncodeToString(b)), fmt.Sprintf("crc %08x", crc32IEEE(b)); got != want {
			t.Fatalf("%d bytes: C %s, Go %s", n, got, want)
		}
	}
}

// Frames encoded by one side decode on the other, and both encode the
// same frame to the same bytes.
func TestCCodecBothWays(t *testing.T) {
	c := startC(t)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 300 {
		n := []int{0, 1, 253, 254, 255, 1024, MaxPayload}[i%7]
		if i%5 == 0 {
			n = rng.IntN(MaxPayload + 1)
		}
		p := make([]byte, n)
		for j := range p {
			if rng.IntN(4) != 0 {
				p[j] = byte(rng.Uint32())
			}
		}
		f := Frame{Type: Type(rng.Uint32()), Flags: Flags(rng.Uint32()) & knownFlags, Seq: uint8(rng.Uint32()), Payload: p}
		goEnc := mustEncode(t, f)
		got := c.ask(fmt.Sprintf("decode %x", goEnc[2:len(goEnc)-1]))
		if want := fmt.Sprintf("ok %d %d %d %x", f.Type, f.Flags, f.Seq, f.Payload); got != want {
			t.Fatalf("frame %d: C decoded Go's frame as %.80s", i, got)
		}
		cEnc := c.ask(fmt.Sprintf("encode %d %d %d %x", f.Type, f.Flags, f.Seq, f.Payload))
		if cEnc != fmt.Sprintf("frame %x", goEnc) {
			t.Fatalf("frame %d: C encodes %.80s, Go %x", i, cEnc, goEnc[:min(len(goEnc), 40)])
		}
	}
	if got := c.ask(fmt.Sprintf("encode 1 0 0 %x", make([]byte, MaxPayload+1))); got != "err 0" {
		t.Fatalf("C encoded an oversized payload: %.40s", got)
	}
}

// corpus is FuzzDecode's seeds, its committed corpus
// (testdata/fuzz/FuzzDecode), and mutations of both.
func corpus(t *testing.T) [][]byte {
	out := seeds(t)
	files, _ := filepath.Glob("testdata/fuzz/FuzzDecode/*")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Fatalf("%s: not a Go fuzz corpus file", name)
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, []byte(s))
	}
	if len(files) == 0 {
		t.Fatal("no committed corpus in testdata/fuzz/FuzzDecode")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	base := len(out)
	for i := range 3000 {
		b := bytes.Clone(out[i%base])
		switch i % 4 {
		case 0:
			if len(b) > 0 {
				b[rng.IntN(len(b))] ^= byte(1 << rng.IntN(8))
			}
		case 1:
			b = b[:rng.IntN(len(b)+1)]
		case 2:
			at := rng.IntN(len(b) + 1)
			b = append(b[:at], append([]byte{byte(rng.Uint32())}, b[at:]...)...)
		case 3:
			if len(b) > 3 {
				b[3] = byte(rng.Uint32()) // header bytes sit near the start of the COBS body
			}
		}
		out = append(out, b)
	}
	return append(out, bytes.Repeat([]byte{1}, MaxEncoded+1), bytes.Repeat([]byte{0xFF}, MaxEncoded))
}

// The C decoder's verdict on every corpus entry is Go's: the same frame,
// or an error of the same class.
func TestCCodecCorpus(t *testing.T) {
	c := startC(t)
	for i, b := range corpus(t) {
		if got, want := c.ask(fmt.Sprintf("decode %x", b)), goVerdict(b); got != want {
			t.Fatalf("entry %d (%x): C %.60s, Go %.60s", i, b[:min(len(b), 32)], got, want)
		}
	}
}

// The C receiver splits a stream of boot log, noise and frames as Go's
// Splitter does.
func TestCCodecSplit(t *testing.T) {
	c := startC(t)
	rng := rand.New(rand.NewPCG(11, 12))
	cases := corpus(t)
	for round := range 40 {
		var stream []byte
		for range 10 {
			switch rng.IntN(4) {
			case 0:
				stream = append(stream, bootLog...)
			case 1:
				for range rng.IntN(40) {
					stream = append(stream, byte(rng.Uint32()))
				}
			default:
				stream = append(stream, Delim, Mark)
				stream = append(stream, cases[rng.IntN(len(cases))]...)
				stream = append(stream, Delim)
			}
		}
		var want []string
		var text []byte
		flush := func() {
			if len(text) > 0 {
				want = append(want, fmt.Sprintf("text %x", text))
				text = nil
			}
		}
		s := Splitter{
			Frame: func(f Frame) {
				flush()
				want = append(want, fmt.Sprintf("frame %d %d %d %x", f.Type, f.Flags, f.Seq, f.Payload))
			},
			Text: func(b []byte) { text = append(text, b...) },
			Bad:  func(err error) { flush(); want = append(want, fmt.Sprintf("bad %d", cClass(err))) },
		}
		s.Feed(stream)
		flush()
		if _, err := io.WriteString(c.in, fmt.Sprintf("split %x\n", stream)); err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			line, err := c.out.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line = strings.TrimSuffix(line, "\n"); line == "end" {
				break
			}
			got = append(got, line)
		}
		// The C receiver reports text byte by byte; Go's runs may end at a
		// delimiter the C side also passes silently: compare text joined.
		if g, w := joinText(got), joinText(want); strings.Join(g, "\n") != strings.Join(w, "\n") {
			t.Fatalf("round %d:\nC  %.300q\nGo %.300q", round, g, w)
		}
	}
}

func joinText(events []string) []string {
	var out []string
	for _, e := range events {
		if strings.HasPrefix(e, "text ") && len(out) > 0 && strings.HasPrefix(out[len(out)-1], "text ") {
			out[len(out)-1] += strings.TrimPrefix(e, "text ")
			continue
		}
		out = append(out, e)
	}
	return out
}
