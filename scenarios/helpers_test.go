package scenarios

import (
	"fmt"

	"brickyard/scenarios/report"
)

func fmtID(format string, n int) string { return fmt.Sprintf(format, n) }

func fakeReport(outcomes map[string]int, p99 float64) *report.Report {
	n := 0
	for _, v := range outcomes {
		n += v
	}
	return &report.Report{Devices: n, Outcomes: report.OutcomeCounts(outcomes), Latency: report.Latency{P99: report.Seconds(p99)}}
}
