//go:build !race

package mcuboot

const raceEnabled = false
