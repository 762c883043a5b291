package dm

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"brickyard/usp"
)

// Job is an asynchronous command the device must run, handed over in
// Effects.Jobs. The device finishes it with Model.Complete(ID, ...); a
// Controller's Request.{i}.Cancel() shows up in Effects.Cancel.
type Job struct {
	ID      uint64            // engine-assigned, unique while the model lives
	Command string            // executed command: "Device.DeviceInfo.FirmwareImage.2.Download()"
	Name    string            // "Download()"
	Obj     string            // the object: "Device.DeviceInfo.FirmwareImage.2."
	Nums    []uint32          // instance numbers along Obj, outermost first
	Key     string            // Operate's command_key
	Input   map[string]string // known input arguments, defaults filled in
	Origin  Origin            // the Controller that asked
	Request string            // its Request row with trailing dot; "" without a Request table
}

type job struct {
	Job
	cmd       *Command
	at        *row // the row of the object the command runs on
	req       *row // its Request row, if any
	canceling bool
}

// Request.{i}.Status values.
const (
	statusRequested = "Requested"
	statusActive    = "Active"
	statusCanceling = "Canceling"
	statusCanceled  = "Canceled"
	statusSuccess   = "Success"
	statusError     = "Error"
)

// Jobs lists the asynchronous commands in progress, oldest first.
func (m *Model) Jobs() []Job {
	out := make([]Job, len(m.jobs))
	for i, j := range m.jobs {
		out[i] = j.Job
	}
	return out
}

// newRequest creates the Request row of an accepted asynchronous command:
// Status Requested, then Active, each change notified like any other.
func (m *Model) newRequest(from Origin, command, key string, now time.Time) (*row, error) {
	rq := m.s.reqs
	for _, r := range m.rowsOf(rq.table, m.root) {
		if m.read(rq.originator, r, now) == from.EndpointID && m.read(rq.command, r, now) == command &&
			m.read(rq.commandKey, r, now) == key {
			return nil, fmt.Errorf("%s with command_key %q from %s is already running as %s: %w",
				command, key, from.EndpointID, objPath(rq.table, r), usp.ResourcesExceeded)
		}
	}
	if err := m.roomIn(rq.table, m.root); err != nil {
		return nil, err
	}
	r := m.insertRow(rq.table, m.root, m.nextNum(rq.table, m.root))
	m.put(r, rq.originator, from.EndpointID)
	m.put(r, rq.command, command)
	m.put(r, rq.commandKey, key)
	m.put(r, rq.status, statusRequested)
	m.fillKeys(r, now)
	m.objectCreated(r, now)
	m.setInternal(r, rq.status, statusActive, now)
	return r, nil
}

// cancel handles Request.{i}.Cancel() on row r: Status becomes Canceling
// and the device is told through Effects.Cancel.
func (m *Model) cancel(r *row, now time.Time) error {
	i := slices.IndexFunc(m.jobs, func(j *job) bool { return j.req == r })
	if i < 0 {
		return fmt.Errorf("%s runs no command: %w", objPath(r.obj, r), usp.CommandFailure)
	}
	j := m.jobs[i]
	if !j.canceling {
		j.canceling = true
		m.setInternal(r, m.s.reqs.status, statusCanceling, now)
		m.effects().Cancel = append(m.effects().Cancel, j.Job)
	}
	return nil
}

// Complete ends the asynchronous command id: out are its output arguments
// when err is nil; otherwise err (wrapping a usp.Code; usp.CommandCanceled
// for a canceled command, 7023) becomes the cmd_failure. The Request row's
// Status turns Success, Error or Canceled, then OperationComplete goes to
// every matching subscription, then the row is deleted (with its
// ObjectDeletion notifications), in that order.
func (m *Model) Complete(id uint64, out map[string]string, err error, now time.Time) (Effects, error) {
	m.begin()
	i := slices.IndexFunc(m.jobs, func(j *job) bool { return j.ID == id })
	if i < 0 {
		return m.end(), fmt.Errorf("job %d is not running: %w", id, usp.InvalidArguments)
	}
	j := m.jobs[i]
	m.jobs = slices.Delete(m.jobs, i, i+1)
	if j.req != nil {
		st := statusSuccess
		switch {
		case errors.Is(err, usp.CommandCanceled):
			st = statusCanceled
		case err != nil:
			st = statusError
		}
		m.setInternal(j.req, m.s.reqs.status, st, now)
	}
	if err != nil {
		err = doneCodes.fit(err)
	}
	m.operationComplete(j, out, err, now)
	if j.req != nil && m.alive(j.req) {
		m.deleteRow(j.req, now)
	}
	return m.end(), nil
}
