package report

import (
	"fmt"
	"testing"
)

func TestOutcomeCounts(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]int
		want string
	}{
		{nil, "[{updated 0} {rolled_back 0} {bricked 0} {download_failed 0} {install_failed 0} {unreachable 0} {pending 0} {aborted 0}]"},
		{map[string]int{"bricked": 2, "updated": 5}, "[{updated 5} {rolled_back 0} {bricked 2} {download_failed 0} {install_failed 0} {unreachable 0} {pending 0} {aborted 0}]"},
		{map[string]int{"zeta": 1, "alpha": 0, "pending": 3, "Beta": 2}, "[{updated 0} {rolled_back 0} {bricked 0} {download_failed 0} {install_failed 0} {unreachable 0} {pending 3} {aborted 0} {Beta 2} {alpha 0} {zeta 1}]"},
	} {
		got := OutcomeCounts(tc.in)
		if fmt.Sprint(got) != tc.want {
			t.Errorf("OutcomeCounts(%v) = %v\nwant %s", tc.in, got, tc.want)
		}
	}
}

func TestSortedCounts(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]int
		want string
	}{
		{nil, "[]"},
		{map[string]int{"sent Get": 3, "received GetResp": 2, "received Notify": 0, "Z": 1}, "[{Z 1} {received GetResp 2} {received Notify 0} {sent Get 3}]"},
	} {
		got := SortedCounts(tc.in)
		if got == nil || fmt.Sprint(got) != tc.want {
			t.Errorf("SortedCounts(%v) = %#v, want %s", tc.in, got, tc.want)
		}
	}
}
