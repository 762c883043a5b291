package workers

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ChannelFD is the file descriptor of a worker's channel to its parent.
const ChannelFD = 3

// Spec is how to start the workers of a Pool.
type Spec struct {
	Path string   // the binary: brickyard itself (os.Executable)
	Args []string // its arguments: the hidden worker command and its flags
	Env  []string // the workers' environment; nil: this process's
	// Stderr takes the workers' standard error (their logs) and Stdout
	// their standard output; nil discards it.
	Stderr, Stdout io.Writer
	// Handle is called for each Message from worker k (from 1), from that
	// worker's reader goroutine, in the order the worker sent them.
	Handle func(k int, m Message)
	// Exit is called once per worker after its process ended and its
	// channel closed, from its waiter goroutine: err is nil for exit
	// status 0, else an *ExitError.
	Exit func(k int, err error)
}

// Pool is the worker processes of a parent. It owns, per worker, a reader
// goroutine (its channel) and a waiter goroutine (its process); Wait
// returns after all have ended. A worker runs in a process group of its
// own, so a terminal's Ctrl-C reaches only the parent, which stops the
// workers itself (Broadcast KindStop); a worker whose channel closes (the
// parent died) stops on its own.
type Pool struct {
	workers []*Worker
	wg      sync.WaitGroup
}

// Worker is one worker process.
type Worker struct {
	K    int
	conn *Conn
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// ExitError is how a worker process ended when it did not exit with
// status 0.
type ExitError struct {
	Status int            // its exit status, -1 when a signal ended it
	Signal syscall.Signal // the signal that ended it, if one did
	Err    error          // why it could not be waited for, if so
}

func (e *ExitError) Error() string {
	switch {
	case e.Err != nil:
		return e.Err.Error()
	case e.Signal != 0:
		return fmt.Sprintf("killed by signal %d (%s)", int(e.Signal), e.Signal)
	}
	return fmt.Sprintf("exit status %d", e.Status)
}

// Start starts n workers. On an error it kills and waits for the ones it
// started.
func Start(spec Spec, n int) (*Pool, error) {
	if n < 1 {
		return nil, fmt.Errorf("workers: %d workers", n)
	}
	p := &Pool{}
	for k := 1; k <= n; k++ {
		w, err := p.start(spec, k)
		if err != nil {
			p.Kill()
			p.Wait()
			return nil, fmt.Errorf("workers: worker %d: %w", k, err)
		}
		p.workers = append(p.workers, w)
	}
	return p, nil
}

func (p *Pool) start(spec Spec, k int) (*Worker, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "worker channel"), os.NewFile(uintptr(fds[1]), "parent channel")
	defer theirs.Close()
	nc, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = spec.Env
	cmd.Stdout, cmd.Stderr = spec.Stdout, spec.Stderr
	cmd.ExtraFiles = []*os.File{theirs} // fd 3, ChannelFD
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		nc.Close()
		return nil, err
	}
	w := &Worker{K: k, conn: NewConn(nc), cmd: cmd, done: make(chan struct{})}
	read := make(chan struct{})
	p.wg.Add(2)
	go func() { // the channel
		defer p.wg.Done()
		defer close(read)
		for {
			m, err := w.conn.Recv()
			if err != nil {
				return
			}
			if spec.Handle != nil {
				spec.Handle(k, m)
			}
		}
	}()
	go func() { // the process
		defer p.wg.Done()
		err := cmd.Wait()
		close(w.done)
		// The reader takes what the worker wrote before it exited (its
		// Done, its last progress) to the end of the channel; a
		// grandchild that holds the other end open does not keep it
		// longer than drainGrace. Closing at once lost those last frames.
		_ = nc.SetReadDeadline(time.Now().Add(drainGrace))
		<-read
		w.conn.Close()
		if spec.Exit != nil {
			spec.Exit(k, exitError(err))
		}
	}()
	return w, nil
}

// drainGrace bounds how long the channel of an exited worker is read
// for frames it wrote before it exited.
const drainGrace = 2 * time.Second

func exitError(err error) error {
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &ExitError{Status: -1, Signal: ws.Signal()}
		}
		return &ExitError{Status: ee.ExitCode()}
	}
	return &ExitError{Status: -1, Err: err}
}

// Len is the number of workers.
func (p *Pool) Len() int { return len(p.workers) }

// Worker is worker k (from 1).
func (p *Pool) Worker(k int) *Worker { return p.workers[k-1] }

// Send sends m to the worker; it fails once the worker's process is gone.
func (w *Worker) Send(m Message) error { return w.conn.Send(m) }

// PID is the worker's process ID.
func (w *Worker) PID() int { return w.cmd.Process.Pid }

// Exited is closed when the worker's process has exited.
func (w *Worker) Exited() <-chan struct{} { return w.done }

// Signal sends sig to the worker's process, unless it has exited.
func (w *Worker) Signal(sig os.Signal) error {
	select {
	case <-w.done:
		return os.ErrProcessDone
	default:
	}
	return w.cmd.Process.Signal(sig)
}

// Broadcast sends m to every worker still running, ignoring those gone.
func (p *Pool) Broadcast(m Message) {
	for _, w := range p.workers {
		select {
		case <-w.done:
		default:
			_ = w.Send(m)
		}
	}
}

// Kill kills every worker still running.
func (p *Pool) Kill() {
	for _, w := range p.workers {
		_ = w.Signal(os.Kill)
	}
}

// Wait waits until every worker's process has exited and its goroutines
// ended.
func (p *Pool) Wait() { p.wg.Wait() }

// Attach is a worker's end of its channel (fd ChannelFD, which the
// parent's Start set up).
func Attach() (*Conn, error) {
	f := os.NewFile(ChannelFD, "parent channel")
	if f == nil {
		return nil, errors.New("workers: no channel to a parent (fd 3): the worker command is started by brickyard itself")
	}
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("workers: no channel to a parent on fd 3 (the worker command is started by brickyard itself): %w", err)
	}
	return NewConn(nc), nil
}
