package workers

import (
	"brickyard/sim/fleet"
	"bufio"
	"container/heap"
	"fmt"
	"io"
	"os"
)

// maxLogLine bounds one line of a worker's event log.
const maxLogLine = 1 << 20

// MergeLogs writes the event logs in files (a worker's each; "" for none,
// a missing file is skipped: its worker was lost before it wrote one) to w
// as one log in time order: lines start with their time in a fixed-width
// UTC form (fleet's event log), so the earliest line of the files comes
// first, ties in file order; each file's own order is kept. A line longer
// than 1 MiB is an error.
func MergeLogs(w io.Writer, files []string, f fleet.LogFormat) error {
	return MergeLines(w, files, f.StampWidth())
}

// MergeLines is MergeLogs for lines whose first width bytes hold their
// time in a fixed-width form that sorts as text (a trace's JSON Lines:
// trace.StampWidth).
func MergeLines(w io.Writer, files []string, width int) error {
	var h logHeap
	for i, name := range files {
		if name == "" {
			continue
		}
		f, err := os.Open(name)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), maxLogLine)
		c := &logCursor{sc: sc, file: i, name: name, width: width}
		if c.next() {
			h = append(h, c)
		} else if err := sc.Err(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	heap.Init(&h)
	bw := bufio.NewWriterSize(w, 64<<10)
	for h.Len() > 0 {
		c := h[0]
		bw.WriteString(c.line)
		bw.WriteByte('\n')
		if c.next() {
			heap.Fix(&h, 0)
			continue
		}
		if err := c.sc.Err(); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		heap.Pop(&h)
	}
	return bw.Flush()
}

type logCursor struct {
	sc    *bufio.Scanner
	file  int
	name  string
	line  string
	width int // the bytes of a line that hold its time
}

func (c *logCursor) next() bool {
	if !c.sc.Scan() {
		return false
	}
	c.line = c.sc.Text()
	return true
}

// stamp is the line's time: its first width bytes (an event log's
// 2006-01-02T15:04:05.000000000Z).
func (c *logCursor) stamp() string { return c.line[:min(c.width, len(c.line))] }

type logHeap []*logCursor

func (h logHeap) Len() int { return len(h) }
func (h logHeap) Less(i, j int) bool {
	if a, b := h[i].stamp(), h[j].stamp(); a != b {
		return a < b
	}
	return h[i].file < h[j].file
}
func (h logHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *logHeap) Push(x any)   { *h = append(*h, x.(*logCursor)) }
func (h *logHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
