// Package brickyard is a firmware device simulator farm: thousands of
// simulated devices, each with emulated flash banks, a bootloader model and
// power-loss faults, speaking USP (TR-369) with the TR-181 Device:2 data
// model to a device-management controller.
//
// This root package holds no code; deps_test.go here enforces the
// dependency direction between the project's folders that ARCHITECTURE.md
// describes.
package brickyard
