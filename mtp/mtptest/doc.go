// Package mtptest starts real brokers on loopback for the transports'
// integration tests: Debian's mosquitto and RabbitMQ with its STOMP plugin.
// Each is started on free ports in a temporary directory: mosquitto per
// test, stopped by the test's cleanup; RabbitMQ once per test binary (it
// takes seconds to start), stopped by StopRabbitMQ from TestMain. A missing broker binary fails the test: `make test`
// installs them, and in CI a missing component is a failure, not a skip.
package mtptest
