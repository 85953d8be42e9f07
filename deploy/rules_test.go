package deploy

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// brokenCase breaks one rule in a copy of a shipped file, edited in memory.
type brokenCase struct {
	rule     string            // the rule it breaks
	file     string            // relative to deploy/; a page of CommandPages, to the repository
	old, new string            // the edit: old occurs once in the file (none with old "")
	params   map[string]string // ECS: parameter values over the documented ones
	field    string            // what the refusal must name (in its field or message)
	also     []string          // other rules the same edit breaks
}

const (
	stack      = ECSStackFile
	deployment = "k8s/base/deployment.yaml"
	policy     = "k8s/base/networkpolicy.yaml"
)

// Every rule once: a task security group open to 0.0.0.0/0 on 8080 (the
// issue's list: ecs.task-ingress), a target group on no listener
// (ecs.target-group-listener), a memory limit below the RSS at MAX_CONNS
// (k8s.memory-limit), readiness failureThreshold 1, a pod without the os
// selector, an unknown CloudFormation property (cfn-lint), an Architecture
// other than ARM64/X86_64 (cfn-lint.parameters), ...
var brokenCases = []brokenCase{
	// The stack, against the service and itself.
	{rule: "ecs.stack-size", file: stack, old: "\nOutputs:\n", new: "\n#" + strings.Repeat("x", stackMaxBytes) + "\nOutputs:\n", field: "ecs/stack.yaml"},
	{rule: "ecs.one-each", file: stack, old: "  LogGroup:\n    Type: AWS::Logs::LogGroup\n", new: "  OtherLogGroup:\n    Type: AWS::Logs::LogGroup\n  LogGroup:\n    Type: AWS::Logs::LogGroup\n", field: "AWS::Logs::LogGroup"},
	{rule: "ecs.generated-names", file: stack, old: "    Type: AWS::ECS::Cluster\n", new: "    Type: AWS::ECS::Cluster\n    Properties:\n      ClusterName: fiber\n", field: "Resources.Cluster.Properties.ClusterName"},
	{rule: "ecs.architecture-values", file: stack, old: "AllowedValues: [ARM64, X86_64]", new: "AllowedValues: [ARM64, X86_64, arm64]", field: "Parameters.Architecture.AllowedValues"},
	{rule: "ecs.cpu-architecture", file: stack, old: "CpuArchitecture: !Ref Architecture", new: "CpuArchitecture: X86_64", field: "RuntimePlatform.CpuArchitecture"},
	{rule: "ecs.os-family", file: stack, old: "OperatingSystemFamily: LINUX", new: "OperatingSystemFamily: WINDOWS_SERVER_2022_CORE", field: "RuntimePlatform.OperatingSystemFamily"},
	{rule: "ecs.fargate", file: stack, old: "RequiresCompatibilities: [FARGATE]", new: "RequiresCompatibilities: [FARGATE, EC2]", field: "RequiresCompatibilities"},
	{rule: "ecs.execution-role", file: stack, old: "ExecutionRoleArn: !GetAtt TaskExecutionRole.Arn", new: "ExecutionRoleArn: arn:aws:iam::123456789012:role/ecsTaskExecutionRole", field: "ExecutionRoleArn"},
	{rule: "ecs.one-container", file: stack, old: "      ContainerDefinitions:\n", new: "      ContainerDefinitions:\n        - Name: sidecar\n          Image: busybox\n", field: "ContainerDefinitions"},
	{rule: "env.name", file: stack, old: "- Name: LOG_FORMAT\n", new: "- Name: LOG_FMT\n", field: "Environment[5].name: LOG_FMT is not a setting"},
	{rule: "env.value", file: stack, old: "Value: 20s", new: `Value: "20"`, field: `Environment[1].value: the service refuses it: invalid SHUTDOWN_TIMEOUT="20"`},
	{rule: "ecs.entrypoint", file: stack, old: "          Essential: true\n", new: "          Essential: true\n          EntryPoint: [/usr/local/bin/server]\n", field: "ContainerDefinitions[0]"},
	{rule: "ecs.port-http", file: stack, old: "ContainerPort: 8080\n              Protocol", new: "ContainerPort: 8081\n              Protocol", field: "PortMappings"},
	{rule: "ecs.metrics-port", file: stack, old: "ContainerPort: 9090\n", new: "ContainerPort: 9091\n", field: "PortMappings"},
	{rule: "ecs.metrics-off", file: stack, old: "            - Name: METRICS_ADDR\n              Value: \":9090\"\n", new: "", field: "PortMappings", also: []string{"ecs.task-ingress"}},
	{rule: "ecs.user", file: stack, old: `User: "65532:65532"`, new: `User: "0:0"`, field: "ContainerDefinitions[0].User"},
	{rule: "ecs.read-only-root", file: stack, old: "ReadonlyRootFilesystem: true", new: "ReadonlyRootFilesystem: false", field: "ReadonlyRootFilesystem"},
	{rule: "ecs.capabilities", file: stack, old: "Drop: [ALL]", new: "Drop: [NET_RAW]", field: "LinuxParameters.Capabilities"},
	{rule: "ecs.health-check-command", file: stack, old: "Command: [CMD, /usr/local/bin/server, healthcheck]", new: "Command: [CMD-SHELL, wget -q localhost:8080/livez]", field: "HealthCheck.Command"},
	{rule: "ecs.stop-timeout", file: stack, old: "StopTimeout: 30", new: "StopTimeout: 20", field: "StopTimeout"},
	{rule: "ecs.nofile", file: stack, old: "SoftLimit: 16384", new: "SoftLimit: 4096", field: "Ulimits"},
	{rule: "ecs.log-driver", file: stack, old: "awslogs-group: !Ref LogGroup", new: "awslogs-group: /ecs/fiber-service", field: "LogConfiguration"},
	{rule: "ecs.log-retention", file: stack, old: "      RetentionInDays: 30\n", new: "", field: "RetentionInDays"},
	{rule: "ecs.memory", file: stack, old: `Memory: "512"`, new: `Memory: "48"`, field: "Properties.Memory"},
	{rule: "ecs.trusted-proxies", file: stack, old: "Value: !Ref VpcCidr", new: "Value: 0.0.0.0/0", field: "TRUSTED_PROXIES"},
	{rule: "ecs.service-task-definition", file: stack, old: "TaskDefinition: !Ref TaskDefinition", new: "TaskDefinition: fiber-service-arm64", field: "Resources.Service.Properties.TaskDefinition"},
	{rule: "ecs.service-load-balancer", file: stack, old: "        - ContainerName: server\n", new: "        - ContainerName: app\n", field: "Resources.Service.Properties.LoadBalancers"},
	{rule: "ecs.target-group", file: stack, old: "TargetType: ip", new: "TargetType: instance", field: "TargetType"},
	{rule: "ecs.health-check-path", file: stack, old: "HealthCheckPath: /health", new: "HealthCheckPath: /healthz", field: "HealthCheckPath"},
	{rule: "ecs.health-check-timeout", file: stack, old: "HealthCheckTimeoutSeconds: 5", new: "HealthCheckTimeoutSeconds: 10", field: "HealthCheckTimeoutSeconds"},
	{rule: "ecs.deregistration-delay", file: stack, old: `Value: "35"`, new: `Value: "10"`, field: "deregistration_delay.timeout_seconds"},
	{rule: "ecs.idle-timeout", file: stack, old: `Value: "60"`, new: `Value: "90"`, field: "idle_timeout.timeout_seconds"},
	{rule: "ecs.target-group-listener", file: stack, old: "          - Type: forward\n            TargetGroupArn: !Ref TargetGroup\n\n",
		new: "          - Type: fixed-response\n            FixedResponseConfig:\n              StatusCode: \"503\"\n\n", field: "Resources.TargetGroup", also: []string{"ecs.https"}},
	{rule: "ecs.https", file: stack, old: `Port: "443"`, new: `Port: "8443"`, params: map[string]string{"CertificateArn": exampleCertificate}, field: "Listener"},
	{rule: "ecs.service-depends-on-listener", file: stack, old: "    DependsOn: ListenerReady\n", new: "", field: "Resources.Service.DependsOn"},
	{rule: "ecs.task-ingress", file: stack, old: "          SourceSecurityGroupId: !GetAtt LoadBalancerSecurityGroup.GroupId\n", new: "          CidrIp: 0.0.0.0/0\n",
		field: "TaskSecurityGroup SecurityGroupIngress: tcp 8080-8080 from 0.0.0.0/0", also: []string{"ecs.task-ingress-from-alb"}},
	{rule: "ecs.task-ingress-from-alb", file: stack, old: "        - Description: the service port, from the ALB only\n          IpProtocol: tcp\n          FromPort: 8080\n          ToPort: 8080\n          SourceSecurityGroupId: !GetAtt LoadBalancerSecurityGroup.GroupId\n", new: "", field: "AwsvpcConfiguration.SecurityGroups"},
	{rule: "ecs.alb-ingress", file: stack, old: "FromPort: 80\n          ToPort: 80\n", new: "FromPort: 80\n          ToPort: 8080\n", field: "LoadBalancerSecurityGroup SecurityGroupIngress"},
	{rule: "ecs.grace-period", file: stack, old: "HealthCheckGracePeriodSeconds: 30", new: "HealthCheckGracePeriodSeconds: 10", field: "HealthCheckGracePeriodSeconds"},
	{rule: "ecs.circuit-breaker", file: stack, old: "Rollback: true", new: "Rollback: false", field: "DeploymentCircuitBreaker"},
	{rule: "ecs.output-url", file: stack, old: "!Sub http://${LoadBalancer.DNSName}", new: "!Sub http://${LoadBalancer.CanonicalHostedZoneID}", field: "Outputs.URL"},

	// The documented deploy commands (README.md and docs/deploy.md).
	{rule: "ecs.deploy-command", file: "docs/deploy.md", old: "--capabilities CAPABILITY_IAM", new: "--capabilities CAPABILITY_NAMED_IAM", field: "--capabilities"},
	{rule: "ecs.parameter-overrides", file: "README.md", old: "MetricsCidr=10.0.0.0/16", new: "MetricCidr=10.0.0.0/16", field: "--parameter-overrides MetricCidr"},

	// cfn-lint: the template, and the README's parameter values.
	{rule: "cfn-lint", file: stack, old: "ReadonlyRootFilesystem: true", new: "ReadOnlyRootFilesystem: true", field: "'ReadOnlyRootFilesystem' was unexpected"},
	{rule: "cfn-lint.parameters", file: stack, params: map[string]string{"Architecture": "arm64"}, field: "'arm64' is not one of ['ARM64', 'X86_64']"},

	// botocore's models and ECS's documented limits (validate_aws_request.py).
	{rule: "aws.cfn-property", file: stack, old: "      NetworkMode: awsvpc\n", new: "      NetworkMode: awsvpc\n      Bogus: 1\n", field: "Bogus"},
	{rule: "aws.model", file: stack, old: "DesiredCount: !Ref DesiredCount", new: "DesiredCount: two", field: "desiredCount"},
	{rule: "aws.enum", file: stack, old: "LaunchType: FARGATE", new: "LaunchType: SPOT", field: "launchType"},
	{rule: "aws.pattern", file: stack, old: "              Protocol: HTTPS\n", new: "              Protocol: https\n", params: map[string]string{"CertificateArn": exampleCertificate}, field: "RedirectConfig.Protocol"},
	{rule: "aws.health-check-range", file: stack, old: "Interval: 10", new: "Interval: 1", field: "healthCheck.interval"},
	{rule: "aws.fargate-stop-timeout", file: stack, old: "StopTimeout: 30", new: "StopTimeout: 130", field: "stopTimeout"},
	{rule: "aws.fargate-capabilities", file: stack, old: "Drop: [ALL]\n", new: "Drop: [ALL]\n              Add: [NET_ADMIN]\n", field: "capabilities.add"},
	{rule: "aws.fargate-network-mode", file: stack, old: "NetworkMode: awsvpc", new: "NetworkMode: bridge", field: "networkMode"},
	{rule: "aws.fargate-size", file: stack, old: `Memory: "512"`, new: `Memory: "768"`, field: "memory"},
	{rule: "aws.attribute-key", file: stack, old: "Key: routing.http.drop_invalid_header_fields.enabled", new: "Key: routing.http.drop_invalid_headers.enabled", field: "Attributes[1].Key"},

	// Kubernetes, against the service and itself.
	{rule: "k8s.known-fields", file: deployment, old: "readOnlyRootFilesystem: true", new: "readOnlyRootFileSystem: true", field: `unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"`},
	{rule: "k8s.service-selector", file: "k8s/base/service.yaml", old: "app.kubernetes.io/name: fiber-service", new: "app.kubernetes.io/name: fiber", field: "Service spec.selector"},
	{rule: "k8s.service-target-port", file: "k8s/base/service.yaml", old: "targetPort: http", new: "targetPort: web", field: "Service spec.ports[0].targetPort"},
	{rule: "k8s.pdb-selector", file: "k8s/base/poddisruptionbudget.yaml", old: "app.kubernetes.io/name: fiber-service", new: "app.kubernetes.io/name: fiber", field: "PodDisruptionBudget spec.selector"},
	{rule: "k8s.hpa-target", file: "k8s/base/horizontalpodautoscaler.yaml", old: "    kind: Deployment\n    name: fiber-service\n", new: "    kind: Deployment\n    name: fiber\n", field: "scaleTargetRef"},
	{rule: "k8s.replicas-unset", file: deployment, old: "  revisionHistoryLimit: 5\n", new: "  replicas: 2\n  revisionHistoryLimit: 5\n", field: "Deployment spec.replicas"},
	{rule: "k8s.pdb-max-unavailable", file: "k8s/base/poddisruptionbudget.yaml", old: "maxUnavailable: 1", new: "maxUnavailable: 2", field: "PodDisruptionBudget spec.maxUnavailable"},
	{rule: "k8s.arch-affinity", file: deployment, old: "                  - key: kubernetes.io/arch\n                    operator: In\n", new: "                  - key: kubernetes.io/arch\n                    operator: NotIn\n", field: "nodeAffinity"},
	{rule: "k8s.arch-published", file: deployment, old: "values: [amd64, arm64]", new: "values: [amd64, arm64, s390x]", field: "s390x"},
	{rule: "k8s.os-selector", file: deployment, old: "                  - key: kubernetes.io/os\n                    operator: In\n                    values: [linux]\n", new: "", field: "nodeAffinity"},
	{rule: "k8s.one-container", file: deployment, old: "                seconds: 5\n", new: "                seconds: 5\n        - name: sidecar\n          image: busybox\n", field: "containers", also: []string{"k8s.pod-security"}},
	{rule: "k8s.env-value-from", file: deployment, old: "            - name: LOG_FORMAT\n              value: json\n", new: "            - name: LOG_FORMAT\n              valueFrom:\n                configMapKeyRef:\n                  name: fiber\n                  key: format\n", field: "containers[0].env[5]"},
	{rule: "k8s.command", file: deployment, old: "          image: fiber-service\n", new: "          image: fiber-service\n          args: [serve]\n", field: "containers[0]"},
	{rule: "k8s.port-http", file: deployment, old: "containerPort: 8080", new: "containerPort: 8081", field: "containers[0].ports", also: []string{"k8s.probe-port"}},
	{rule: "k8s.metrics-port", file: deployment, old: "containerPort: 9090", new: "containerPort: 9091", field: "containers[0].ports"},
	{rule: "k8s.metrics-off", file: deployment, old: "            - name: METRICS_ADDR\n              value: \":9090\"\n", new: "", field: "containers[0].ports"},
	{rule: "k8s.metrics-annotation", file: deployment, old: `prometheus.io/port: "9090"`, new: `prometheus.io/port: "9091"`, field: "annotations"},
	{rule: "k8s.probe-http", file: deployment, old: "          startupProbe:\n            httpGet:\n              path: /livez\n              port: http\n", new: "          startupProbe:\n            tcpSocket:\n              port: http\n", field: "containers[0].startupProbe"},
	{rule: "k8s.probe-path", file: deployment, old: "path: /readyz", new: "path: /healthz", field: "readinessProbe.httpGet.path"},
	{rule: "k8s.probe-port", file: deployment, old: "          livenessProbe:\n            httpGet:\n              path: /livez\n              port: http\n", new: "          livenessProbe:\n            httpGet:\n              path: /livez\n              port: metrics\n", field: "livenessProbe.httpGet.port"},
	{rule: "k8s.readiness-threshold", file: deployment, old: "            timeoutSeconds: 1\n            failureThreshold: 3\n", new: "            timeoutSeconds: 1\n            failureThreshold: 1\n", field: "readinessProbe.failureThreshold"},
	{rule: "k8s.prestop", file: deployment, old: "            preStop:\n              sleep:\n                seconds: 5\n", new: "            postStart:\n              sleep:\n                seconds: 5\n", field: "lifecycle.preStop"},
	{rule: "k8s.grace-period", file: deployment, old: "terminationGracePeriodSeconds: 30", new: "terminationGracePeriodSeconds: 25", field: "terminationGracePeriodSeconds"},
	{rule: "k8s.security-context", file: deployment, old: "          securityContext:\n            allowPrivilegeEscalation: false\n            readOnlyRootFilesystem: true\n            capabilities:\n              drop: [ALL]\n", new: "", field: "securityContext", also: []string{"k8s.pod-security"}},
	{rule: "k8s.run-as-non-root", file: deployment, old: "runAsNonRoot: true", new: "runAsNonRoot: false", field: "runAsNonRoot", also: []string{"k8s.pod-security"}},
	{rule: "k8s.run-as-user", file: deployment, old: "runAsUser: 65532", new: "runAsUser: 1000", field: "runAsUser"},
	{rule: "k8s.seccomp", file: deployment, old: "type: RuntimeDefault", new: "type: Unconfined", field: "seccompProfile", also: []string{"k8s.pod-security"}},
	{rule: "k8s.read-only-root", file: deployment, old: "readOnlyRootFilesystem: true", new: "readOnlyRootFilesystem: false", field: "readOnlyRootFilesystem"},
	{rule: "k8s.privilege-escalation", file: deployment, old: "allowPrivilegeEscalation: false", new: "allowPrivilegeEscalation: true", field: "allowPrivilegeEscalation", also: []string{"k8s.pod-security"}},
	{rule: "k8s.capabilities", file: deployment, old: "drop: [ALL]", new: "drop: [NET_RAW]", field: "capabilities", also: []string{"k8s.pod-security"}},
	{rule: "k8s.memory-request", file: deployment, old: "memory: 40Mi", new: "memory: 16Mi", field: "resources.requests.memory"},
	{rule: "k8s.memory-limit", file: deployment, old: "memory: 64Mi", new: "memory: 48Mi", field: "resources.limits.memory"},
	{rule: "k8s.cpu-request", file: deployment, old: "              cpu: 100m\n", new: "", field: "resources.requests.cpu"},
	{rule: "k8s.ephemeral-storage", file: deployment, old: "ephemeral-storage: 128Mi", new: "ephemeral-storage: 32Mi", field: "ephemeral-storage"},
	{rule: "k8s.spread", file: deployment, old: "        - topologyKey: kubernetes.io/hostname\n", new: "        - topologyKey: kubernetes.io/os\n", field: "kubernetes.io/hostname"},
	{rule: "k8s.netpol-selects", file: policy, old: "      app.kubernetes.io/name: fiber-service\n", new: "      app.kubernetes.io/name: fiber\n", field: "NetworkPolicy spec.podSelector"},
	{rule: "k8s.netpol-service-port", file: policy, old: "        - ipBlock:\n            cidr: 10.0.0.0/16\n", new: "", field: "NetworkPolicy spec.ingress"},
	{rule: "k8s.netpol-metrics-port", file: policy, old: "        - podSelector:\n            matchLabels:\n              metrics-scraper: \"true\"\n", new: "        - podSelector: {}\n", field: "NetworkPolicy spec.ingress[1].from[0]"},
	{rule: "k8s.pod-security", file: deployment, old: "      automountServiceAccountToken: false\n", new: "      automountServiceAccountToken: false\n      hostNetwork: true\n", field: "host namespaces"},
	{rule: "kube-score", file: "k8s/base/kustomization.yaml", old: "newTag: 1.2.3", new: "newTag: latest", field: "container-image-tag"},
}

