package agents

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"brickyard/scenarios/trace"
)

// OpenTrace makes the trace Writer c asks for (--trace, --trace-file,
// --trace-max), or nil when it asks for none, and the function that
// finishes the file (flushes and closes it) and says what was written.
func OpenTrace(c Config) (*trace.Writer, func() (trace.Stats, error), error) {
	if c.Trace == "" {
		if c.TraceFile != "" {
			return nil, nil, errors.New("--trace-file: no --trace says which devices")
		}
		return nil, func() (trace.Stats, error) { return trace.Stats{}, nil }, nil
	}
	sel, err := trace.ParseSelector(c.Trace)
	if err != nil {
		return nil, nil, fmt.Errorf("--trace: %w", err)
	}
	file := TraceFile(c)
	if file == "" {
		return nil, nil, errors.New("--trace: no --trace-file, and no --out to put trace.jsonl in")
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, nil, fmt.Errorf("--trace-file: %w", err)
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	w, err := trace.New(bw, sel, c.TraceMax)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("--trace-max: %w", err)
	}
	done := func() (trace.Stats, error) {
		st, err := w.Stats()
		if ferr := bw.Flush(); err == nil && ferr != nil {
			err = fmt.Errorf("--trace-file: %w", ferr)
		}
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("--trace-file: %w", cerr)
		}
		return st, err
	}
	return w, done, nil
}

// TraceFile is where c's trace goes: --trace-file, else trace.jsonl in
// --out ("" when neither is set).
func TraceFile(c Config) string {
	switch {
	case c.TraceFile != "":
		return c.TraceFile
	case c.Out != "":
		return filepath.Join(c.Out, "trace.jsonl")
	}
	return ""
}

// TraceLine is the summary's line of a finished trace.
func TraceLine(file string, st trace.Stats) string {
	s := fmt.Sprintf("trace: %d Records (%d bytes) in %s", st.Lines, st.Bytes, file)
	if st.Dropped > 0 {
		s += fmt.Sprintf("; %d left out past --trace-max or after a write error", st.Dropped)
	}
	return s
}
