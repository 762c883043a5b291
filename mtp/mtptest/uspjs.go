package mtptest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// USPJSPlan is what the usp-js driver (uspjs/driver.js, which documents
// every field and step) runs: one MQTT connection as a USP Controller to
// one agent, and its steps in order.
type USPJSPlan struct {
	Host              string      `json:"host,omitempty"`            // default 127.0.0.1
	Port              int         `json:"port,omitempty"`            // default 1883
	ProtocolVersion   int         `json:"protocolVersion,omitempty"` // 4 (MQTT 3.1.1, the default) or 5
	ToID              string      `json:"toId"`                      // the agent's Endpoint ID
	FromID            string      `json:"fromId,omitempty"`          // the controller's
	PublishEndpoint   string      `json:"publishEndpoint"`           // the agent's topic
	SubscribeEndpoint string      `json:"subscribeEndpoint"`         // the controller's topic (a filter)
	ConnectTimeoutMs  int         `json:"connectTimeoutMs,omitempty"`
	StepTimeoutMs     int         `json:"stepTimeoutMs,omitempty"`
	TotalTimeoutMs    int         `json:"totalTimeoutMs,omitempty"`
	Steps             []USPJSStep `json:"steps"`
}

// USPJSStep is one step: "op" (get, set, add, del, instances, supportedDM,
// operate, subscribe, unsubscribe, waitFor), an optional "name" and
// "timeoutMs", and the op's arguments as driver.js documents them.
type USPJSStep map[string]any

// USPJSResult is what the driver printed for one step.
type USPJSResult struct {
	Step string `json:"step"`
	Op   string `json:"op"`
	OK   bool   `json:"ok"` // usp-js resolved (false: it rejected, e.g. a USP error)
	// Result is what usp-js resolved with; Error what it rejected with.
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
	Ms     float64         `json:"ms"`
	// Filtered are the Records the driver kept from usp-js while the step
	// ran: Disconnect and MTP Connect Records, Records to another
	// endpoint, undecodable ones (see driver.js).
	Filtered []map[string]any `json:"filtered"`
}

// Decode unmarshals the step's Result into v.
func (r USPJSResult) Decode(v any) error {
	if err := json.Unmarshal(r.Result, v); err != nil {
		return fmt.Errorf("step %s result %s: %w", r.Step, r.Result, err)
	}
	return nil
}

// USPError is the error object usp-js rejects with for a USP error: the
// err_code and err_msg of the failure it found in the response, with the
// rest of that failure (param_errs, updated_inst_failures…) in Raw.
type USPError struct {
	ErrCode int    `json:"errCode"`
	ErrMsg  string `json:"errMsg"`
	Message string `json:"message"` // a non-USP rejection (a timeout, a driver error)
	Raw     map[string]any
}

// USPError decodes the step's Error (zero when the step succeeded).
func (r USPJSResult) USPError() USPError {
	var e USPError
	if len(r.Error) == 0 || string(r.Error) == "null" {
		return e
	}
	_ = json.Unmarshal(r.Error, &e)
	_ = json.Unmarshal(r.Error, &e.Raw)
	return e
}

// USPJS returns the folder of the usp-js driver (mtp/mtptest/uspjs) after
// checking that node and the pinned usp-js are installed there. A missing
// one fails the test: `make deps` installs them, and in CI a missing
// component is a failure, never a skip.
func USPJS(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("usp-js driver: node is not installed (%v): run `make deps` (Debian packages nodejs and npm)", err)
	}
	dir, err := uspjsDir()
	if err != nil {
		t.Fatalf("usp-js driver: %v", err)
	}
	var pin struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	var got struct {
		Version string `json:"version"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &pin)
	}
	if err != nil {
		t.Fatalf("usp-js driver: %s/package.json: %v", dir, err)
	}
	b, err = os.ReadFile(filepath.Join(dir, "node_modules", "usp-js", "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &got)
	}
	if err != nil {
		t.Fatalf("usp-js driver: usp-js is not installed in %s (%v): run `make deps`", dir, err)
	}
	if want := pin.Dependencies["usp-js"]; got.Version != want {
		t.Fatalf("usp-js driver: usp-js %s is installed in %s, package.json pins %s: run `make deps`", got.Version, dir, want)
	}
	return dir
}

// uspjsDir finds mtp/mtptest/uspjs: beside this source file, else under
// the module's root (`go env GOMOD`), from any package's test directory.
func uspjsDir() (string, error) {
	var tried []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "uspjs")
		if isFile(filepath.Join(dir, "driver.js")) {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if mod := strings.TrimSpace(string(out)); err == nil && mod != "" && mod != os.DevNull {
		dir := filepath.Join(filepath.Dir(mod), "mtp", "mtptest", "uspjs")
		if isFile(filepath.Join(dir, "driver.js")) {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	return "", fmt.Errorf("driver.js not found (tried %s)", strings.Join(tried, ", "))
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// RunUSPJS runs the driver with plan (a USPJSPlan, or anything that
// marshals to the driver's plan) and returns one result per step run.
// A driver that exits non-zero (a transport failure, a step timeout, an
// exception) or prints anything but one JSON object per line fails the
// test with its output; USP errors do not: they are steps with OK false,
// for the test to judge. ctx bounds the run: the driver's process group is
// killed when it ends. The driver's stderr (usp-js's own logs) is logged.
func RunUSPJS(t testing.TB, ctx context.Context, plan any) []USPJSResult {
	t.Helper()
	dir := USPJS(t)
	in, err := json.Marshal(plan)
	if err != nil {
		t.Fatalf("usp-js driver: plan: %v", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "node", "driver.js")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, killed whole when ctx ends; SIGKILL if the
	// test binary dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err = cmd.Run()
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("usp-js driver stderr:\n%s", s)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, ctx.Err())
		}
		t.Fatalf("usp-js driver failed after %v: %v\nstdout:\n%s\nstderr:\n%s", time.Since(start).Round(time.Millisecond), err, stdout.String(), stderr.String())
	}
	var res []USPJSResult
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r USPJSResult
		if err := json.Unmarshal(line, &r); err != nil || r.Step == "" {
			t.Fatalf("usp-js driver printed %q, not a step result (%v)\nstdout:\n%s", line, err, stdout.String())
		}
		res = append(res, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("usp-js driver output: %v", err)
	}
	var steps int
	switch p := plan.(type) {
	case USPJSPlan:
		steps = len(p.Steps)
	case *USPJSPlan:
		steps = len(p.Steps)
	default:
		steps = len(res)
	}
	if len(res) != steps {
		t.Fatalf("usp-js driver ran %d of %d steps\nstdout:\n%s", len(res), steps, stdout.String())
	}
	t.Logf("usp-js driver: %d steps in %v", len(res), time.Since(start).Round(time.Millisecond))
	return res
}