// allRules are the Go checks' rules and the ones of the tools they run.
func allRules(t *testing.T) []string {
	py, err := python()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "validate_aws_request.py", "--rules").Output()
	if err != nil {
		t.Fatal(err)
	}
	ids := append(strings.Fields(string(out)), "cfn-lint", "cfn-lint.parameters", "kube-score")
	for _, r := range Rules {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestEveryRuleIsBrokenOnce: each rule has exactly one broken case, and each
// broken case is refused by its rule with a message naming the field.
func TestEveryRuleIsBrokenOnce(t *testing.T) {
	t.Parallel()
	rules := allRules(t)
	var cased []string
	for _, bc := range brokenCases {
		if slices.Contains(cased, bc.rule) {
			t.Errorf("rule %s has more than one broken case", bc.rule)
		}
		cased = append(cased, bc.rule)
	}
	for _, r := range rules {
		if !slices.Contains(cased, r) {
			t.Errorf("rule %s has no broken case: break it once in brokenCases", r)
		}
	}
	for _, r := range cased {
		if !slices.Contains(rules, r) {
			t.Errorf("broken case for %s, which is no rule", r)
		}
	}
	if len(rules) != len(cased) {
		t.Errorf("%d rules, %d broken cases", len(rules), len(cased))
	}
	t.Logf("%d rules, %d broken cases", len(rules), len(cased))

	svc := loadService(t)
	for _, bc := range brokenCases {
		t.Run(bc.rule, func(t *testing.T) {
			t.Parallel()
			problems := bc.refusals(t, svc)
			if !slices.ContainsFunc(problems, func(p Problem) bool {
				return p.Rule == bc.rule && strings.Contains(p.Field+": "+p.Msg, bc.field)
			}) {
				t.Errorf("%s %q -> %q: no problem of rule %s naming %q; got:\n%s", bc.file, short(bc.old), short(bc.new), bc.rule, bc.field, lines(problems))
			}
			for _, p := range problems {
				if p.Rule != bc.rule && !slices.Contains(bc.also, p.Rule) {
					t.Errorf("%s %q -> %q: also broke %v", bc.file, short(bc.old), short(bc.new), p)
				}
			}
			for _, also := range bc.also {
				if !slices.ContainsFunc(problems, func(p Problem) bool { return p.Rule == also }) {
					t.Errorf("%s %q -> %q: listed as breaking %s, which did not fire", bc.file, short(bc.old), short(bc.new), also)
				}
			}
		})
	}
}

func lines(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.Error() + "\n")
	}
	return b.String()
}

