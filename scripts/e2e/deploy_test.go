//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// TestDeployECS runs the image as each ECS task definition says (user,
// read-only root, dropped capabilities, environment, nofile, the task's
// health check with its timing): ECS would see HEALTHY, and a stop within
// the task's stopTimeout ends in exit code 0.
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
			c, err := deploy.ECSContainer(arch)
			if err != nil {
				t.Fatal(err)
			}
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

// TestDeployKubernetes runs the amd64 overlay's container as the kubelet
// would: the probes polled over HTTP, then pod deletion under load (the
// preStop sleep, SIGTERM, SHUTDOWN_DELAY, the drain): no request fails and
// the process exits 0 within terminationGracePeriodSeconds.
func TestDeployKubernetes(t *testing.T) {
	ref, err := deployImage()
	if err != nil {
		t.Fatal(err)
	}
	arch := hostArch()
	c, err := deploy.KubernetesContainer("k8s/overlays/" + arch)
	if err != nil {
		t.Fatal(err)
	}
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

	// Load through keep-alive connections, as from a Service's endpoints.
	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				code, _, err := getWith(&client, base+"/")
				if err != nil || code != 200 {
					failed.Add(1)
				}
			}
		}()
	}

	// Deletion: the kubelet runs the preStop sleep (the pod still serves),
	// then sends SIGTERM. The endpoint is gone by then; clients that still
	// hold a connection are served during SHUTDOWN_DELAY.
	deleted := time.Now()
	time.Sleep(c.PreStopSleep)
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
	close(stop)
	wg.Wait()
	waitFor(t, "container exit", c.TerminationGracePeriod, func() error {
		if s := docker(t, "inspect", "--format", "{{.State.Status}}", name); s != "exited" {
			return fmt.Errorf("state %s", s)
		}
		return nil
	})
	took := time.Since(deleted)
	t.Logf("%d requests under load, %d failed; exited %s after deletion began", sent.Load(), failed.Load(), took.Round(time.Millisecond))
	if failed.Load() != 0 || sent.Load() == 0 {
		t.Errorf("%d of %d requests failed during the pod's deletion", failed.Load(), sent.Load())
	}
	if code := docker(t, "inspect", "--format", "{{.State.ExitCode}}", name); code != "0" || took >= c.TerminationGracePeriod {
		t.Errorf("exit code %s after %s, want 0 within terminationGracePeriodSeconds %s", code, took, c.TerminationGracePeriod)
	}
	logs := dockerLogs(t, name)
	if !strings.Contains(logs, `"msg":"shutting down"`) {
		t.Errorf("no drain log line:\n%s", tail(logs, 5))
	}
}
