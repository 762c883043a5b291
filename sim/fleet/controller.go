package fleet

import "time"

// Send is a Record the controller sends to an agent.
type Send struct {
	To   string // the agent's Endpoint ID
	Data []byte // an encoded USP Record
}

// Controller is the controller side of a fleet run, as the runner sees it.
// The virtual-time runner calls it from its one goroutine; the real-time
// runner serialises its calls with a mutex, so an implementation need not
// be safe for concurrent use. It must not keep rec after Receive returns.
type Controller interface {
	// Connected: agentID opened its MTP session at now. The Records
	// returned are sent to the agents they name.
	Connected(agentID string, now time.Time) []Send
	// Disconnected: agentID's session ended at now.
	Disconnected(agentID string, now time.Time)
	// Receive handles one Record from agentID.
	Receive(agentID string, rec []byte, now time.Time) []Send
	// Tick is called at the time the controller last asked for (the
	// runner asks once at the start of a run); it returns Records to send
	// and the time of the next Tick (zero: none).
	Tick(now time.Time) ([]Send, time.Time)
}
