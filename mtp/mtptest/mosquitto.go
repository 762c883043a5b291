package mtptest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Mosquitto is Debian's mosquitto broker (MQTT 5, 3.1.1) run by one test:
// its own process, configuration and log in t.TempDir(), listening on one
// free port of 127.0.0.1 (infrastructure notes §1a). It starts in 25 ms,
// so every test gets its own. Start, Stop and Restart belong on the test's
// goroutine; the test's cleanup stops it.
type Mosquitto struct {
	Addr string // 127.0.0.1:port, the same across restarts

	t       testing.TB
	bin     string
	conf    string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// StartMosquitto starts a mosquitto for the test and returns its address;
// the test's cleanup stops it. A missing mosquitto fails the test: `make
// test` installs it.
func StartMosquitto(t testing.TB) (addr string) {
	t.Helper()
	return NewMosquitto(t).Addr
}

// NewMosquitto starts a mosquitto for the test, as StartMosquitto does,
// and returns it so that the test can stop and restart it.
//
// The configuration: anonymous clients allowed, no persistence, the socket
// option TCP_NODELAY (without it a loopback request/response takes 40 ms,
// not 15), no connection limit, listener PORT 127.0.0.1.
func NewMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto" // root's PATH has /usr/sbin; go test's may not
		if _, serr := os.Stat(bin); serr != nil {
			t.Fatalf("mosquitto is not installed (%v): `make test` installs it (Debian package mosquitto)", err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mosquitto: free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	dir := t.TempDir()
	m := &Mosquitto{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), t: t, bin: bin,
		conf: filepath.Join(dir, "mosquitto.conf"), logPath: filepath.Join(dir, "mosquitto.log")}
	conf := fmt.Sprintf(`per_listener_settings false
allow_anonymous true
persistence false
set_tcp_nodelay true
max_connections -1
log_dest stdout
listener %d 127.0.0.1
`, port)
	if err := os.WriteFile(m.conf, []byte(conf), 0o644); err != nil {
		t.Fatalf("mosquitto: %v", err)
	}
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			t.Logf("mosquitto log (tail):\n%s", m.logTail())
		}
	})
	m.Start()
	return m
}

// Start starts the broker on its port (again, after Stop) and returns once
// the port accepts connections.
func (m *Mosquitto) Start() {
	m.t.Helper()
	if err := m.start(); err != nil {
		m.t.Fatalf("mosquitto: %v\nlog (tail):\n%s", err, m.logTail())
	}
}

func (m *Mosquitto) start() error {
	if m.cmd != nil {
		return errors.New("already running")
	}
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Backstops for a test binary that dies: the broker gets SIGTERM, and it
	// has a process group of its own.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	m.cmd, m.exited = cmd, exited
	// Bounds a broker that never comes up; mosquitto on a loaded machine
	// takes well under a second, but the bound is for a hang, not for load.
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.Addr, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-exited:
			m.cmd = nil
			return fmt.Errorf("exited before %s accepted connections", m.Addr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.stop()
			return fmt.Errorf("%s does not accept connections after 60 s", m.Addr)
		}
	}
}

// Stop stops the broker (SIGTERM, then wait; SIGKILL after 5 s): its
// clients' connections end. Stopping a stopped broker does nothing.
func (m *Mosquitto) Stop() {
	m.t.Helper()
	m.stop()
}

// Restart stops the broker and starts it again on the same port.
func (m *Mosquitto) Restart() {
	m.t.Helper()
	m.stop()
	m.Start()
}

func (m *Mosquitto) stop() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
	m.cmd = nil
}

// Log is what the broker has logged so far.
func (m *Mosquitto) Log() string {
	b, _ := os.ReadFile(m.logPath)
	return string(b)
}

func (m *Mosquitto) logTail() string {
	b, _ := os.ReadFile(m.logPath)
	if len(b) > 4000 {
		b = append([]byte("…"), b[len(b)-4000:]...)
	}
	return string(b)
}
