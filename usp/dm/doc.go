// Package dm is brickyard's data-model engine for simulated USP Agents
// (TR-369 with the TR-181 Device:2 data model): a generic, pure state
// machine that answers a Controller's Get, GetInstances, GetSupportedDM,
// GetSupportedProtocol, Set, Add, Delete and Operate exactly as TR-369
// prescribes, and produces the notifications its Subscriptions ask for.
//
// # Schema and Model
//
// A Schema (built once per device type with a Builder) is immutable and
// shared: objects, tables, parameters with type, access, default,
// persistence and constraints, commands with arguments and sync/async
// kind, events with arguments, unique keys and table access. Parameters
// may be bound to the device: a Getter computes the value (UpTime,
// SoftwareVersion), a Validator vets a Controller's write
// (BootFirmwareImage must name an Available row), a Setter applies it. A
// table may register OnRows to learn of the rows Controllers add or delete.
//
// A Model is one device's instance: its rows and the values that differ
// from the defaults, its subscriptions, pending notifications and running
// asynchronous commands. It costs a few hundred bytes plus its rows.
//
// # The loop
//
// The device goroutine owns its Model and drives it, raft-style:
//
//	resp, fx := m.Handle(origin, msg, now)   // a Controller's message
//	send(resp)                                // first the response (nil: none due)
//	for _, n := range fx.Notify { send(n) }   // then the notifications, in order
//	start(fx.Jobs); cancel(fx.Cancel)         // async commands to run / cancel
//	timer.Reset(fx.Wake)                      // then call m.Tick(now) at Wake
//
// The device reports its own changes with SetValue, Changed, AddRow,
// DeleteRow, Event/EventFor and Complete (the end of an async command);
// each returns Effects the same way. At reboot it calls Restore with the
// bytes of its last Snapshot.
//
// Every error is a usp.Code wrapped with context; usp.Reason maps it at one
// boundary. The engine never panics on any message. It starts no
// goroutine, reads no clock (time comes in as now), does no I/O, keeps no
// global mutable state, and is not safe for concurrent use.
//
// docs/datamodel.md describes for users what every message returns.
package dm
