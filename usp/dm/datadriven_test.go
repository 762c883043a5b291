package dm

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A small datadriven runner: a test file is a sequence of cases, each
//
//	command arg arg ...
//	input line
//	...
//	----
//	expected output line
//	...
//
// ended by a blank line (or the end of the file); lines starting with #
// between cases are comments. run gets the command line and the input and
// returns the output; go test -update rewrites the expected outputs.
type ddCase struct {
	pos     string
	cmd     string
	args    []string
	input   []string
	want    string
	comment string // lines before the case
}

func runDataDriven(t *testing.T, file string, run func(t *testing.T, c *ddCase) string) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cases, err := parseDD(file, string(raw))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, c := range cases {
		got := strings.TrimRight(run(t, c), "\n")
		if *update {
			out.WriteString(c.comment)
			out.WriteString(strings.Join(append([]string{strings.Join(append([]string{c.cmd}, c.args...), " ")}, c.input...), "\n"))
			out.WriteString("\n----\n")
			if got != "" {
				out.WriteString(got + "\n")
			}
			out.WriteString("\n")
			continue
		}
		if got != c.want {
			t.Errorf("%s: %s %s:\n got:\n%s\nwant:\n%s", c.pos, c.cmd, strings.Join(c.args, " "), got, c.want)
		}
	}
	if *update {
		if err := os.WriteFile(file, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func parseDD(file, text string) ([]*ddCase, error) {
	lines := strings.Split(text, "\n")
	var cases []*ddCase
	var comment strings.Builder
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			if strings.HasPrefix(l, "#") {
				comment.WriteString(l + "\n")
			} else if comment.Len() > 0 {
				comment.WriteString("\n")
			}
			continue
		}
		f := strings.Fields(l)
		c := &ddCase{pos: fmt.Sprintf("%s:%d", filepath.Base(file), i+1), cmd: f[0], args: f[1:], comment: comment.String()}
		comment.Reset()
		for i++; i < len(lines) && lines[i] != "----"; i++ {
			c.input = append(c.input, lines[i])
		}
		if i == len(lines) {
			return nil, fmt.Errorf("%s: no ---- line", c.pos)
		}
		var want []string
		for i++; i < len(lines) && lines[i] != ""; i++ {
			want = append(want, lines[i])
		}
		c.want = strings.Join(want, "\n")
		cases = append(cases, c)
	}
	return cases, nil
}

// arg returns the value of key=value among c's arguments.
func (c *ddCase) arg(key string) (string, bool) {
	for _, a := range c.args {
		if k, v, ok := strings.Cut(a, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}