// refusals checks the edited copy with the checker that owns the rule.
func (bc brokenCase) refusals(t *testing.T, svc Service) []Problem {
	src := bc.edited(t)
	params := maps.Clone(exampleParameters(t))
	maps.Copy(params, bc.params)
	switch {
	case slices.Contains(CommandPages, bc.file):
		_, errs := CheckDeployCommand(bc.file, string(src), shippedTemplate(t))
		return asProblems(t, errs)
	case bc.rule == "cfn-lint":
		return cfnLint(t, bc.rule, src, nil)
	case bc.rule == "cfn-lint.parameters":
		return cfnLint(t, bc.rule, src, params)
	case bc.file == stack:
		s, err := ECSStackOf(src, params)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(bc.rule, "aws.") {
			return validateAWS(t, s)
		}
		return asProblems(t, CheckECSStack(s, svc))
	}
	fsys := fstest.MapFS{}
	fs.WalkDir(files, "k8s", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := files.ReadFile(p)
			fsys[p] = &fstest.MapFile{Data: b}
		}
		return err
	})
	fsys[bc.file] = &fstest.MapFile{Data: src}
	objs, err := BuildKustomizationOf(fsys, "k8s/base")
	if err != nil {
		return asProblems(t, []error{err})
	}
	if bc.rule == "kube-score" {
		var ps []Problem
		for _, f := range kubeScore(t, objs.YAML) {
			if _, ok := kubeScoreAccepted[f]; !ok {
				ps = append(ps, Problem{"kube-score", "k8s/base", f})
			}
		}
		return ps
	}
	return asProblems(t, CheckKubernetes(objs, svc))
}

