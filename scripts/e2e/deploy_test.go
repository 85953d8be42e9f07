//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/example/fiber-service/deploy"
)

// The deployment files in deploy/, exercised against the real image the way
// each platform would run it: the container settings come from the files
// themselves, not from this test.

// deployImage pushes the image once and returns its reference.
var deployImage = sync.OnceValues(func() (string, error) {
	vars := append([]string{"REGISTRY=" + env.registry, "TAG=e2e-deploy"}, env.dockerEnv...)
	_, err := runEnv(vars, "docker", "buildx", "bake", "--push")
	return env.registry + "/" + env.image + ":e2e-deploy", err
})

// runDeployed starts ref for arch as the container name, with the
// container's docker run options, and returns the base URLs of its service
// port and of its metrics port.
func runDeployed(t *testing.T, c deploy.Container, ref, arch, name string) (string, string) {
	t.Helper()
	if c.Port != 8080 || c.MetricsPort == 0 {
		t.Fatalf("%s: container port %d and metrics port %d: want the image's 8080 and a metrics port", c.Source, c.Port, c.MetricsPort)
	}
	docker(t, "pull", "--platform", "linux/"+arch, ref)
	port, metrics := freePort(), freePort()
	args := append([]string{"run", "-d", "--platform", "linux/" + arch, "--name", name,
		"-p", fmt.Sprintf("127.0.0.1:%s:%d", port, c.Port),
		"-p", fmt.Sprintf("127.0.0.1:%s:%d", metrics, c.MetricsPort)}, c.DockerRunArgs()...)
	t.Cleanup(func() { runEnv(env.dockerEnv, "docker", "rm", "-f", name) })
	docker(t, append(args, ref)...)
	return publish(t, port), publish(t, metrics)
}

// scrape reads /metrics as Prometheus would and returns the value of the
// sample written exactly as series (e.g. `http_server_draining`).
func scrape(t *testing.T, base, series string) string {
	t.Helper()
	code, body, err := get(base + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	t.Fatalf("/metrics has no sample %s", series)
	return ""
}

// TestDeployECS runs the image as the stack's task definition says for each
// architecture, with the documented parameter values (user, read-only root,
// dropped capabilities, environment, nofile, memory, the task's health check
// with its timing): ECS would see HEALTHY, the process has the hardening the
// task asks for, and a stop within the task's stopTimeout ends in exit code 0.
func TestDeployECS(t *testing.T) {
	ref, err := deployImage()
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"arm64", "amd64"} {
		t.Run(arch, func(t *testing.T) {
			if arch != hostArch() {
				emulateArm64(t)
			}
			c := ecsContainer(t, arch)
			if c.HealthCheck == nil {
				t.Fatalf("%s: no container health check (ECS ignores the image's HEALTHCHECK)", c.Source)
			}
			name := "fiber-e2e-ecs-" + arch
			base, metrics := runDeployed(t, c, ref, arch, name)
			h := c.HealthCheck
			if arch == hostArch() {
				limit := h.StartPeriod + time.Duration(h.Retries+1)*(h.Interval+h.Timeout)
				waitFor(t, "HEALTHY by the task's health check", limit, func() error {
					if s := docker(t, "inspect", "--format", "{{.State.Health.Status}}", name); s != "healthy" {
						return fmt.Errorf("health %s: %s", s, docker(t, "inspect", "--format", "{{json .State.Health.Log}}", name))
					}
					return nil
				})
				waitServing(t, name, base, 10*time.Second)
			} else {
				// Under QEMU every exec is many times slower than on a
				// Graviton host, so the task's timing is judged on the native
				// platform only; here the task's command itself must pass.
				waitServing(t, name, base, time.Minute)
				docker(t, append([]string{"exec", name}, h.Command...)...)
			}
			checkServes(t, base, arch, "")
			checkHardening(t, c, func(args ...string) (string, error) {
				return runEnv(env.dockerEnv, "docker", append([]string{"exec", name}, args...)...)
			})
			if v := scrape(t, metrics, `build_info{commit="unknown",goarch="`+arch+`",version="dev"}`); v != "1" {
				t.Errorf("build_info = %s, want 1", v)
			}

			start := time.Now()
			docker(t, "stop", name) // the container's stop timeout is the task's stopTimeout
			took := time.Since(start)
			if code := docker(t, "inspect", "--format", "{{.State.ExitCode}}", name); code != "0" || took >= c.StopTimeout {
				t.Errorf("stop: exit code %s after %s, want 0 within the stopTimeout %s", code, took, c.StopTimeout)
			}
		})
	}
}

