//go:build unix

package fdlimit

import (
	"fmt"
	"syscall"
)

// Limit is the process's limit of open files, RLIMIT_NOFILE: the soft
// limit (what open and accept obey; `ulimit -n`) and the hard limit (the
// most the soft one may be raised to without privilege). RLIM_INFINITY is
// the largest uint64.
func Limit() (soft, hard uint64, err error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, fmt.Errorf("fdlimit: getrlimit: %w", err)
	}
	return uint64(r.Cur), uint64(r.Max), nil
}

// Raise lifts the soft limit of open files to the hard limit, as any
// process may, and returns the soft limit in force afterwards. It never
// lowers the limit.
//
// The Go runtime raises the soft limit to hard−1 at start-up, but starts
// child processes with the original soft limit, unless the program has
// called Setrlimit itself. Raise does: a broker that a test starts after
// Raise inherits the raised limit, which it needs as much as this process
// (one file per agent).
func Raise() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("fdlimit: getrlimit: %w", err)
	}
	if r.Cur >= r.Max {
		return uint64(r.Cur), nil
	}
	want := r
	want.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return uint64(r.Cur), fmt.Errorf("fdlimit: raise the soft limit from %d to %d: %w", r.Cur, r.Max, err)
	}
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("fdlimit: getrlimit: %w", err)
	}
	return uint64(r.Cur), nil
}
