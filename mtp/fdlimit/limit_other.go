//go:build !unix

package fdlimit

// Limit returns ErrUnknown: this system has no RLIMIT_NOFILE.
func Limit() (soft, hard uint64, err error) { return 0, 0, ErrUnknown }

// Raise returns ErrUnknown: this system has no RLIMIT_NOFILE.
func Raise() (uint64, error) { return 0, ErrUnknown }