// TestDeployKubernetes runs the host's overlay's container as the kubelet
// would: the probes polled over HTTP, then the pod deleted under load, and
// says what a real pod sees at each phase of its deletion:
//
//  1. preStop (the sleep): the pod's endpoint is being removed, which takes
//     a while to reach every node's proxy and the load balancers, so new
//     connections still arrive; clients open them all along, and clients
//     with kept-alive connections keep sending on them.
//  2. SIGTERM, with SHUTDOWN_DELAY and then the drain: the endpoint is gone
//     everywhere, so no new connection arrives, but the clients already
//     connected (a proxy's pooled connections) keep sending on their
//     connections until the server answers `Connection: close`.
//
// Every request sent gets a full answer and none is reset; the process
// exits 0 within terminationGracePeriodSeconds.
func TestDeployKubernetes(t *testing.T) {
	ref, err := deployImage()
	if err != nil {
		t.Fatal(err)
	}
	arch := hostArch()
	c := kubernetesContainer(t, arch)
	name := "fiber-e2e-k8s-" + arch
	base, metrics := runDeployed(t, c, ref, arch, name)
	probe := func(p *deploy.HTTPProbe) (int, error) {
		client := http.Client{Timeout: p.Timeout}
		resp, err := client.Get(fmt.Sprintf("%s%s", base, p.Path))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for _, p := range []*deploy.HTTPProbe{c.StartupProbe, c.ReadinessProbe, c.LivenessProbe} {
		if p == nil || p.Port != c.Port {
			t.Fatalf("%s: every probe must be an httpGet on the container port: %+v", c.Source, p)
		}
	}
	sp := c.StartupProbe
	limit := sp.InitialDelay + time.Duration(sp.FailureThreshold)*sp.Period
	err = poll(limit, func() error {
		code, err := probe(sp)
		if err == nil && code != 200 {
			err = fmt.Errorf("status %d", code)
		}
		return err
	})
	if err != nil {
		t.Fatalf("startup probe %s: not within %s: %v\n%s", sp.Path, limit, err, dockerNetReport(name))
	}
	for _, p := range []*deploy.HTTPProbe{c.ReadinessProbe, c.LivenessProbe} {
		if code, err := probe(p); err != nil || code != 200 {
			t.Fatalf("probe %s: %d %v, want 200", p.Path, code, err)
		}
	}
	checkHardening(t, c, func(args ...string) (string, error) {
		return runEnv(env.dockerEnv, "docker", append([]string{"exec", name}, args...)...)
	})

	load := startDeletionLoad(base+"/", 8, 2)
	// Deletion: the kubelet runs the preStop sleep (the pod still serves),
	// then sends SIGTERM.
	deleted := time.Now()
	time.Sleep(c.PreStopSleep)
	load.sigterm()
	docker(t, "kill", "--signal", "TERM", name)
	waitFor(t, "readiness 503 after SIGTERM", 5*time.Second, func() error {
		code, err := probe(c.ReadinessProbe)
		if err == nil && code != 503 {
			err = fmt.Errorf("status %d", code)
		}
		return err
	})
	if code, err := probe(c.LivenessProbe); err != nil || code != 200 {
		t.Errorf("liveness while draining: %d %v, want 200 (do not restart a draining pod)", code, err)
	}
	if v := scrape(t, metrics, "http_server_draining"); v != "1" {
		t.Errorf("scraped while draining: http_server_draining %s, want 1", v)
	}
	// Every connected client is told to close; the listener closes after
	// SHUTDOWN_DELAY, and the drain ends the process.
	if !load.wait(c.TerminationGracePeriod) {
		t.Errorf("kept-alive clients still sending %s after SIGTERM: not every one was answered Connection: close", c.TerminationGracePeriod)
	}
	waitFor(t, "container exit", c.TerminationGracePeriod, func() error {
		if s := docker(t, "inspect", "--format", "{{.State.Status}}", name); s != "exited" {
			return fmt.Errorf("state %s", s)
		}
		return nil
	})
	took := time.Since(deleted)
	logs := dockerLogs(t, name)
	sigterm, err := logTime(logs, "shutting down")
	if err != nil {
		t.Fatalf("the server's SIGTERM: %v\n%s", err, tail(logs, 5))
	}
	before, after := load.phases(sigterm)
	t.Logf("preStop (%s, until the server logged SIGTERM): %d requests on new connections, %d on kept-alive connections, %d failed",
		c.PreStopSleep, before.newConns, before.keptAlive, len(before.failed))
	t.Logf("after SIGTERM: %d requests on new connections, %d on kept-alive connections, %d failed; %d of %d kept-alive clients "+
		"answered Connection: close (%d of them on a request sent before SIGTERM), the last request sent %s after SIGTERM; exited %s after deletion began",
		after.newConns, after.keptAlive, len(after.failed), before.closed+after.closed, load.keepAlive, before.closed,
		after.last.Sub(sigterm).Round(time.Millisecond), took.Round(time.Millisecond))
	for _, f := range append(before.failed, after.failed...) {
		t.Errorf("request failed or cut short: %s", f)
	}
	if before.newConns == 0 || before.keptAlive == 0 || after.newConns != 0 {
		t.Errorf("%d requests on new connections and %d on kept-alive ones during preStop, want both; %d new connections after SIGTERM, want none",
			before.newConns, before.keptAlive, after.newConns)
	}
	if before.closed+after.closed != load.keepAlive || load.reopened.Load() != 0 {
		t.Errorf("%d of %d kept-alive clients answered Connection: close, %d reopened a connection: want each to send on the "+
			"connection it had until told to close", before.closed+after.closed, load.keepAlive, load.reopened.Load())
	}
	if code := docker(t, "inspect", "--format", "{{.State.ExitCode}}", name); code != "0" || took >= c.TerminationGracePeriod {
		t.Errorf("exit code %s after %s, want 0 within terminationGracePeriodSeconds %s", code, took, c.TerminationGracePeriod)
	}
}

// logTime is the time of the server's first log line with msg.
func logTime(logs, msg string) (time.Time, error) {
	for line := range strings.Lines(logs) {
		var l struct {
			Time time.Time
			Msg  string
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == msg {
			return l.Time, nil
		}
	}
	return time.Time{}, fmt.Errorf("no %q log line", msg)
}

// deletionLoad is the traffic a pod sees while it is deleted: clients that
// open a new connection per request (until SIGTERM: the endpoint is gone by
// then) and clients that keep one connection alive and send on it until an
// answer says Connection: close. Every request is recorded with the time it
// was sent, so it can be placed before or after the moment the server
// itself logged SIGTERM.
type deletionLoad struct {
	keepAlive int
	term      atomic.Bool
	reopened  atomic.Int64 // kept-alive clients that had to open another connection
	mu        sync.Mutex
	sent      []sentRequest
	done      chan struct{}
}

type sentRequest struct {
	at        time.Time
	keptAlive bool  // on a kept-alive connection, else on a new one
	closed    bool  // answered Connection: close
	err       error // no full 200 answer
}

// The full answer of GET / (docs/service.md, Endpoints).
const rootBody = `{"key":"key","value":"value"}`

func startDeletionLoad(url string, keepAlive, newConns int) *deletionLoad {
	l := &deletionLoad{keepAlive: keepAlive, done: make(chan struct{})}
	var wg sync.WaitGroup
	for range newConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for !l.term.Load() {
				req, _ := http.NewRequest("GET", url, nil)
				l.do(client, req, false)
			}
		}()
	}
	for range keepAlive {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}}
			conns := 0
			trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
				if !i.Reused {
					if conns++; conns > 1 {
						l.reopened.Add(1)
					}
				}
			}}
			// Told to close, the connection is done, and this pod is no
			// endpoint any more: the client goes (a proxy would send to
			// another pod).
			for {
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", url, nil)
				r := l.do(client, req, true)
				if r.closed || (r.err != nil && l.term.Load()) {
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(l.done) }()
	return l
}

