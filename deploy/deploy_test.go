package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

func loadService(t *testing.T) Service {
	t.Helper()
	svc, err := LoadService("..")
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// python finds an interpreter with botocore: $PYTHON, else Debian's (where
// apt's python3-botocore is), else the first python3 on PATH.
var python = sync.OnceValues(func() (string, error) {
	for _, p := range []string{os.Getenv("PYTHON"), "/usr/bin/python3", "python3"} {
		if p != "" && exec.Command(p, "-c", "import botocore").Run() == nil {
			return p, nil
		}
	}
	return "", errors.New("no python3 with botocore: install python3-botocore (scripts/test does)")
})

// validateAWS runs validate_aws_request.py and returns its problem lines.
func validateAWS(t *testing.T, operation string, files ...string) []string {
	t.Helper()
	py, err := python()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	// From the top of the repository, as the README shows it.
	args := []string{"deploy/validate_aws_request.py", operation}
	for _, f := range files {
		args = append(args, filepath.Join("deploy", f))
	}
	cmd := exec.Command(py, args...)
	cmd.Dir = ".."
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	lines := strings.FieldsFunc(string(out), func(r rune) bool { return r == '\n' })
	var exit *exec.ExitError
	switch {
	case err == nil && len(lines) == 0:
		return nil
	case errors.As(err, &exit) && exit.ExitCode() == 1 && len(lines) > 0:
		return lines
	}
	t.Fatalf("validate_aws_request.py %s: %v (stdout %q, stderr %q)", operation, err, out, stderr.String())
	return nil
}

func taskDefinitionFiles(t *testing.T) map[string]string {
	t.Helper()
	paths, err := fs.Glob(files, ECSTaskDefinitionFile("*"))
	if err != nil {
		t.Fatal(err)
	}
	byArch := map[string]string{}
	for _, p := range paths {
		arch := strings.TrimSuffix(strings.TrimPrefix(path.Base(p), "task-definition-"), ".json")
		byArch[arch] = p
	}
	return byArch
}

func TestECSFilesPassTheAWSModels(t *testing.T) {
	for _, p := range taskDefinitionFiles(t) {
		for _, problem := range validateAWS(t, "ecs.RegisterTaskDefinition", p) {
			t.Error(problem)
		}
	}
	for p, operation := range ECSLoadBalancingFiles {
		for _, problem := range validateAWS(t, operation, p) {
			t.Error(problem)
		}
	}
}

func TestECSTaskDefinitionsFollowTheService(t *testing.T) {
	svc := loadService(t)
	byArch := taskDefinitionFiles(t)
	if got := slices.Sorted(func(yield func(string) bool) {
		for a := range byArch {
			if !yield(a) {
				return
			}
		}
	}); !slices.Equal(got, slices.Sorted(slices.Values(svc.Arches()))) {
		t.Errorf("task definitions for %v, docker-bake.hcl publishes %v", got, svc.Platforms)
	}
	var first map[string]any
	for _, arch := range svc.Arches() {
		td, err := LoadECSTaskDefinition(arch)
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range CheckECSTaskDefinition(td, arch, svc) {
			t.Errorf("%s: %v", ECSTaskDefinitionFile(arch), err)
		}
		// Apart from the family and the architecture, the files must be
		// the same, or one platform would run differently.
		var generic map[string]any
		src, _ := files.ReadFile(ECSTaskDefinitionFile(arch))
		if err := json.Unmarshal(src, &generic); err != nil {
			t.Fatal(err)
		}
		delete(generic, "family")
		delete(generic["runtimePlatform"].(map[string]any), "cpuArchitecture")
		if first == nil {
			first = generic
		} else if a, b := mustJSON(t, first), mustJSON(t, generic); a != b {
			t.Errorf("%s differs from %s in more than family and cpuArchitecture", ECSTaskDefinitionFile(arch), ECSTaskDefinitionFile(svc.Arches()[0]))
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestECSLoadBalancingFollowsTheService(t *testing.T) {
	for _, err := range CheckECSLoadBalancing(loadService(t)) {
		t.Error(err)
	}
}

func TestKustomizationsBuildStrictlyAndFollowTheService(t *testing.T) {
	svc := loadService(t)
	var found []string
	fs.WalkDir(files, "k8s", func(p string, d fs.DirEntry, err error) error {
		if d.Name() == "kustomization.yaml" {
			found = append(found, path.Dir(p))
		}
		return err
	})
	if !slices.Equal(slices.Sorted(slices.Values(found)), slices.Sorted(slices.Values(Kustomizations))) {
		t.Errorf("kustomizations on disk %v, tested %v", found, Kustomizations)
	}
	for _, k := range Kustomizations {
		objs, err := BuildKustomization(k)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, err := range CheckKubernetes(objs, svc) {
			t.Errorf("%s: %v", k, err)
		}
		arches, _ := DeploymentArches(objs.Deployment)
		want := svc.Arches()
		if overlay, ok := strings.CutPrefix(k, "k8s/overlays/"); ok {
			want = []string{overlay}
		}
		if !slices.Equal(slices.Sorted(slices.Values(arches)), slices.Sorted(slices.Values(want))) {
			t.Errorf("%s schedules on %v, want %v", k, arches, want)
		}
	}
}

func TestKubernetesFilesDecodeStrictly(t *testing.T) {
	paths, err := fs.Glob(files, "k8s/base/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if path.Base(p) == "kustomization.yaml" {
			continue
		}
		src, _ := files.ReadFile(p)
		if _, err := DecodeStrict(src); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// Each broken copy of a shipped file is refused, for the one reason it was
// broken, with a message naming the field.
func TestBrokenFixturesAreRefused(t *testing.T) {
	svc := loadService(t)
	for _, tc := range []struct {
		file string
		want []string // one substring per expected problem
	}{
		// Go's encoding/json would take this spelling (it ignores case); ECS does not.
		{"ecs-unknown-key.json", []string{`Unknown parameter in containerDefinitions[0]: "readOnlyRootFilesystem"`}},
		{"ecs-wrong-enum.json", []string{"runtimePlatform.cpuArchitecture: 'arm64' is not one of X86_64, ARM64", `runtimePlatform.cpuArchitecture: "arm64", want "ARM64"`}},
		{"ecs-health-check-interval.json", []string{"containerDefinitions[0].healthCheck.interval: 1 is outside ECS's range 5-300"}},
		{"ecs-env-value.json", []string{`containerDefinitions[0].environment[1].value: the service refuses it: invalid SHUTDOWN_TIMEOUT="20"`}},
		{"ecs-stop-timeout.json", []string{"containerDefinitions[0].stopTimeout: 20 s, want above SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT (22s)"}},
		{"k8s-probe-path.yaml", []string{`containers[0].readinessProbe.httpGet.path: "/healthz" is not a route the service answers`}},
		{"k8s-unknown-field.yaml", []string{`unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"`}},
		{"k8s-grace-period.yaml", []string{"terminationGracePeriodSeconds: want above preStop + SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT (27s)"}},
		{"k8s-env-name.yaml", []string{"containers[0].env[0].name: SHUTDOWN_DELAY_SECONDS is not a setting `server help` lists"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p := filepath.Join("testdata", tc.file)
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var problems []string
			if strings.HasSuffix(p, ".json") {
				problems = validateAWS(t, "ecs.RegisterTaskDefinition", p)
				td, err := ParseECSTaskDefinition(src)
				if err != nil {
					t.Fatal(err)
				}
				for _, err := range CheckECSTaskDefinition(td, "arm64", svc) {
					problems = append(problems, err.Error())
				}
			} else if obj, err := DecodeStrict(src); err != nil {
				problems = append(problems, err.Error())
			} else {
				for _, err := range CheckDeployment(obj.(*appsv1.Deployment), svc) {
					problems = append(problems, err.Error())
				}
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, w) }) {
					t.Errorf("no problem reported contains %q", w)
				}
			}
			if len(problems) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%s", len(problems), len(tc.want), strings.Join(problems, "\n"))
			}
		})
	}
}

// The runner's view of each platform (ECSContainer, KubernetesContainer)
// carries what the files say.
func TestContainersForRunners(t *testing.T) {
	svc := loadService(t)
	var cs []Container
	for _, arch := range svc.Arches() {
		c, err := ECSContainer(arch)
		if err != nil {
			t.Fatal(err)
		}
		if c.HealthCheck == nil || !slices.Equal(c.HealthCheck.Command, append(slices.Clone(svc.Entrypoint), "healthcheck")) {
			t.Errorf("%s: health check %+v, want the entrypoint's healthcheck subcommand", c.Source, c.HealthCheck)
		}
		if c.StopTimeout <= 0 {
			t.Errorf("%s: no stop timeout", c.Source)
		}
		cs = append(cs, c)
	}
	for _, k := range Kustomizations {
		c, err := KubernetesContainer(k)
		if err != nil {
			t.Fatal(err)
		}
		for name, p := range map[string]*HTTPProbe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			if p == nil || p.Port != svc.Defaults.Port || p.Period <= 0 || p.Timeout <= 0 || p.FailureThreshold <= 0 {
				t.Errorf("%s: %s probe %+v", k, name, p)
			}
		}
		if c.PreStopSleep <= 0 || c.TerminationGracePeriod <= c.PreStopSleep || !c.NoNewPrivileges || c.MemoryLimit <= 0 {
			t.Errorf("%s: %+v", k, c)
		}
		cs = append(cs, c)
	}
	for _, c := range cs {
		args := strings.Join(c.DockerRunArgs(), " ")
		for _, want := range []string{"--user " + svc.User, "--read-only", "--cap-drop ALL", "--env SHUTDOWN_TIMEOUT=", "--stop-timeout "} {
			if !strings.Contains(args, want) {
				t.Errorf("%s: docker run %s lacks %q", c.Source, args, want)
			}
		}
		if c.Image == "" || c.Port != svc.Defaults.Port {
			t.Errorf("%s: image %q port %d", c.Source, c.Image, c.Port)
		}
	}
}
