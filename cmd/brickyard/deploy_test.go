package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"brickyard/mtp/mqtt"
	"brickyard/scenarios/agents"
	"brickyard/scenarios/report"
)

const deployDir = "../../deploy/kubernetes"

// render renders the kustomization in dir of fsys.
func render(t *testing.T, fsys filesys.FileSystem, dir string) resmap.ResMap {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	if err != nil {
		t.Fatalf("kustomize %s: %v", dir, err)
	}
	return m
}

// decoded is the rendered objects, each decoded strictly into its
// k8s.io/api type: an unknown or misspelt field fails.
type decoded struct {
	job        *batchv1.Job
	configMaps []corev1.ConfigMap
	pvcs       []corev1.PersistentVolumeClaim
	namespaces []corev1.Namespace
}

func decode(t *testing.T, m resmap.ResMap) decoded {
	t.Helper()
	var d decoded
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		strict := func(v any) {
			if err := yaml.UnmarshalStrict(y, v); err != nil {
				t.Fatalf("%s %s: %v\n%s", r.GetKind(), r.GetName(), err, y)
			}
		}
		switch r.GetKind() {
		case "Job":
			if d.job != nil {
				t.Fatal("two Jobs")
			}
			d.job = &batchv1.Job{}
			strict(d.job)
		case "ConfigMap":
			var c corev1.ConfigMap
			strict(&c)
			d.configMaps = append(d.configMaps, c)
		case "PersistentVolumeClaim":
			var c corev1.PersistentVolumeClaim
			strict(&c)
			d.pvcs = append(d.pvcs, c)
		case "Namespace":
			var n corev1.Namespace
			strict(&n)
			d.namespaces = append(d.namespaces, n)
		default:
			t.Fatalf("a %s the test does not know: decode it strictly too", r.GetKind())
		}
	}
	if d.job == nil {
		t.Fatal("no Job")
	}
	return d
}

