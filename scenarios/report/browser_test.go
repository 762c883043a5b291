package report

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"brickyard/scenarios/report/reporttest"
)

// The page in a real browser: it loads from one file with no request
// elsewhere and no console error, nothing sticks out of the page at a
// laptop's width or at a narrow one, every section renders with content and
// every chart has a size, and the fleet table's outcome filter (CSS only)
// shows exactly the rows of the outcome picked.
func TestHTMLInChromium(t *testing.T) {
	reports := map[string]*Report{"sample": sampleReport(), "big": bigReport(5000)}
	big := reports["big"]
	Complete(big)
	dir := t.TempDir()
	for _, width := range []int{1280, 760} {
		ctx := reporttest.Browser(t, width, 900)
		for name, r := range reports {
			path := filepath.Join(dir, name+".html")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteHTML(f, r); err != nil {
				t.Fatal(err)
			}
			f.Close()
			reporttest.Check(t, ctx, fmt.Sprintf("%s at %d px", name, width), path, width < 1000, 8)
		}
	}
}