// do sends one request and records it; a failure, a status other than 200
// or a body cut short is its err.
func (l *deletionLoad) do(client *http.Client, req *http.Request, keptAlive bool) sentRequest {
	r := sentRequest{at: time.Now(), keptAlive: keptAlive}
	resp, err := client.Do(req)
	if err == nil {
		var body []byte
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode != 200 || string(body) != rootBody) {
			err = fmt.Errorf("%d %q", resp.StatusCode, body)
		}
		r.closed = resp.Close
	}
	r.err = err
	l.mu.Lock()
	l.sent = append(l.sent, r)
	l.mu.Unlock()
	return r
}

// sigterm marks the moment SIGTERM is sent: the endpoint is gone, so no
// client opens a new connection from now on.
func (l *deletionLoad) sigterm() { l.term.Store(true) }

// wait waits until every client has stopped (kept-alive ones after their
// Connection: close), at most limit.
func (l *deletionLoad) wait(limit time.Duration) bool {
	select {
	case <-l.done:
		return true
	case <-time.After(limit):
		return false
	}
}

// phaseCounts are the requests sent in one phase of the deletion.
type phaseCounts struct {
	newConns, keptAlive, closed int
	failed                      []string
	last                        time.Time // the last request sent
}

// phases splits the requests at the server's SIGTERM.
func (l *deletionLoad) phases(sigterm time.Time) (before, after phaseCounts) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.sent {
		p := &before
		if !r.at.Before(sigterm) {
			p = &after
		}
		switch {
		case r.err != nil:
			p.failed = append(p.failed, r.err.Error())
		case r.keptAlive:
			p.keptAlive++
		default:
			p.newConns++
		}
		if r.closed && r.keptAlive {
			p.closed++
		}
		if r.at.After(p.last) {
			p.last = r.at
		}
	}
	return before, after
}