// expand replaces $(NAME) as Kubernetes does in a container's args.
func expand(s string, env map[string]string) string {
	return regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`).ReplaceAllStringFunc(s, func(v string) string {
		if val, ok := env[v[2:len(v)-1]]; ok {
			return val
		}
		return v
	})
}

// dockerfile is what the test reads of the Dockerfile: where the image
// puts the binary, its entrypoint, and how the build stamps the version.
type dockerfile struct {
	binary     string // COPY --from=build … DEST
	entrypoint []string
	build      string // the RUN … go build line
	user       string
}

func readDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var d dockerfile
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(word) {
		case "FROM", "WORKDIR", "ARG", "CMD", "ENV", "LABEL", "EXPOSE":
		case "COPY":
			if f := strings.Fields(rest); len(f) == 3 && strings.HasPrefix(f[0], "--from=") {
				d.binary = f[2]
			}
		case "RUN":
			if strings.Contains(rest, "go build") {
				d.build = rest
			}
		case "USER":
			d.user = rest
		case "ENTRYPOINT":
			if err := yaml.Unmarshal([]byte(rest), &d.entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT %s: not the exec (JSON) form: %v", rest, err)
			}
		default:
			t.Fatalf("Dockerfile: %q: an instruction the test does not know", word)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return d
}

// The manifests of deploy/kubernetes render, decode strictly into their
// Kubernetes types, run the binary the Dockerfile builds with flags and a
// configuration it accepts, give every device of the fleet to exactly one
// pod, and size each pod for its shard.
func TestDeploy_Kubernetes(t *testing.T) {
	clearEnv(t)
	d := decode(t, render(t, filesys.MakeFsOnDisk(), deployDir))
	job := d.job
	spec := job.Spec
	if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion {
		t.Fatalf("completionMode %v: want Indexed", spec.CompletionMode)
	}
	if spec.Completions == nil || spec.Parallelism == nil || *spec.Parallelism != *spec.Completions {
		t.Fatalf("completions %v, parallelism %v: every shard runs at once", spec.Completions, spec.Parallelism)
	}
	shards := int(*spec.Completions)
	pod := spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever || len(pod.Containers) != 1 {
		t.Fatalf("restart policy %s, %d containers", pod.RestartPolicy, len(pod.Containers))
	}
	c := pod.Containers[0]

	// The image is the Dockerfile's: the binary where it puts it, its
	// version stamped.
	df := readDockerfile(t, "../../Dockerfile")
	if df.binary == "" || len(df.entrypoint) != 1 || df.entrypoint[0] != df.binary {
		t.Fatalf("Dockerfile: binary %q, entrypoint %q", df.binary, df.entrypoint)
	}
	if !strings.Contains(df.build, "-X main.version=${VERSION}") || !strings.Contains(df.build, "./cmd/brickyard") ||
		!strings.Contains(df.build, "-o /out/"+filepath.Base(df.binary)) || !strings.Contains(df.build, "CGO_ENABLED=0") {
		t.Fatalf("Dockerfile builds %q", df.build)
	}
	_ = &version // main.version, which the Dockerfile's -X stamps (this does not compile without it)
	if len(c.Command) != 1 || c.Command[0] != df.binary {
		t.Fatalf("command %q: want the image's %s", c.Command, df.binary)
	}
	if !strings.HasPrefix(c.Image, "brickyard:") {
		t.Fatalf("image %q: want the brickyard image (kustomization images:)", c.Image)
	}
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsUser == nil || df.user != "nonroot:nonroot" || *pod.SecurityContext.RunAsUser != 65532 {
		t.Fatalf("the pod's user and the image's (%q) differ", df.user)
	}

	// The configuration: the ConfigMap's file, mounted where --config
	// reads it; the environment only what brickyard knows.
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Fatalf("env %s: from a reference, the test cannot check it", e.Name)
		}
		env[e.Name] = e.Value
		if strings.HasPrefix(e.Name, envPrefix) && newSchemaForTest().byEnv[e.Name] == nil {
			t.Errorf("env %s: not a configuration key", e.Name)
		}
	}
	if env["SHARDS"] != strconv.Itoa(shards) {
		t.Fatalf("SHARDS %q, completions %d", env["SHARDS"], shards)
	}
	if len(d.configMaps) != 1 {
		t.Fatalf("%d ConfigMaps", len(d.configMaps))
	}
	cm := d.configMaps[0]
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	if v := vols["config"]; v.ConfigMap == nil || v.ConfigMap.Name != cm.Name {
		t.Fatalf("the config volume is not the ConfigMap %s (kustomize renames it)", cm.Name)
	}
	if v := vols["reports"]; v.PersistentVolumeClaim == nil || len(d.pvcs) != 1 || v.PersistentVolumeClaim.ClaimName != d.pvcs[0].Name ||
		d.pvcs[0].Spec.AccessModes[0] != corev1.ReadWriteMany {
		t.Fatal("the reports volume is not the ReadWriteMany claim")
	}
	dir := t.TempDir()
	cfgDir := filepath.Join(dir, strings.TrimPrefix(mounts["config"].MountPath, "/"))
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range cm.Data {
		if err := os.WriteFile(filepath.Join(cfgDir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Every pod's command line, as the Job's index makes it: brickyard
	// parses it, loads the configuration and resolves its shard; the
	// shards cover the fleet exactly once.
	covered := map[int]int{}
	var total, perPod int
	outs := map[string]bool{}
	for i := range shards {
		env["JOB_COMPLETION_INDEX"] = strconv.Itoa(i)
		var args []string
		for _, a := range c.Args {
			a = expand(a, env)
			if strings.Contains(a, "$(") {
				t.Fatalf("arg %q: an unknown variable", a)
			}
			a = strings.ReplaceAll(a, "=/etc/", "="+dir+"/etc/")
			a = strings.ReplaceAll(a, "=/reports/", "="+dir+"/reports/")
			args = append(args, a)
		}
		sp, cfg := resolveFleetArgs(t, args)
		k, n := sp.Shard()
		if k != i+1 || n != shards {
			t.Fatalf("index %d runs shard %d/%d", i, k, n)
		}
		if outs[cfg.Out] || !strings.HasPrefix(cfg.Out, dir+mounts["reports"].MountPath+"/") {
			t.Fatalf("index %d writes its report to %s: not its own folder on the reports volume", i, cfg.Out)
		}
		outs[cfg.Out] = true
		if w, err := fleetWorkers(cfg, sp); err != nil || w != 1 {
			t.Fatalf("index %d runs in %d processes (%v): a pod is one shard", i, w, err)
		}
		if !cfg.MetricsExpose || !strings.HasSuffix(cfg.MetricsAddr, ":"+strconv.Itoa(int(c.Ports[0].ContainerPort))) {
			t.Fatalf("metrics on %s (expose %v), the pod's port %d", cfg.MetricsAddr, cfg.MetricsExpose, c.Ports[0].ContainerPort)
		}
		total = sp.Total()
		first, last := report.ShardRange(k, n, total)
		for dev := first; dev <= last; dev++ {
			covered[dev]++
		}
		perPod = max(perPod, last-first+1)
	}
	for dev := 1; dev <= total; dev++ {
		if covered[dev] != 1 {
			t.Fatalf("device %d runs in %d pods", dev, covered[dev])
		}
	}
	if len(covered) != total {
		t.Fatalf("%d devices covered of %d", len(covered), total)
	}

	// Resources: the memory for the shard's agents (docs/scale.md: about
	// 46 KiB per idle MQTT agent; 64 KiB with room), and a limit above.
	req, lim := c.Resources.Requests.Memory().Value(), c.Resources.Limits.Memory().Value()
	if need := int64(perPod)*64<<10 + 128<<20; req < need || lim < req {
		t.Fatalf("memory request %d, limit %d for %d agents a pod: want at least %d", req, lim, perPod, need)
	}
	if c.Resources.Requests.Cpu().IsZero() {
		t.Fatal("no CPU request")
	}
	if pod.SecurityContext == nil || len(pod.SecurityContext.Sysctls) == 0 || pod.SecurityContext.Sysctls[0].Name != "net.ipv4.ip_local_port_range" {
		t.Fatal("the pod does not widen its ephemeral ports")
	}
}

// Changing the Job's completions is one edit: the pods' SHARDS and the
// parallelism follow it.
func TestDeploy_CompletionsIsTheShardCount(t *testing.T) {
	fsys := filesys.MakeFsInMemory()
	ents, err := os.ReadDir(deployDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(deployDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "job.yaml" {
			data = []byte(strings.Replace(string(data), "completions: 8", "completions: 5", 1))
		}
		if err := fsys.WriteFile("/k/"+e.Name(), data); err != nil {
			t.Fatal(err)
		}
	}
	job := decode(t, render(t, fsys, "/k")).job
	c := job.Spec.Template.Spec.Containers[0]
	if *job.Spec.Completions != 5 || *job.Spec.Parallelism != 5 || c.Env[0].Name != "SHARDS" || c.Env[0].Value != "5" {
		t.Fatalf("completions %d, parallelism %d, env %+v", *job.Spec.Completions, *job.Spec.Parallelism, c.Env)
	}
}

// resolveFleetArgs parses brickyard's command line args as the binary
// does (the fleet command's flags, the configuration's layers) and
// resolves the fleet, without running it.
func resolveFleetArgs(t *testing.T, args []string) (*agents.Spec, agents.Config) {
	t.Helper()
	a := &app{stdout: &strings.Builder{}, stderr: &strings.Builder{}}
	root := newRootCmd(a)
	cmd, rest, err := root.Find(args)
	if err != nil || cmd.Name() != "fleet" {
		t.Fatalf("%q: command %v, %v", args, cmd.Name(), err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	if len(cmd.Flags().Args()) != 0 {
		t.Fatalf("%q: stray arguments %q", args, cmd.Flags().Args())
	}
	if err := a.setup(cmd); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	sp, err := agents.Resolve(a.cfg.Fleet, a.given("fleet"), loadProfiles)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	if !sp.HasController() {
		t.Fatalf("%q: no controller", args)
	}
	return sp, a.cfg.Fleet
}

func newSchemaForTest() *schema { return newSchema(reflect.TypeFor[Config]()) }

// podArgs are the fleet Job's pod I's arguments, its paths moved under
// root, with more flags after them.
func podArgs(t *testing.T, c corev1.Container, shards, i int, root string, more ...string) []string {
	t.Helper()
	env := map[string]string{"JOB_COMPLETION_INDEX": strconv.Itoa(i)}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	env["SHARDS"] = strconv.Itoa(shards)
	var args []string
	for _, a := range c.Args {
		a = expand(a, env)
		a = strings.ReplaceAll(a, "=/etc/", "="+root+"/etc/")
		a = strings.ReplaceAll(a, "=/reports/", "="+root+"/reports/")
		args = append(args, a)
	}
	return append(args, more...)
}

// The Indexed Job, emulated on this machine: every pod's command line, as
// the Job's index makes it, run as a process of its own against a broker
// and a controller here (the manifests' configuration, with the broker's
// address, the size and the duration overridden by flags), then the merge
// Job's command line over the reports volume: one merged report with
// every device once and every shard reported.
func TestDeploy_LocalIndexedJob(t *testing.T) {
	clearEnv(t)
	d := decode(t, render(t, filesys.MakeFsOnDisk(), deployDir))
	m := decode(t, render(t, filesys.MakeFsOnDisk(), deployDir+"/merge")).job
	c := d.job.Spec.Template.Spec.Containers[0]
	mc := m.Spec.Template.Spec.Containers[0]
	if mc.Command[0] != c.Command[0] || mc.Image != c.Image {
		t.Fatalf("the merge Job runs %s %s, the fleet %s %s", mc.Image, mc.Command, c.Image, c.Command)
	}
	if v := m.Spec.Template.Spec.Volumes[0]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != d.pvcs[0].Name {
		t.Fatal("the merge Job does not mount the reports volume")
	}

	b, err := mqtt.NewEmbeddedBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	l, err := mqtt.NewListener(mqtt.Config{Broker: b.URL(), ControllerID: testCtrl})
	if err != nil {
		t.Fatal(err)
	}
	tc := serveTestController(ctx, t, l)
	defer func() { cancel(); l.Close(); tc.wg.Wait() }()

	root := t.TempDir()
	cfgDir := filepath.Join(root, "etc", "brickyard")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range d.configMaps[0].Data {
		if err := os.WriteFile(filepath.Join(cfgDir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const shards, devices = 3, 10
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, shards)
	outs := make([][]byte, shards)
	for i := range shards {
		args := podArgs(t, c, shards, i, root, "--mqtt", b.Addr(), "--controller-id", testCtrl, "--devices", strconv.Itoa(devices), "--duration", "3s",
			"--connect-rate", "0", "--connect-jitter", "0s", "--metrics-addr", "127.0.0.1:0")
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, exe, append([]string{"pod"}, args...)...)
			cmd.Env = append(os.Environ(), "JOB_COMPLETION_INDEX="+strconv.Itoa(i))
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i := range shards {
		if errs[i] != nil {
			t.Fatalf("pod %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	var margs []string
	for _, a := range mc.Args {
		a = strings.ReplaceAll(a, "/reports/", root+"/reports/")
		margs = append(margs, a)
	}
	out, errOut, code := runBrickyard(t, nil, margs...)
	if code != 0 {
		t.Fatalf("merge %q: code %d\n%s\n%s", margs, code, out, errOut)
	}
	r := readReport(t, filepath.Join(root, "reports", "merged"))
	if r.Devices != devices || len(r.Shards) != shards || countOf(r.Messages, "received Get") != devices {
		t.Fatalf("merged: %d devices, shards %+v, messages %v", r.Devices, r.Shards, r.Messages)
	}
	for i, dev := range r.Fleet {
		if want := fmt.Sprintf("os::00256D-SIM%06d", i+1); dev.ID != want {
			t.Fatalf("device %d is %s, want %s", i, dev.ID, want)
		}
	}
	if !strings.Contains(out, "merged from 3 shards, every one reported") {
		t.Fatalf("summary:\n%s", out)
	}
}
