package profile

import (
	"brickyard/boards"
	"brickyard/boards/espota"
	"brickyard/boards/image/formats"
	"brickyard/boards/mcuboot"
	"brickyard/boards/single"
	"brickyard/boards/uboot"
)

// Loaders returns the bootloader models profiles may name.
func Loaders() map[string]LoaderFactory {
	return map[string]LoaderFactory{
		"single-bank": func(decode func(any) error) (boards.Bootloader, error) {
			var l single.Loader
			if err := decode(&l); err != nil {
				return nil, err
			}
			return l, (formats.Rules{Formats: l.Formats}).Check()
		},
		"esp-ota": func(decode func(any) error) (boards.Bootloader, error) {
			var o espota.Options
			if err := decode(&o); err != nil {
				return nil, err
			}
			return espota.New(o)
		},
		"mcuboot-swap": func(decode func(any) error) (boards.Bootloader, error) {
			var o mcuboot.Options
			if err := decode(&o); err != nil {
				return nil, err
			}
			return mcuboot.New(o)
		},
		"uboot-ab": func(decode func(any) error) (boards.Bootloader, error) {
			var o uboot.Options
			if err := decode(&o); err != nil {
				return nil, err
			}
			return uboot.New(o)
		},
	}
}