// edited is the case's file with its edit made.
func (bc brokenCase) edited(t *testing.T) []byte {
	var src []byte
	var err error
	if slices.Contains(CommandPages, bc.file) {
		src, err = os.ReadFile(filepath.Join(repoRoot, bc.file))
	} else {
		src, err = files.ReadFile(bc.file)
	}
	if err != nil {
		t.Fatal(err)
	}
	if bc.old == "" {
		return src
	}
	if n := strings.Count(string(src), bc.old); n != 1 {
		t.Fatalf("%s holds %q %d times, want once", bc.file, bc.old, n)
	}
	return []byte(strings.Replace(string(src), bc.old, bc.new, 1))
}

func asProblems(t *testing.T, errs []error) []Problem {
	t.Helper()
	var ps []Problem
	for _, err := range errs {
		p, ok := err.(Problem)
		if !ok {
			t.Fatalf("a check's error names no rule: %v", err)
		}
		ps = append(ps, p)
	}
	return ps
}

// TestRuleBoundaries: each numeric rule refuses its bound and takes the
// value just inside it (the shipped files sit away from the bounds).
func TestRuleBoundaries(t *testing.T) {
	t.Parallel()
	svc := loadService(t)
	need, _, err := svc.MemoryNeeded(svc.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	type bound struct {
		brokenCase
		refused bool
	}
	var cases []bound
	edit := func(rule, file, old string, refused bool, new string) {
		cases = append(cases, bound{brokenCase{rule: rule, file: file, old: old, new: new}, refused})
	}
	// SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT = 22 s; Fargate's most, 120.
	edit("ecs.stop-timeout", stack, "StopTimeout: 30", true, "StopTimeout: 22")
	edit("ecs.stop-timeout", stack, "StopTimeout: 30", false, "StopTimeout: 23")
	edit("ecs.stop-timeout", stack, "StopTimeout: 30", false, "StopTimeout: 120")
	edit("ecs.stop-timeout", stack, "StopTimeout: 30", true, "StopTimeout: 121")
	edit("ecs.nofile", stack, "SoftLimit: 16384", true, "SoftLimit: 4096")
	edit("ecs.nofile", stack, "SoftLimit: 16384", false, "SoftLimit: 4097")
	// 2 x READ_TIMEOUT (REDUCE_MEMORY_USAGE) + WRITE_TIMEOUT = 30 s, and
	// 20 s with REDUCE_MEMORY_USAGE=false; IDLE_TIMEOUT 75 s.
	edit("ecs.deregistration-delay", stack, `Value: "35"`, true, `Value: "30"`)
	edit("ecs.deregistration-delay", stack, `Value: "35"`, false, `Value: "31"`)
	edit("ecs.idle-timeout", stack, `Value: "60"`, true, `Value: "75"`)
	edit("ecs.idle-timeout", stack, `Value: "60"`, false, `Value: "74"`)
	edit("ecs.idle-timeout", stack, `Value: "60"`, true, `Value: "0"`)
	edit("ecs.health-check-timeout", stack, "HealthCheckTimeoutSeconds: 5", true, "HealthCheckTimeoutSeconds: 10")
	edit("ecs.health-check-timeout", stack, "HealthCheckTimeoutSeconds: 5", false, "HealthCheckTimeoutSeconds: 9")
	// The ALB's time to healthy: 2 × 10 s + 5 s; the container's start period 5 s.
	edit("ecs.grace-period", stack, "HealthCheckGracePeriodSeconds: 30", false, "HealthCheckGracePeriodSeconds: 25")
	edit("ecs.grace-period", stack, "HealthCheckGracePeriodSeconds: 30", true, "HealthCheckGracePeriodSeconds: 24")
	edit("ecs.grace-period", stack, "            StartPeriod: 5\n", true, "            StartPeriod: 40\n")
	edit("ecs.stack-size", stack, "\nOutputs:\n", false, "\n#"+strings.Repeat("x", stackMaxBytes-len(mustRead(t, stack))-2)+"\nOutputs:\n")
	edit("ecs.stack-size", stack, "\nOutputs:\n", true, "\n#"+strings.Repeat("x", stackMaxBytes-len(mustRead(t, stack))-1)+"\nOutputs:\n")
	edit("ecs.memory", stack, `Memory: "512"`, false, fmt.Sprintf(`Memory: "%d"`, int(need)+1))
	edit("ecs.memory", stack, `Memory: "512"`, true, fmt.Sprintf(`Memory: "%d"`, int(need)))
	// preStop 5 s + SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT = 27 s.
	edit("k8s.grace-period", deployment, "terminationGracePeriodSeconds: 30", true, "terminationGracePeriodSeconds: 27")
	edit("k8s.grace-period", deployment, "terminationGracePeriodSeconds: 30", false, "terminationGracePeriodSeconds: 28")
	edit("k8s.readiness-threshold", deployment, "            timeoutSeconds: 1\n            failureThreshold: 3\n", false, "            timeoutSeconds: 1\n            failureThreshold: 2\n")
	edit("k8s.memory-limit", deployment, "memory: 64Mi", false, fmt.Sprintf("memory: %dMi", int(need)+1))
	edit("k8s.memory-limit", deployment, "memory: 64Mi", true, fmt.Sprintf("memory: %dMi", int(need)))
	edit("k8s.memory-limit", deployment, "memory: 40Mi", true, "memory: 100Mi")
	edit("k8s.memory-request", deployment, "memory: 40Mi", true, fmt.Sprintf("memory: %dKi", int(2*svc.PeakRSSMiB*1024)-1))
	edit("k8s.memory-request", deployment, "memory: 40Mi", false, fmt.Sprintf("memory: %dKi", int(2*svc.PeakRSSMiB*1024)+1))
	edit("k8s.ephemeral-storage", deployment, "ephemeral-storage: 128Mi", true, "ephemeral-storage: 50Mi")
	edit("k8s.ephemeral-storage", deployment, "ephemeral-storage: 128Mi", true, "ephemeral-storage: 60Mi")
	edit("k8s.ephemeral-storage", deployment, "ephemeral-storage: 64Mi", false, "ephemeral-storage: 51Mi")
	// The limit at the request, and at the kubelet's 50 MiB of log.
	ephemeral := "              ephemeral-storage: 64Mi\n            limits:\n              memory: 64Mi\n              ephemeral-storage: 128Mi\n"
	edit("k8s.ephemeral-storage", deployment, ephemeral, false, "              ephemeral-storage: 64Mi\n            limits:\n              memory: 64Mi\n              ephemeral-storage: 64Mi\n")
	edit("k8s.ephemeral-storage", deployment, ephemeral, true, "              ephemeral-storage: 32Mi\n            limits:\n              memory: 64Mi\n              ephemeral-storage: 50Mi\n")
	edit("k8s.ephemeral-storage", deployment, ephemeral, false, "              ephemeral-storage: 32Mi\n            limits:\n              memory: 64Mi\n              ephemeral-storage: 51Mi\n")
	// Twice the peak RSS after load, to the byte.
	twice := int64(2 * svc.PeakRSSMiB * (1 << 20))
	edit("k8s.memory-request", deployment, "memory: 40Mi", false, fmt.Sprintf("memory: \"%d\"", twice))
	edit("k8s.memory-request", deployment, "memory: 40Mi", true, fmt.Sprintf("memory: \"%d\"", twice-1))
	edit("k8s.service-target-port", "k8s/base/service.yaml", "targetPort: http", true, "targetPort: 9999")
	edit("k8s.service-target-port", "k8s/base/service.yaml", "targetPort: http", false, "targetPort: 8080")
	edit("k8s.pdb-max-unavailable", "k8s/base/horizontalpodautoscaler.yaml", "minReplicas: 2", true, "minReplicas: 1")
	for _, bc := range cases {
		t.Run(bc.rule+" "+short(strings.TrimSpace(bc.new)), func(t *testing.T) {
			t.Parallel()
			problems := bc.refusals(t, svc)
			if got := slices.ContainsFunc(problems, func(p Problem) bool { return p.Rule == bc.rule }); got != bc.refused {
				t.Errorf("%s %q -> %q: refused by %s %t, want %t:\n%s", bc.file, short(bc.old), short(bc.new), bc.rule, got, bc.refused, lines(problems))
			}
		})
	}
}

// short is s cut to 60 bytes, for messages and names.
func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func mustRead(t *testing.T, file string) []byte {
	b, err := files.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
