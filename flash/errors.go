package flash

import (
	"errors"
	"fmt"
)

// Errors a Chip returns, wrapped in an *OpError.
var (
	ErrPowerLost  = errors.New("flash: power lost")
	ErrOutOfRange = errors.New("flash: address out of range")
	ErrUnaligned  = errors.New("flash: unaligned address or length")
	ErrNotErased  = errors.New("flash: programming a unit that is not erased")
	ErrWornOut    = errors.New("flash: sector worn out")
)

// OpError says which operation failed where.
type OpError struct {
	Op   OpKind
	Addr int
	Len  int
	Err  error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("flash %s at 0x%x+%d: %v", e.Op, e.Addr, e.Len, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }
