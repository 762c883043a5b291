package trace

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
)

// Selector picks the devices a Writer traces: a list of endpoint IDs, or a
// share of the fleet. A share picks by a hash of the endpoint ID, so the
// same devices are picked in every run and in every shard.
type Selector struct {
	ids   map[string]bool
	share uint64 // a device is picked when its hash is below (0: none, max: all)
	all   bool
}

// ParseSelector reads --trace's value: "os::012345-SIM1,os::012345-SIM7"
// (endpoint IDs), "1%" or "0.01" (a share in (0, 1], as a percentage or a
// fraction).
func ParseSelector(s string) (Selector, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Selector{}, errors.New("trace: no devices named")
	}
	if share, ok, err := parseShare(s); ok {
		if err != nil {
			return Selector{}, err
		}
		if share == 1 {
			return Selector{all: true}, nil
		}
		return Selector{share: uint64(share * math.MaxUint64)}, nil
	}
	sel := Selector{ids: map[string]bool{}}
	for _, id := range strings.Split(s, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			return Selector{}, fmt.Errorf("trace: an empty endpoint ID in %q", s)
		}
		sel.ids[id] = true
	}
	return sel, nil
}

// parseShare reads s as a share when it looks like one (a number, or a
// number with %): ok says it does; err says it is not one in (0, 1].
func parseShare(s string) (share float64, ok bool, err error) {
	num, pct := strings.CutSuffix(s, "%")
	v, perr := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if errors.Is(perr, strconv.ErrRange) {
		return 0, true, fmt.Errorf("trace: share %q is not in (0, 1] (0%%–100%%)", s)
	}
	if perr != nil {
		if pct {
			return 0, true, fmt.Errorf("trace: share %q is not a number", s)
		}
		return 0, false, nil // endpoint IDs
	}
	if pct {
		v /= 100
	}
	if math.IsNaN(v) || v <= 0 || v > 1 {
		return 0, true, fmt.Errorf("trace: share %q is not in (0, 1] (0%%–100%%)", s)
	}
	return v, true, nil
}

// Picks reports whether the Selector picks device id.
func (s Selector) Picks(id string) bool {
	switch {
	case s.all:
		return true
	case s.ids != nil:
		return s.ids[id]
	case s.share == 0:
		return false
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64() < s.share
}
