package deploy

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// repoRoot is the repository's top folder: deploy/'s parent, unless
// FIBER_REPO_ROOT says otherwise (scripts/mutate runs these tests in a copy
// of deploy/ outside the repository).
var repoRoot = cmp.Or(os.Getenv("FIBER_REPO_ROOT"), "..")

func loadService(t *testing.T) Service {
	t.Helper()
	svc, err := LoadService(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func readPage(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func shippedTemplate(t *testing.T) Template {
	t.Helper()
	tpl, err := ShippedTemplate()
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// exampleParameters are the documented --parameter-overrides: what a user
// who pastes the README or docs/deploy.md deploys, and so what the stack is
// checked with.
func exampleParameters(t *testing.T) map[string]string {
	t.Helper()
	params, err := DocumentedStackParameters(repoRoot)
	if err != nil {
		t.Fatalf("the documented aws cloudformation deploy: %v", err)
	}
	return params
}

// A certificate ARN for the stack's HTTPS branch.
const exampleCertificate = "arn:aws:acm:eu-west-1:123456789012:certificate/0123abcd-0123-0123-0123-0123456789ab"

// stackVariants: the documented parameters for each published architecture,
// with and without a certificate (the template's two branches).
func stackVariants(t *testing.T, svc Service) map[string]map[string]string {
	variants := map[string]map[string]string{}
	for _, arch := range svc.Arches() {
		for _, cert := range []string{"", exampleCertificate} {
			p := maps.Clone(exampleParameters(t))
			p["Architecture"], p["CertificateArn"] = ecsArchitectures[arch], cert
			variants[fmt.Sprintf("%s certificate=%t", p["Architecture"], cert != "")] = p
		}
	}
	return variants
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

// parseProblem reads a problem line that ends in its rule: "FIELD: MSG [RULE]".
func parseProblem(line string) Problem {
	var p Problem
	if i := strings.LastIndex(line, " ["); i >= 0 && strings.HasSuffix(line, "]") {
		p.Rule, line = line[i+2:len(line)-1], line[:i]
	}
	p.Field, p.Msg, _ = strings.Cut(line, ": ")
	return p
}

// validateAWS runs validate_aws_request.py on the stack's resources.
func validateAWS(t *testing.T, s Stack) []Problem {
	t.Helper()
	py, err := python()
	if err != nil {
		t.Fatal(err)
	}
	resources, err := json.Marshal(s.Resources)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "resources.json")
	if err := os.WriteFile(file, resources, 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("validate_aws_request.py")
	if err != nil {
		t.Fatal(err)
	}
	r := runTool(t, exec.Command(py, "validate_aws_request.py", file), nil, resources, script)
	lines := strings.FieldsFunc(string(r.Stdout), func(r rune) bool { return r == '\n' })
	if !(r.Code == 0 && len(lines) == 0) && !(r.Code == 1 && len(lines) > 0) {
		t.Fatalf("validate_aws_request.py: exit %d (stdout %q, stderr %q)", r.Code, r.Stdout, r.Stderr)
	}
	var ps []Problem
	for _, l := range lines {
		ps = append(ps, parseProblem(l))
	}
	return ps
}

// cfnLint runs AWS's CloudFormation linter on a template, with parameter
// values when params is not nil; its findings are Problems of rule.
func cfnLint(t *testing.T, rule string, template []byte, params map[string]string) []Problem {
	t.Helper()
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatalf("cfn-lint (AWS's CloudFormation linter) is not installed: pip install cfn-lint (tested with 1.51); scripts/test installs it where PyPI can be reached")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(file, template, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--format", "parseable"}
	var paramFile []byte
	if params != nil {
		// The CloudFormation CLI's parameter file; list parameters as
		// lists, as CloudFormation splits them.
		tpl, err := ParseTemplate(template)
		if err != nil {
			t.Fatal(err)
		}
		var list []map[string]any
		for _, k := range slices.Sorted(maps.Keys(params)) {
			var v any = params[k]
			if decl, ok := tpl.Parameters[k]; ok && (strings.HasPrefix(decl.Type, "List<") || decl.Type == "CommaDelimitedList") {
				v = strings.Split(params[k], ",")
			}
			list = append(list, map[string]any{"ParameterKey": k, "ParameterValue": v})
		}
		paramFile, _ = json.Marshal(list)
		if err := os.WriteFile(filepath.Join(dir, "parameters.json"), paramFile, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--parameter-files", filepath.Join(dir, "parameters.json"))
	}
	r := runTool(t, exec.Command(bin, append(args, "--", file)...), nil, template, paramFile)
	out := r.Stdout
	// The exit code is a bit mask: 2 errors, 4 warnings, 8 informational.
	if r.Code != 0 && (r.Code&^(2|4|8) != 0 || len(out) == 0) {
		t.Fatalf("cfn-lint: exit %d\n%s%s", r.Code, out, r.Stderr)
	}
	// FILE:LINE:COL:ENDLINE:ENDCOL:RULE:MESSAGE
	var ps []Problem
	for line := range strings.Lines(string(bytes.TrimSpace(out))) {
		f := strings.SplitN(strings.TrimSpace(line), ":", 7)
		if len(f) != 7 {
			t.Fatalf("cfn-lint: unexpected line %q", line)
		}
		ps = append(ps, Problem{rule, fmt.Sprintf("%s line %s", path.Base(f[0]), f[1]), f[5] + " " + f[6]})
	}
	return ps
}

// kubeScore is kube-score at a pinned version, built once from the Go module
// proxy into $FIBER_CACHE_DIR/bin.
const kubeScoreVersion = "v1.20.0"

var kubeScoreBin = sync.OnceValues(func() (string, error) {
	cache := os.Getenv("FIBER_CACHE_DIR")
	if cache == "" {
		cache = "/var/cache/fiber-service"
	}
	dir := filepath.Join(cache, "bin", "kube-score-"+kubeScoreVersion)
	bin := filepath.Join(dir, "kube-score")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.Command("go", "install", "github.com/zegl/kube-score/cmd/kube-score@"+kubeScoreVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install kube-score %s: %v\n%s", kubeScoreVersion, err, out)
	}
	return bin, nil
})

// kubeScoreAccepted are the kube-score findings the manifests keep, each
// with the reason. A finding not listed fails the test, and so does a
// listed one that no longer appears.
var kubeScoreAccepted = map[string]string{
	"container-resources: CPU limit is not set": "a CPU limit makes the kernel throttle the whole process, the Go runtime's " +
		"collector and scheduler threads included, in 100 ms periods: latency for nothing on a shared node. The request " +
		"reserves the CPU and the autoscaler scales on it",
	"container-image-pull-policy: ImagePullPolicy is not set to Always": "the image is a release tag that is never moved " +
		"(IfNotPresent, the default for a tag other than latest, then pulls what Always would), and a pod can restart " +
		"while the registry is unreachable; pin a digest where a tag might move",
	"deployment-has-host-podantiaffinity: Deployment does not have a host podAntiAffinity set": "the pods are spread across " +
		"nodes by a topologySpreadConstraint on kubernetes.io/hostname (maxSkew 1), which kube-score's check does not read; " +
		"a required anti-affinity would also leave pods Pending when there are more replicas than nodes",
}

// kubeScore scores rendered manifests and returns its findings (grade
// below "all OK", not skipped) as "check-id: summary".
func kubeScore(t *testing.T, manifests []byte) []string {
	t.Helper()
	bin, err := kubeScoreBin()
	if err != nil {
		t.Fatal(err)
	}
	r := runTool(t, exec.Command(bin, "score", "--output-format", "json", "--kubernetes-version", "v1.30", "-"), manifests)
	out := r.Stdout
	if r.Code != 0 && r.Code != 1 {
		t.Fatalf("kube-score: exit %d\n%s%s", r.Code, out, r.Stderr)
	}
	var objects []struct {
		ObjectName string `json:"object_name"`
		Checks     []struct {
			Check    struct{ ID string }
			Grade    int
			Skipped  bool
			Comments []struct{ Summary string }
		}
	}
	if err := json.Unmarshal(out, &objects); err != nil {
		t.Fatalf("kube-score output: %v\n%s", err, out)
	}
	var findings []string
	for _, o := range objects {
		for _, c := range o.Checks {
			if c.Skipped || c.Grade >= 10 {
				continue
			}
			for _, cm := range c.Comments {
				findings = append(findings, c.Check.ID+": "+cm.Summary)
			}
		}
	}
	return findings
}

func TestECSStackLintsClean(t *testing.T) {
	t.Parallel()
	src, err := files.ReadFile(ECSStackFile)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("cfn-lint", "--version").Output()
	t.Logf("%s", bytes.TrimSpace(out))
	for _, p := range cfnLint(t, "cfn-lint", src, nil) {
		t.Error(p)
	}
	// The documented values: they pass the parameters' patterns, and every
	// parameter without a Default has one.
	for _, p := range cfnLint(t, "cfn-lint.parameters", src, exampleParameters(t)) {
		t.Error(p)
	}
}

func TestECSStackPassesTheAWSModels(t *testing.T) {
	t.Parallel()
	for name, params := range stackVariants(t, loadService(t)) {
		s, err := LoadECSStack(params)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range validateAWS(t, s) {
			t.Errorf("%s: %v", name, p)
		}
	}
}

func TestECSStackFollowsTheService(t *testing.T) {
	svc := loadService(t)
	for name, params := range stackVariants(t, svc) {
		s, err := LoadECSStack(params)
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range CheckECSStack(s, svc) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestDocumentedAWSCommands runs every aws command of the README and
// docs/deploy.md with dummy credentials against an address where nothing listens:
// the CLI validates the command and its parameters before it connects, so a
// valid one ends in "Could not connect to the endpoint URL". `aws
// cloudformation deploy` calls AWS before it validates anything: it is
// checked by CheckDeployCommand instead.
func TestDocumentedAWSCommands(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatal("the AWS CLI is not installed: apt-get install awscli (scripts/test does), or AWS's own installer")
	}
	t.Parallel()
	// What each page must hold: the README the push and the deploy, the
	// deploy page the whole sequence from nothing to a URL and back.
	want := map[string][]string{
		"README.md": {"ecr create-repository", "ecr get-login-password", "cloudformation deploy"},
		"docs/deploy.md": {"ecr create-repository", "ecr get-login-password", "cloudformation deploy", "cloudformation describe-stacks",
			"cloudformation delete-stack", "cloudformation wait", "ecr delete-repository"},
	}
	if pages := slices.Sorted(maps.Keys(want)); !slices.Equal(pages, CommandPages) {
		t.Fatalf("pages %v, want CommandPages %v", pages, CommandPages)
	}
	for _, page := range CommandPages {
		t.Run(page, func(t *testing.T) {
			t.Parallel()
			checkAWSCommands(t, AWSCommands(readPage(t, page)), want[page])
		})
	}
}

func checkAWSCommands(t *testing.T, cmds [][]string, want []string) {
	checked := 0
	for _, c := range cmds {
		if len(c) > 2 && c[1] == "cloudformation" && c[2] == "deploy" {
			continue
		}
		checked++
		t.Run(strings.Join(c[1:3], " "), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(c[0], append(c[1:], "--endpoint-url", "http://127.0.0.1:9")...)
			cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_MAX_ATTEMPTS=1",
				"AWS_RETRY_MODE=standard", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
			r := runTool(t, cmd, nil)
			out := append(r.Stdout, r.Stderr...)
			if !strings.Contains(string(out), "Could not connect to the endpoint URL") {
				t.Errorf("%s: the CLI refused it before connecting:\n%s", strings.Join(c, " "), out)
			}
		})
	}
	t.Logf("%d aws commands validated by the CLI, 1 (cloudformation deploy) read", checked)
	var found []string
	for _, c := range cmds {
		found = append(found, strings.Join(c[1:3], " "))
	}
	if !slices.Equal(found, want) {
		t.Errorf("aws commands: %v, want %v", found, want)
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

func TestKubeScore(t *testing.T) {
	t.Parallel()
	for _, k := range Kustomizations {
		objs, err := BuildKustomization(k)
		if err != nil {
			t.Fatal(err)
		}
		findings := kubeScore(t, objs.YAML)
		for _, f := range findings {
			if reason, ok := kubeScoreAccepted[f]; ok {
				t.Logf("%s: kube-score %q, kept: %s", k, f, reason)
			} else {
				t.Errorf("%s: kube-score: %s", k, f)
			}
		}
		for f := range kubeScoreAccepted {
			if !slices.Contains(findings, f) {
				t.Errorf("%s: kube-score no longer reports %q: remove it from kubeScoreAccepted", k, f)
			}
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

// The runner's view of each platform (ECSContainer, KubernetesContainer)
// carries what the files say.
func TestContainersForRunners(t *testing.T) {
	svc := loadService(t)
	var cs []Container
	for _, arch := range svc.Arches() {
		c, err := ECSContainer(arch, exampleParameters(t))
		if err != nil {
			t.Fatal(err)
		}
		if c.HealthCheck == nil || !slices.Equal(c.HealthCheck.Command, append(slices.Clone(svc.Entrypoint), "healthcheck")) {
			t.Errorf("%s: health check %+v, want the entrypoint's healthcheck subcommand", c.Source, c.HealthCheck)
		}
		if c.StopTimeout <= 0 || c.MemoryLimit <= 0 || !slices.Contains(c.Env, EnvVar{"TRUSTED_PROXIES", exampleParameters(t)["VpcCidr"]}) {
			t.Errorf("%s: %+v", c.Source, c)
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
	for i, c := range cs {
		args := strings.Join(c.DockerRunArgs(), " ")
		// ECS: StopTimeout, the task's memory, nofile; Kubernetes: the grace
		// period less the preStop sleep, the limit, the runtime's nofile.
		want := []string{"--user " + svc.User, "--read-only", "--cap-drop ALL", "--env SHUTDOWN_TIMEOUT=20s"}
		if i < len(svc.Arches()) {
			want = append(want, "--stop-timeout 30", "--memory 536870912 --memory-swap 536870912", "--ulimit nofile=16384:16384")
		} else {
			want = append(want, "--stop-timeout 25", "--memory 67108864 --memory-swap 67108864", "--security-opt no-new-privileges")
			if strings.Contains(args, "--ulimit") {
				t.Errorf("%s: docker run %s sets a ulimit the Deployment does not", c.Source, args)
			}
		}
		for _, want := range want {
			if !strings.Contains(args, want) {
				t.Errorf("%s: docker run %s lacks %q", c.Source, args, want)
			}
		}
		if c.Image == "" || c.Port != svc.Defaults.Port {
			t.Errorf("%s: image %q port %d", c.Source, c.Image, c.Port)
		}
	}
}

func TestRSSAt(t *testing.T) {
	svc := Service{ConnRSS: []ConnRSS{{true, 3000, 30}, {false, 1000, 40}, {true, 0, 10}, {true, 1000, 20}, {false, 0, 10}}}
	for _, tc := range []struct {
		conns  int
		reduce bool
		want   float64
		how    string
	}{
		{0, true, 10, "measured at 0"}, {1000, true, 20, "measured at 1000"}, {3000, true, 30, "measured at 3000"},
		{500, true, 15, "through 0 and 1000"}, {2000, true, 25, "through 1000 and 3000"},
		{5000, true, 40, "through 1000 and 3000"}, {2000, false, 70, "through 0 and 1000"},
	} {
		got, how, err := svc.RSSAt(tc.conns, tc.reduce)
		if err != nil || got != tc.want || !strings.Contains(how, tc.how) {
			t.Errorf("RSSAt(%d, %t) = %v %q %v, want %v (%s)", tc.conns, tc.reduce, got, how, err, tc.want, tc.how)
		}
	}
	if _, _, err := (Service{ConnRSS: []ConnRSS{{true, 0, 10}}}).RSSAt(100, true); err == nil {
		t.Error("RSSAt from one measurement: no error")
	}
}

func TestAWSCommands(t *testing.T) {
	page := "# x\n\n```sh\naws s3 mb\n```\n\n## Deploy\n\n```sh\n" +
		"aws ecr create-repository --region eu-west-1 --repository-name 'a b' # a comment\n" +
		"aws ecr get-login-password --region eu-west-1 |\n  docker login --password-stdin x\n" +
		"URL=$(aws cloudformation describe-stacks \\\n  --query \"Stacks[0].Outputs[?OutputKey=='URL']\" --output text)\n" +
		"xaws s3 ls; echo aws configure\n" +
		"```\n\nNot a block: aws s3 ls\n\n```sh\naws sts get-caller-identity;aws iam list-roles\n```\n\n" +
		"## Next\n\n```sh\naws s3 rb\n```\n\n```\naws s3 cp\n```\n"
	want := [][]string{
		{"aws", "s3", "mb"},
		{"aws", "ecr", "create-repository", "--region", "eu-west-1", "--repository-name", "a b"},
		{"aws", "ecr", "get-login-password", "--region", "eu-west-1"},
		{"aws", "cloudformation", "describe-stacks", "--query", "Stacks[0].Outputs[?OutputKey=='URL']", "--output", "text"},
		{"aws", "configure"},
		{"aws", "sts", "get-caller-identity"},
		{"aws", "iam", "list-roles"},
		{"aws", "s3", "rb"},
	}
	got := AWSCommands(page)
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("AWSCommands:\n got %q\nwant %q", got, want)
	}
	if words, rest := shellWords(`a "b c"d) e`); !slices.Equal(words, []string{"a", "b cd"}) || rest != " e" {
		t.Errorf("shellWords: %q, rest %q", words, rest)
	}
	// A page whose deploy command is two words long is refused, not a panic.
	_, errs := CheckDeployCommand("x.md", "## Deploy\n```sh\naws cloudformation\n```\n", shippedTemplate(t))
	if len(errs) != 1 {
		t.Errorf("CheckDeployCommand of a page without the deploy command: %v", errs)
	}
}

// The README and docs/deploy.md must deploy the same stack: a copy whose
// README deploys another architecture is refused, naming the page.
func TestDocumentedStackParametersAgree(t *testing.T) {
	root := t.TempDir()
	for _, page := range CommandPages {
		src := readPage(t, page)
		if page == CommandPages[1] {
			src = strings.Replace(src, "Architecture=ARM64 MetricsCidr", "Architecture=X86_64 MetricsCidr", 1)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, page)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, page), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := DocumentedStackParameters(root)
	if err == nil || !strings.Contains(err.Error(), CommandPages[1]+" aws cloudformation deploy --parameter-overrides") || !strings.Contains(err.Error(), "X86_64") {
		t.Errorf("pages deploying different architectures: %v, want a refusal naming %s and X86_64", err, CommandPages[1])
	}
}

// What a platform does with a setting left out is what the runners get.
func TestContainerDefaults(t *testing.T) {
	obj, err := DecodeStrict([]byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: server
          image: x
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /readyz, port: http}}
          livenessProbe: {httpGet: {path: /livez, port: 8080}, periodSeconds: 3, timeoutSeconds: 2, successThreshold: 1, failureThreshold: 5}
`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := deploymentContainer("x", obj.(*appsv1.Deployment))
	if err != nil {
		t.Fatal(err)
	}
	if c.TerminationGracePeriod != 30*time.Second || c.StartupProbe != nil || c.User != "" || c.NoNewPrivileges || c.MemoryLimit != 0 {
		t.Errorf("Kubernetes defaults: %+v", c)
	}
	if args := strings.Join(c.DockerRunArgs(), " "); args != "--user  --stop-timeout 30" {
		t.Errorf("docker run for a container that sets nothing: %q", args)
	}
	if p := c.ReadinessProbe; *p != (HTTPProbe{"/readyz", 8080, 0, 10 * time.Second, time.Second, 1, 3}) {
		t.Errorf("readiness probe with Kubernetes' defaults: %+v", p)
	}
	if p := c.LivenessProbe; *p != (HTTPProbe{"/livez", 8080, 0, 3 * time.Second, 2 * time.Second, 1, 5}) {
		t.Errorf("liveness probe as set: %+v", p)
	}
	d := obj.(*appsv1.Deployment)
	grace := int64(45)
	d.Spec.Template.Spec.TerminationGracePeriodSeconds = &grace
	if c, _ := deploymentContainer("x", d); c.TerminationGracePeriod != 45*time.Second {
		t.Errorf("terminationGracePeriodSeconds 45: %s", c.TerminationGracePeriod)
	}

	src, err := files.ReadFile(ECSStackFile)
	if err != nil {
		t.Fatal(err)
	}
	for old, new := range map[string]string{"          StopTimeout: 30\n": "", "            Interval: 10\n": "", "            Timeout: 5\n": "",
		"            Retries: 3\n": "", "            StartPeriod: 5\n": ""} {
		src = []byte(strings.Replace(string(src), old, new, 1))
	}
	s, err := ECSStackOf(src, exampleParameters(t))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := taskContainer(s); err != nil || c.StopTimeout != 30*time.Second ||
		!reflect.DeepEqual(*c.HealthCheck, HealthCheck{[]string{"/usr/local/bin/server", "healthcheck"}, 30 * time.Second, 5 * time.Second, 0, 3}) {
		t.Errorf("ECS defaults: %+v %+v %v", c, c.HealthCheck, err)
	}
}

func TestMeasuredRSS(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ json, want string }{
		{`{"service":{"data":{"memory":[{"server":"b","peak_rss_mib":9},{"server":"a","peak_rss_mib":16.9}]}}}`, "16.9"},
		{`{"service":{"data":{"memory":[{"server":"a","peak_rss_mib":0},{"server":"b","peak_rss_mib":9}]}}}`, "no peak RSS for the service as shipped"},
		{`{"service":{"data":{"memory":[]}}}`, "no peak RSS for the service as shipped"},
		{`{`, "unexpected end of JSON input"},
	} {
		file := filepath.Join(dir, "bench-results.json")
		os.WriteFile(file, []byte(tc.json), 0o644)
		got, err := measuredPeakRSS(file)
		if fmt.Sprint(got) != tc.want && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("measuredPeakRSS(%s) = %v %v, want %s", tc.json, got, err, tc.want)
		}
	}
	file := filepath.Join(dir, "conns.json")
	os.WriteFile(file, []byte(`{"connections":{"data":{"rss":[]}}}`), 0o644)
	if _, err := measuredConnRSS(file); err == nil || !strings.Contains(err.Error(), "no connections.data.rss") {
		t.Errorf("measuredConnRSS without measurements: %v", err)
	}
}
