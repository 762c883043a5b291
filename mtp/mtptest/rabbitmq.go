package mtptest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RabbitMQ runs as root without systemd, as the project's infrastructure
// notes (§1b) show, by calling /usr/lib/rabbitmq/bin/* directly (the
// /usr/sbin wrappers would su to the rabbitmq user), with all state in a
// temporary folder and every listener on 127.0.0.1.
const rmqBin = "/usr/lib/rabbitmq/bin"

// One broker per test binary. Starting RabbitMQ costs about 6 s and 140 MB,
// so StartRabbitMQ starts it once (sync.Once) and every test and benchmark
// of the binary shares it; StopRabbitMQ, called from TestMain after m.Run,
// stops it. Because the broker outlives the first test, its state lives in
// an os.MkdirTemp folder that StopRabbitMQ removes, not in t.TempDir().
// Tests that share the broker must use destinations of their own.
//
// Backstops when TestMain forgets StopRabbitMQ or the binary dies: the
// server is started with a parent-death signal (SIGTERM, which its start
// script turns into a clean stop), in a process group of its own.
//
// epmd (the Erlang port mapper, 127.0.0.1:4369 and [::1]:4369) is shared by
// every Erlang node on the machine: the first node starts it as a daemon and
// it stays after the broker stops, as it would on any Erlang host.
var rmq struct {
	once sync.Once
	mu   sync.Mutex
	err  error
	inst *rmqInstance
}

type rmqInstance struct {
	dir      string
	env      []string
	stompAdr string
	mqttAdr  string
	cmd      *exec.Cmd
	exited   chan struct{}
	log      *bytes.Buffer
}

// StartRabbitMQ returns the STOMP address (127.0.0.1:port) of the test
// binary's RabbitMQ, starting it on the first call: rabbitmq_stomp is
// enabled offline, AMQP, STOMP and Erlang distribution listen on free
// loopback ports, and the call returns once the STOMP port accepts
// connections. The STOMP plugin's default user is guest/guest (allowed on
// loopback only). A missing RabbitMQ fails the test: `make test` installs
// it.
//
// Every caller in the test binary shares that one broker (so use
// destinations of your own), and the package's TestMain must call
// StopRabbitMQ after m.Run:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		mtptest.StopRabbitMQ()
//		os.Exit(code)
//	}
func StartRabbitMQ(t testing.TB) (stompAddr string) {
	t.Helper()
	return startRabbitMQ(t).stompAdr
}

// RabbitMQMQTT returns the MQTT address (127.0.0.1:port) of the test
// binary's RabbitMQ (rabbitmq_mqtt, MQTT 3.1.1 in Debian's 3.10; the
// default user guest/guest, allowed on loopback, is the anonymous
// clients'), starting it as StartRabbitMQ does; the same TestMain rule
// holds.
func RabbitMQMQTT(t testing.TB) (mqttAddr string) {
	t.Helper()
	return startRabbitMQ(t).mqttAdr
}

func startRabbitMQ(t testing.TB) *rmqInstance {
	t.Helper()
	if _, err := os.Stat(filepath.Join(rmqBin, "rabbitmq-server")); err != nil {
		t.Fatalf("RabbitMQ is not installed (%v): `make test` installs it (Debian package rabbitmq-server)", err)
	}
	rmq.once.Do(func() {
		inst, err := rmqStart()
		rmq.mu.Lock()
		rmq.inst, rmq.err = inst, err
		rmq.mu.Unlock()
	})
	rmq.mu.Lock()
	defer rmq.mu.Unlock()
	if rmq.err != nil {
		t.Fatalf("start RabbitMQ: %v", rmq.err)
	}
	if rmq.inst == nil {
		t.Fatal("RabbitMQ was stopped: StopRabbitMQ belongs after m.Run in TestMain")
	}
	return rmq.inst
}

