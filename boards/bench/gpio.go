package bench

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/host/v3/gpioioctl"
)

var (
	gpioOnce sync.Once
	gpioErr  error
)

// ErrNoGPIO: the machine has no GPIO character device.
var ErrNoGPIO = errors.New("bench: no GPIO character device (/dev/gpiochip*): a kernel without CONFIG_GPIOLIB, or no GPIO controller")

// OpenLine opens a line of a GPIO chip through the Linux GPIO character
// device (uAPI v2, periph's gpioioctl) to drive it: chip is a chip's name
// (gpiochip0), its label, or its path (/dev/gpiochip0); line is the line's
// offset on the chip or its name. The line is an output from its first
// Out on.
func OpenLine(chip, line string) (gpio.PinOut, error) {
	gpioOnce.Do(func() {
		if _, err := driverreg.Init(); err != nil {
			gpioErr = fmt.Errorf("bench: gpio drivers: %w", err)
		}
	})
	if gpioErr != nil {
		return nil, gpioErr
	}
	if len(gpioioctl.Chips) == 0 {
		return nil, ErrNoGPIO
	}
	var c *gpioioctl.GPIOChip
	var names []string
	for _, x := range gpioioctl.Chips {
		names = append(names, x.Name())
		if x.Name() == chip || x.Label() == chip || x.Path() == chip || filepath.Base(x.Path()) == chip {
			c = x
		}
	}
	if c == nil {
		return nil, fmt.Errorf("bench: no GPIO chip %q (there are %v)", chip, names)
	}
	var l *gpioioctl.GPIOLine
	if n, err := strconv.Atoi(line); err == nil {
		if n < 0 || n >= c.LineCount() {
			return nil, fmt.Errorf("bench: GPIO chip %s has lines 0…%d, not %d", c.Name(), c.LineCount()-1, n)
		}
		l = c.ByNumber(n)
	} else {
		l = c.ByName(line)
	}
	if l == nil {
		return nil, fmt.Errorf("bench: GPIO chip %s has no line %q", c.Name(), line)
	}
	return l, nil
}
