package fleet

// Factory gives the external tests (package fleet_test) the shared
// fixture: a provisioned factory board of a configs/boards.yaml profile
// running 1.0.0, and the device schema.
var Factory = factory