// StopRabbitMQ stops the broker StartRabbitMQ started, if any, and removes
// its state: `rabbitmqctl stop` first, then SIGKILL to its process group
// when it has not exited 15 s later. Call it from TestMain after m.Run.
func StopRabbitMQ() {
	rmq.mu.Lock()
	inst := rmq.inst
	rmq.inst = nil
	rmq.mu.Unlock()
	if inst != nil {
		inst.stop()
	}
}

// RabbitMQCtl runs rabbitmqctl against the test binary's broker (which
// StartRabbitMQ must have started) and returns its standard output, e.g.
// RabbitMQCtl(t, "list_queues", "name", "durable").
func RabbitMQCtl(t testing.TB, args ...string) string {
	t.Helper()
	rmq.mu.Lock()
	inst := rmq.inst
	rmq.mu.Unlock()
	if inst == nil {
		t.Fatal("RabbitMQCtl: RabbitMQ is not running (call StartRabbitMQ first)")
	}
	out, err := inst.ctl(rmqCtlTimeout, args...)
	if err != nil {
		t.Fatalf("rabbitmqctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// rmqStart starts the broker, trying again on new ports when a port it
// picked was taken between the check and the broker's bind (another test
// binary starting a broker at the same moment).
func rmqStart() (*rmqInstance, error) {
	var err error
	for range 3 {
		var inst *rmqInstance
		if inst, err = rmqStartOnce(); err == nil || !strings.Contains(err.Error(), "already_used") && !strings.Contains(err.Error(), "eaddrinuse") {
			return inst, err
		}
	}
	return nil, err
}

func rmqStartOnce() (*rmqInstance, error) {
	dir, err := os.MkdirTemp("", "brickyard-rabbitmq-")
	if err != nil {
		return nil, err
	}
	inst := &rmqInstance{dir: dir, exited: make(chan struct{}), log: &bytes.Buffer{}}
	ok := false
	defer func() {
		if !ok {
			inst.stop()
		}
	}()
	ports, err := rmqFreePorts(4)
	if err != nil {
		return nil, err
	}
	amqp, stomp, dist, mqtt := ports[0], ports[1], ports[2], ports[3]
	state := filepath.Join(dir, "rmq")
	for _, d := range []string{"mnesia", "log"} {
		if err := os.MkdirAll(filepath.Join(state, d), 0o755); err != nil {
			return nil, err
		}
	}
	conf := fmt.Sprintf(`listeners.tcp.default = 127.0.0.1:%d
stomp.listeners.tcp.1 = 127.0.0.1:%d
stomp.default_user = guest
stomp.default_pass = guest
mqtt.listeners.tcp.1 = 127.0.0.1:%d
mqtt.allow_anonymous = true
mqtt.default_user = guest
mqtt.default_pass = guest
loopback_users.guest = true
log.console = true
log.console.level = info
log.file = false
`, amqp, stomp, mqtt)
	confPath := filepath.Join(state, "rabbitmq.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	const distIface = "-kernel inet_dist_use_interface {127,0,0,1}"
	inst.env = append(os.Environ(),
		"RABBITMQ_CONFIG_FILE="+confPath,
		"RABBITMQ_MNESIA_BASE="+filepath.Join(state, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(state, "log"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(state, "enabled_plugins"),
		// A node name of its own, so test binaries running at once do not meet.
		fmt.Sprintf("RABBITMQ_NODENAME=rabbit-%d-%d@localhost", os.Getpid(), dist),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(dist),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+distIface,
		"RABBITMQ_CTL_ERL_ARGS="+distIface,
		"HOME="+state,
		"ERL_CRASH_DUMP="+filepath.Join(state, "erl_crash.dump"), // not in the test's folder
	)
	ctx, cancel := context.WithTimeout(context.Background(), rmqStartTimeout)
	defer cancel()
	plug := exec.CommandContext(ctx, filepath.Join(rmqBin, "rabbitmq-plugins"), "enable", "--offline", "rabbitmq_stomp", "rabbitmq_mqtt")
	plug.Env = inst.env
	if out, err := plug.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("rabbitmq-plugins enable --offline rabbitmq_stomp rabbitmq_mqtt: %v\n%s", err, out)
	}

	inst.cmd = exec.Command(filepath.Join(rmqBin, "rabbitmq-server"))
	inst.cmd.Env = inst.env
	inst.cmd.Stdout, inst.cmd.Stderr = &rmqSyncWriter{buf: inst.log}, &rmqSyncWriter{buf: inst.log}
	inst.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := inst.cmd.Start(); err != nil {
		return nil, fmt.Errorf("rabbitmq-server: %w", err)
	}
	go func() {
		_ = inst.cmd.Wait()
		close(inst.exited)
	}()
	inst.stompAdr = net.JoinHostPort("127.0.0.1", strconv.Itoa(stomp))
	inst.mqttAdr = net.JoinHostPort("127.0.0.1", strconv.Itoa(mqtt))
	for _, p := range []struct{ name, addr string }{{"STOMP", inst.stompAdr}, {"MQTT", inst.mqttAdr}} {
		for {
			c, err := net.DialTimeout("tcp", p.addr, time.Second)
			if err == nil {
				_ = c.Close()
				break
			}
			select {
			case <-inst.exited:
				return nil, fmt.Errorf("rabbitmq-server exited before its %s port opened:\n%s", p.name, inst.logTail())
			case <-ctx.Done():
				return nil, fmt.Errorf("%s port %s not open after %v:\n%s", p.name, p.addr, rmqStartTimeout, inst.logTail())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	ok = true
	return inst, nil
}

// The bounds on RabbitMQ's own programs. An Erlang VM starting on two
// cores that other tests keep busy has taken more than a minute to enable
// a plugin: these bound a hang, not a slow machine.
const (
	rmqStartTimeout = 5 * time.Minute
	rmqCtlTimeout   = 2 * time.Minute
)

func (in *rmqInstance) ctl(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(rmqBin, "rabbitmqctl"), args...)
	cmd.Env = in.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}

func (in *rmqInstance) stop() {
	if in.cmd != nil && in.cmd.Process != nil {
		select {
		case <-in.exited:
		default:
			_, _ = in.ctl(rmqCtlTimeout, "stop")
			select {
			case <-in.exited:
			case <-time.After(rmqCtlTimeout):
				_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
				<-in.exited
			}
		}
	}
	_ = os.RemoveAll(in.dir)
}

func (in *rmqInstance) logTail() string {
	s := (&rmqSyncWriter{buf: in.log}).String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}

// rmqFreePorts returns n distinct free loopback ports below the kernel's
// ephemeral range (and so below 55000, where Erlang's derived ports stay
// valid). Ports from the ephemeral range (what port 0 gives) could be
// taken by any outgoing connection of the tests running alongside between
// this check and the broker's bind.
func rmqFreePorts(n int) ([]int, error) {
	lo, hi := 20000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if start, err := strconv.Atoi(f[0]); err == nil && start > 11000 {
				lo, hi = max(10000, start-12000), start
			}
		}
	}
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))
	var ports []int
	var hold []net.Listener
	defer func() {
		for _, l := range hold {
			_ = l.Close()
		}
	}()
	for tries := 0; len(ports) < n && tries < 500; tries++ {
		p := lo + rng.IntN(hi-lo)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue // taken
		}
		hold = append(hold, l)
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("no %d free loopback ports in [%d, %d)", n, lo, hi)
	}
	return ports, nil
}

var rmqLogMu sync.Mutex

// rmqSyncWriter guards the server's log buffer: the process writes it while
// a failed start reads it.
type rmqSyncWriter struct{ buf *bytes.Buffer }

func (w *rmqSyncWriter) Write(p []byte) (int, error) {
	rmqLogMu.Lock()
	defer rmqLogMu.Unlock()
	if w.buf.Len() > 1<<20 { // keep memory bounded on a chatty broker
		w.buf.Reset()
	}
	return w.buf.Write(p)
}

func (w *rmqSyncWriter) String() string {
	rmqLogMu.Lock()
	defer rmqLogMu.Unlock()
	return w.buf.String()
}
