package metrics

import (
	"brickyard/scenarios/fileserver"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"brickyard/mtp"
	"brickyard/sim/index"
)

// dashboardFile is the Grafana dashboard shipped for these metrics.
const dashboardFile = "../../deploy/grafana/brickyard.json"

// TestGrafanaDashboard: every query of deploy/grafana/brickyard.json
// names only metrics the binary exports (a renamed metric cannot leave a
// dead panel behind), and every brickyard_* family the binary exports is
// on some panel (a new metric is shown). Every panel has a query, a
// title, the dashboard's data source and a place on the grid.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID, Title string
		Panels     []struct {
			ID         int
			Type       string
			Title      string
			Datasource struct{ UID string }
			GridPos    *struct{ H, W, X, Y int }
			Targets    []struct{ Expr, RefID string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if dash.UID == "" || dash.Title == "" || len(dash.Panels) == 0 {
		t.Fatalf("uid %q title %q, %d panels", dash.UID, dash.Title, len(dash.Panels))
	}
	exported := exportedNames(t)
	used := map[string]bool{}
	ids := map[int]bool{}
	name := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: grid %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Title == "" || len(p.Targets) == 0 || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %d %q: %d queries, data source %q", p.ID, p.Title, len(p.Targets), p.Datasource.UID)
		}
		for _, tg := range p.Targets {
			if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") || strings.Count(tg.Expr, "{") != strings.Count(tg.Expr, "}") {
				t.Errorf("panel %q: unbalanced query %s", p.Title, tg.Expr)
			}
			for _, n := range name.FindAllString(tg.Expr, -1) {
				if !strings.HasPrefix(n, Namespace+"_") && !strings.HasPrefix(n, "process_") && !strings.HasPrefix(n, "go_") {
					continue // a function, a keyword or a label
				}
				if !exported[n] {
					t.Errorf("panel %q asks for %s, which the binary does not export", p.Title, n)
				}
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")] = true
			}
		}
	}
	var unshown []string
	for n := range exported {
		if strings.HasPrefix(n, Namespace+"_") && !used[n] && !strings.HasSuffix(n, "_bucket") && !strings.HasSuffix(n, "_sum") && !strings.HasSuffix(n, "_count") {
			unshown = append(unshown, n)
		}
	}
	slices.Sort(unshown)
	if len(unshown) > 0 {
		t.Errorf("exported and on no panel of the dashboard: %v", unshown)
	}
}

// exportedNames is every series name a run's or a fleet's endpoint
// exports (a histogram's _bucket, _sum and _count too), each family
// given a sample first.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	m := New()
	NewAggregate(m, 1)
	m.Message(Sent, "Get")
	m.Error(7004)
	m.Latency(time.Millisecond)
	m.Reconnect()
	m.DialFailure()
	m.SessionLost()
	m.Campaign(1, 1, 1, 1)
	m.Aborted(false)
	m.Dropped("agents", &mtp.Drops{})
	m.FileServer(func() fileserver.Stats { return fileserver.Stats{Requests: 1, Responses: map[int]int64{200: 1}} })
	m.DeviceEvent("a", "power-cut", "phase=install", time.Unix(0, 0))
	m.fleet.snap.Store(summarise([]index.Device{{ID: "a", Board: "rpi4", Version: "1.0", Phase: "idle", Conn: "connected", Outcome: "pending"}}))
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range fams {
		out[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[f.GetName()+s] = true
			}
		}
	}
	return out
}