// TestDeployKubernetesMaxConns runs the overlay's container under the
// Deployment's memory limit and fills it with MAX_CONNS idle keep-alive
// connections, each after one request (what the benchmark measured): the
// kernel does not kill it, and the connection past the cap gets fasthttp's
// 503.
func TestDeployKubernetesMaxConns(t *testing.T) {
	ref, err := deployImage()
	if err != nil {
		t.Fatal(err)
	}
	arch := hostArch()
	c := kubernetesContainer(t, arch)
	svc, err := service()
	if err != nil {
		t.Fatal(err)
	}
	cfg, errs := svc.Config(c.Source+" env", c.Env)
	if len(errs) > 0 || c.MemoryLimit == 0 {
		t.Fatalf("%s: %v, memory limit %d", c.Source, errs, c.MemoryLimit)
	}
	name := "fiber-e2e-k8s-maxconns"
	base, _ := runDeployed(t, c, ref, arch, name)
	// Without keep-alive: a connection kept by this client would hold one
	// of the MAX_CONNS.
	once := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	waitFor(t, "/livez", 10*time.Second, func() error {
		_, _, err := getWith(once, base+"/livez")
		return err
	})
	ip := docker(t, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name)
	addr := net.JoinHostPort(ip, fmt.Sprint(c.Port))

	start := time.Now()
	conns, err := holdConns(addr, cfg.MaxConns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		state, _ := runEnv(env.dockerEnv, "docker", "inspect", "--format", "{{.State.Status}} exit={{.State.ExitCode}} oom-killed={{.State.OOMKilled}}", name)
		t.Fatalf("%d of MAX_CONNS=%d connections under the %s limit: %v; container %s\n%s",
			len(conns), cfg.MaxConns, resourceString(c.MemoryLimit), err, state, tail(dockerLogs(t, name), 3))
	}
	held := time.Since(start)
	memory := func(file string) int64 {
		out, err := runEnv(env.dockerEnv, "docker", "exec", name, "cat", "/sys/fs/cgroup/memory/"+file)
		n, perr := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
		if err != nil || perr != nil {
			t.Fatalf("cgroup %s: %v %v", file, err, perr)
		}
		return n
	}
	usage, peak, limit := memory("memory.usage_in_bytes"), memory("memory.max_usage_in_bytes"), memory("memory.limit_in_bytes")
	status := docker(t, "exec", name, "cat", "/proc/1/status")
	rss := ""
	for line := range strings.Lines(status) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss = strings.TrimSpace(v)
		}
	}

	// One more: fasthttp answers 503 as it accepts it, and closes.
	if code, body, err := firstAnswer(addr); err != nil || code != 503 {
		t.Errorf("connection %d past MAX_CONNS=%d: %d %q %v, want fasthttp's 503", cfg.MaxConns+1, cfg.MaxConns, code, body, err)
	}
	if s := docker(t, "inspect", "--format", "{{.State.Status}} oom-killed={{.State.OOMKilled}}", name); s != "running oom-killed=false" {
		t.Fatalf("holding MAX_CONNS=%d connections under the %d MiB limit: %s", cfg.MaxConns, c.MemoryLimit>>20, s)
	}
	oom := docker(t, "exec", name, "cat", "/sys/fs/cgroup/memory/memory.oom_control")
	if !strings.Contains(oom, "oom_kill 0") {
		t.Errorf("memory.oom_control: %s, want oom_kill 0", oom)
	}
	t.Logf("MAX_CONNS=%d idle connections opened in %s (REDUCE_MEMORY_USAGE=%t): VmRSS %s; cgroup usage %.1f MiB, peak %.1f MiB, limit %.0f MiB (the Deployment's %s); connection %d: 503",
		cfg.MaxConns, held.Round(time.Millisecond), cfg.ReduceMemoryUsage, rss, mib(usage), mib(peak), mib(limit), resourceString(c.MemoryLimit), cfg.MaxConns+1)
	if limit != c.MemoryLimit {
		t.Errorf("cgroup limit %d, want the Deployment's %d", limit, c.MemoryLimit)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	waitFor(t, "/livez once the connections are closed", 10*time.Second, func() error {
		_, _, err := getWith(once, base+"/livez")
		return err
	})
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func resourceString(n int64) string { return fmt.Sprintf("%dMi", n>>20) }

// firstAnswer connects to addr inside dockerd's network namespace and reads
// what the server sends before any request.
func firstAnswer(addr string) (int, string, error) {
	c, err := dialNetns(env.netns, addr)
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// holdConns opens n connections to addr inside dockerd's network namespace
// (straight to the container, past docker-proxy), sends one keep-alive
// request on each and reads its full answer; it returns the open
// connections, and an error naming the status of the first answer that was
// not a 200.
func holdConns(addr string, n int) ([]net.Conn, error) {
	var conns []net.Conn
	err := inNetns(env.netns, func() error {
		for range n {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		return nil
	})
	if err != nil {
		return conns, err
	}
	// Requests from many goroutines at once: the connections exist already.
	var g errgroup.Group
	g.SetLimit(64)
	for _, c := range conns {
		g.Go(func() error {
			c.SetDeadline(time.Now().Add(30 * time.Second))
			defer c.SetDeadline(time.Time{})
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: fiber\r\n\r\n"); err != nil {
				return err
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("status %d %q", resp.StatusCode, body)
			}
			return err
		})
	}
	return conns, g.Wait()
}
