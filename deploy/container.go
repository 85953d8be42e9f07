package deploy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Container is how one platform runs the image, read from its deployment
// file: what a runner needs to start the real image the same way (docker
// run, runc) and to judge it the way the platform would.
type Container struct {
	Source                 string // the file or kustomization it was read from
	Image                  string
	Env                    []EnvVar
	User                   string // uid:gid
	ReadOnlyRootFilesystem bool
	CapDrop, CapAdd        []string
	NoNewPrivileges        bool
	Port                   int   // the service's port in the container
	MetricsPort            int   // the metrics listener's port; 0: none
	NofileSoft, NofileHard int   // 0: the runtime's default
	MemoryLimit            int64 // bytes (ECS: the task's memory); 0: none

	// ECS: the task definition's container health check (the image's
	// HEALTHCHECK does not count on ECS) and how long ECS waits after
	// SIGTERM before SIGKILL.
	HealthCheck *HealthCheck
	StopTimeout time.Duration

	// Kubernetes: the kubelet polls the probes over HTTP; on deletion it
	// runs the preStop sleep, then sends SIGTERM, and sends SIGKILL when
	// TerminationGracePeriod (counted from the start of preStop) runs out.
	StartupProbe, ReadinessProbe, LivenessProbe *HTTPProbe
	PreStopSleep                                time.Duration
	TerminationGracePeriod                      time.Duration
}

// HealthCheck is a container health check in exec form.
type HealthCheck struct {
	Command                        []string // what to execute in the container, without ECS's "CMD"
	Interval, Timeout, StartPeriod time.Duration
	Retries                        int
}

// HTTPProbe is a Kubernetes httpGet probe, with Kubernetes' defaults filled in.
type HTTPProbe struct {
	Path                               string
	Port                               int
	InitialDelay, Period, Timeout      time.Duration
	SuccessThreshold, FailureThreshold int
}

// KubernetesContainer builds a kustomization (one of Kustomizations) and
// reads its Deployment's container, with Kubernetes' defaults filled in.
func KubernetesContainer(kustomization string) (Container, error) {
	objs, err := BuildKustomization(kustomization)
	if err != nil {
		return Container{}, err
	}
	return deploymentContainer(kustomization, objs.Deployment)
}

// deploymentContainer reads a Deployment's container (source names where
// it came from).
func deploymentContainer(source string, d *appsv1.Deployment) (Container, error) {
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		return Container{}, fmt.Errorf("%s: want one container", source)
	}
	c := pod.Containers[0]
	out := Container{
		Source:                 source,
		Image:                  c.Image,
		PreStopSleep:           PreStopSleep(c),
		TerminationGracePeriod: 30 * time.Second,
	}
	for _, e := range c.Env {
		out.Env = append(out.Env, EnvVar{e.Name, e.Value})
	}
	if g := pod.TerminationGracePeriodSeconds; g != nil {
		out.TerminationGracePeriod = time.Duration(*g) * time.Second
	}
	if ps := pod.SecurityContext; ps != nil && ps.RunAsUser != nil && ps.RunAsGroup != nil {
		out.User = fmt.Sprintf("%d:%d", *ps.RunAsUser, *ps.RunAsGroup)
	}
	if cs := c.SecurityContext; cs != nil {
		out.ReadOnlyRootFilesystem = cs.ReadOnlyRootFilesystem != nil && *cs.ReadOnlyRootFilesystem
		out.NoNewPrivileges = cs.AllowPrivilegeEscalation != nil && !*cs.AllowPrivilegeEscalation
		if caps := cs.Capabilities; caps != nil {
			for _, d := range caps.Drop {
				out.CapDrop = append(out.CapDrop, string(d))
			}
			for _, a := range caps.Add {
				out.CapAdd = append(out.CapAdd, string(a))
			}
		}
	}
	for _, p := range c.Ports {
		switch p.Name {
		case "http":
			out.Port = int(p.ContainerPort)
		case "metrics":
			out.MetricsPort = int(p.ContainerPort)
		}
	}
	if m, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		out.MemoryLimit = m.Value()
	}
	out.StartupProbe = httpProbe(c.StartupProbe, c)
	out.ReadinessProbe = httpProbe(c.ReadinessProbe, c)
	out.LivenessProbe = httpProbe(c.LivenessProbe, c)
	return out, nil
}

func httpProbe(p *corev1.Probe, c corev1.Container) *HTTPProbe {
	if p == nil || p.HTTPGet == nil {
		return nil
	}
	out := &HTTPProbe{
		Path:             p.HTTPGet.Path,
		Port:             resolvePort(p.HTTPGet.Port, c),
		InitialDelay:     seconds(int(p.InitialDelaySeconds), 0),
		Period:           seconds(int(p.PeriodSeconds), 10),
		Timeout:          seconds(int(p.TimeoutSeconds), 1),
		SuccessThreshold: int(p.SuccessThreshold),
		FailureThreshold: int(p.FailureThreshold),
	}
	if out.SuccessThreshold == 0 {
		out.SuccessThreshold = 1
	}
	if out.FailureThreshold == 0 {
		out.FailureThreshold = 3
	}
	return out
}

// seconds converts a platform's count of seconds, 0 meaning its default.
func seconds(n, def int) time.Duration {
	if n == 0 {
		n = def
	}
	return time.Duration(n) * time.Second
}

// DockerRunArgs are the `docker run` options that reproduce the container
// (not the image, nor -p: the runner adds those). The health check becomes
// --health-cmd, which Docker runs through /bin/sh -c (the Alpine image has
// one); a runner on the Engine API can pass HealthCheck.Command in exec
// form instead.
func (c Container) DockerRunArgs() []string {
	args := []string{"--user", c.User}
	if c.ReadOnlyRootFilesystem {
		args = append(args, "--read-only")
	}
	for _, capability := range c.CapDrop {
		args = append(args, "--cap-drop", capability)
	}
	for _, capability := range c.CapAdd {
		args = append(args, "--cap-add", capability)
	}
	if c.NoNewPrivileges {
		args = append(args, "--security-opt", "no-new-privileges")
	}
	for _, e := range c.Env {
		args = append(args, "--env", e.Name+"="+e.Value)
	}
	if c.NofileSoft > 0 {
		args = append(args, "--ulimit", fmt.Sprintf("nofile=%d:%d", c.NofileSoft, c.NofileHard))
	}
	if c.MemoryLimit > 0 {
		// No swap on top: Fargate has none, and the kubelet runs without.
		limit := strconv.FormatInt(c.MemoryLimit, 10)
		args = append(args, "--memory", limit, "--memory-swap", limit)
	}
	if h := c.HealthCheck; h != nil {
		args = append(args,
			"--health-cmd", strings.Join(h.Command, " "),
			"--health-interval", h.Interval.String(),
			"--health-timeout", h.Timeout.String(),
			"--health-start-period", h.StartPeriod.String(),
			"--health-retries", strconv.Itoa(h.Retries))
	}
	stop := c.StopTimeout
	if stop == 0 {
		stop = c.TerminationGracePeriod - c.PreStopSleep
	}
	if stop > 0 {
		args = append(args, "--stop-timeout", strconv.Itoa(int(stop/time.Second)))
	}
	return args
}
