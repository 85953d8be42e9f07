//go:build e2e

package e2e

import (
	"strings"
	"sync"
	"testing"

	"github.com/example/fiber-service/deploy"
)

// The hardening we ship is what the process gets: a container started with
// the security settings of a deploy file (deploy.Container, read from the
// ECS stack or a Kubernetes overlay) is checked from the inside, on the
// running server's /proc/1/status and with a write attempt, under runc and
// under Docker.

// service is what the deploy files are checked against (the Dockerfile's
// USER among it).
var service = sync.OnceValues(func() (deploy.Service, error) { return deploy.LoadService(env.root) })

// ecsContainer is the container the ECS stack runs on arch (amd64 or
// arm64), with the documented parameter values (README.md, docs/deploy.md).
func ecsContainer(t *testing.T, arch string) deploy.Container {
	t.Helper()
	params, err := deploy.DocumentedStackParameters(env.root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := deploy.ECSContainer(arch, params)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// kubernetesContainer is the container of the Kubernetes overlay for arch.
func kubernetesContainer(t *testing.T, arch string) deploy.Container {
	t.Helper()
	c, err := deploy.KubernetesContainer("k8s/overlays/" + arch)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkHardening reads the running container's PID 1 through execIn (a
// command run inside the container: runc exec or docker exec) and checks it
// has what the deploy files ship: the Dockerfile's user and group, no
// capability in its effective and bounding sets, no_new_privs as the
// platform sets it (Kubernetes' allowPrivilegeEscalation: false; Fargate has
// no such setting), and a root filesystem it cannot write to.
func checkHardening(t *testing.T, c deploy.Container, execIn func(args ...string) (string, error)) {
	t.Helper()
	svc, err := service()
	if err != nil {
		t.Fatal(err)
	}
	status, err := execIn("cat", "/proc/1/status")
	if err != nil {
		t.Fatalf("%s: /proc/1/status: %v", c.Source, err)
	}
	uid, gid, _ := strings.Cut(svc.User, ":")
	noNewPrivs := "0"
	if strings.HasPrefix(c.Source, "k8s/") {
		noNewPrivs = "1"
	}
	ok := true
	for _, want := range []string{
		"Uid:\t" + strings.Repeat(uid+"\t", 3) + uid + "\n", "Gid:\t" + strings.Repeat(gid+"\t", 3) + gid + "\n",
		"CapEff:\t0000000000000000\n", "CapBnd:\t0000000000000000\n", "NoNewPrivs:\t" + noNewPrivs + "\n",
	} {
		if !strings.Contains(status, want) {
			t.Errorf("%s: the server's /proc/1/status lacks %q:\n%s", c.Source, strings.TrimSpace(want), status)
			ok = false
		}
	}
	// /tmp is world-writable in the image: only a read-only root stops the
	// write.
	out, err := execIn("touch", "/tmp/written")
	if err == nil || !strings.Contains(out+err.Error(), "Read-only file system") {
		t.Errorf("%s: touch /tmp/written: %v %q, want Read-only file system", c.Source, err, out)
		ok = false
	}
	if ok {
		t.Logf("%s: uid/gid %s, CapEff and CapBnd 0, NoNewPrivs %s, root read-only", c.Source, svc.User, noNewPrivs)
	}
}
