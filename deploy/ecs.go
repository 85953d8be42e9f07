package deploy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// The parts of ECS's RegisterTaskDefinition input that the checks and a
// runner read. Completeness is not the point: validate_aws_request.py checks
// the whole file against the ECS API model.
type TaskDefinition struct {
	Family                  string   `json:"family"`
	RequiresCompatibilities []string `json:"requiresCompatibilities"`
	NetworkMode             string   `json:"networkMode"`
	CPU                     string   `json:"cpu"`
	Memory                  string   `json:"memory"`
	RuntimePlatform         struct {
		CPUArchitecture       string `json:"cpuArchitecture"`
		OperatingSystemFamily string `json:"operatingSystemFamily"`
	} `json:"runtimePlatform"`
	ContainerDefinitions []ContainerDefinition `json:"containerDefinitions"`
}

type ContainerDefinition struct {
	Name                   string   `json:"name"`
	Image                  string   `json:"image"`
	EntryPoint             []string `json:"entryPoint"`
	Command                []string `json:"command"`
	User                   string   `json:"user"`
	ReadonlyRootFilesystem bool     `json:"readonlyRootFilesystem"`
	LinuxParameters        struct {
		Capabilities struct {
			Add  []string `json:"add"`
			Drop []string `json:"drop"`
		} `json:"capabilities"`
	} `json:"linuxParameters"`
	PortMappings []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
		Protocol      string `json:"protocol"`
	} `json:"portMappings"`
	Environment      []EnvVar        `json:"environment"`
	HealthCheck      *ECSHealthCheck `json:"healthCheck"`
	StopTimeout      int             `json:"stopTimeout"`
	Ulimits          []Ulimit        `json:"ulimits"`
	LogConfiguration struct {
		LogDriver string `json:"logDriver"`
	} `json:"logConfiguration"`
}

// ECSHealthCheck is a container's healthCheck; times are in seconds.
type ECSHealthCheck struct {
	Command     []string `json:"command"`
	Interval    int      `json:"interval"`
	Timeout     int      `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod int      `json:"startPeriod"`
}

type Ulimit struct {
	Name      string `json:"name"`
	SoftLimit int    `json:"softLimit"`
	HardLimit int    `json:"hardLimit"`
}

// ecsArchitectures maps GOARCH (and kubernetes.io/arch) to ECS's
// runtimePlatform.cpuArchitecture.
var ecsArchitectures = map[string]string{"amd64": "X86_64", "arm64": "ARM64"}

// ECSTaskDefinitionFile is the task definition for one architecture
// (amd64 or arm64), relative to this folder.
func ECSTaskDefinitionFile(arch string) string {
	return "ecs/task-definition-" + arch + ".json"
}

// LoadECSTaskDefinition reads the shipped task definition for arch.
func LoadECSTaskDefinition(arch string) (TaskDefinition, error) {
	src, err := files.ReadFile(ECSTaskDefinitionFile(arch))
	if err != nil {
		return TaskDefinition{}, err
	}
	return ParseECSTaskDefinition(src)
}

// ParseECSTaskDefinition decodes a RegisterTaskDefinition input.
func ParseECSTaskDefinition(src []byte) (TaskDefinition, error) {
	var td TaskDefinition
	err := json.Unmarshal(src, &td)
	return td, err
}

// The most ECS lets a Fargate container take to stop (ContainerDefinition
// stopTimeout in the ECS API reference).
const fargateMaxStopTimeout = 120

// CheckECSTaskDefinition checks a task definition for arch against the
// service. Each problem names the field.
func CheckECSTaskDefinition(td TaskDefinition, arch string, svc Service) []error {
	var errs problems
	if !slices.Contains(svc.Arches(), arch) {
		errs.add("runtimePlatform", "%s is not a platform docker-bake.hcl publishes (%v)", arch, svc.Platforms)
	}
	if want := ecsArchitectures[arch]; td.RuntimePlatform.CPUArchitecture != want {
		errs.add("runtimePlatform.cpuArchitecture", "%q, want %q for %s", td.RuntimePlatform.CPUArchitecture, want, arch)
	}
	if td.RuntimePlatform.OperatingSystemFamily != "LINUX" {
		errs.add("runtimePlatform.operatingSystemFamily", "%q, want LINUX", td.RuntimePlatform.OperatingSystemFamily)
	}
	if !slices.Equal(td.RequiresCompatibilities, []string{"FARGATE"}) {
		errs.add("requiresCompatibilities", "%v, want [FARGATE]", td.RequiresCompatibilities)
	}
	if len(td.ContainerDefinitions) != 1 {
		errs.add("containerDefinitions", "%d containers, want the service alone", len(td.ContainerDefinitions))
		return errs
	}
	c := td.ContainerDefinitions[0]
	const at = "containerDefinitions[0]"
	cfg, envErrs := svc.Config(at+".environment", c.Environment)
	errs = append(errs, envErrs...)
	if len(envErrs) > 0 {
		return errs
	}
	if len(c.EntryPoint) > 0 || len(c.Command) > 0 {
		errs.add(at, "entryPoint/command replace the image's; the image's ENTRYPOINT serves")
	}
	ports := map[string]int{}
	for _, m := range c.PortMappings {
		ports[m.Name] = m.ContainerPort
	}
	if len(c.PortMappings) == 0 || c.PortMappings[0].Name != "http" || c.PortMappings[0].ContainerPort != cfg.Port {
		errs.add(at+".portMappings", "want first a mapping named http of containerPort %d (the service's PORT)", cfg.Port)
	}
	want := metricsPort(cfg.MetricsAddr)
	switch got, ok := ports["metrics"]; {
	case want == 0 && ok:
		errs.add(at+".portMappings", "a mapping named metrics, but METRICS_ADDR is not set: nothing listens there")
	case want != 0 && got != want:
		errs.add(at+".portMappings", "want a mapping named metrics of containerPort %d (METRICS_ADDR=%q)", want, cfg.MetricsAddr)
	}
	if c.User != svc.User {
		errs.add(at+".user", "%q, want the Dockerfile's USER %q", c.User, svc.User)
	}
	if !c.ReadonlyRootFilesystem {
		errs.add(at+".readonlyRootFilesystem", "want true: the service writes no file")
	}
	if !slices.Equal(c.LinuxParameters.Capabilities.Drop, []string{"ALL"}) || len(c.LinuxParameters.Capabilities.Add) > 0 {
		errs.add(at+".linuxParameters.capabilities", "want drop [ALL] and nothing added")
	}
	wantCheck := slices.Concat([]string{"CMD"}, svc.Entrypoint, []string{"healthcheck"})
	if c.HealthCheck == nil || !slices.Equal(c.HealthCheck.Command, wantCheck) {
		errs.add(at+".healthCheck.command", "want %q: ECS ignores the image's HEALTHCHECK", wantCheck)
	}
	drain := cfg.ShutdownDelay + cfg.ShutdownTimeout
	if stop := time.Duration(c.StopTimeout) * time.Second; stop <= drain || c.StopTimeout > fargateMaxStopTimeout {
		errs.add(at+".stopTimeout", "%d s, want above SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT (%s) and at most %d (Fargate)",
			c.StopTimeout, drain, fargateMaxStopTimeout)
	}
	nofile := slices.IndexFunc(c.Ulimits, func(u Ulimit) bool { return u.Name == "nofile" })
	if nofile < 0 || c.Ulimits[nofile].SoftLimit <= cfg.MaxConns {
		errs.add(at+".ulimits", "want a nofile soft limit above MAX_CONNS (%d)", cfg.MaxConns)
	}
	if c.LogConfiguration.LogDriver != "awslogs" {
		errs.add(at+".logConfiguration.logDriver", "%q, want awslogs", c.LogConfiguration.LogDriver)
	}
	if mem, err := strconv.Atoi(td.Memory); err != nil || float64(mem) < 2*svc.PeakRSSMiB {
		errs.add("memory", "%q MiB, want at least twice the measured peak RSS (%.1f MiB)", td.Memory, svc.PeakRSSMiB)
	}
	return errs
}

// problems collects errors that each name a field.
type problems []error

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// The ECS service and the ALB in front of it (deploy/ecs), as the
// `aws ecs create-service` and `aws elbv2` inputs.
type ecsLoadBalancing struct {
	Service struct {
		TaskDefinition string `json:"taskDefinition"`
		LoadBalancers  []struct {
			ContainerName string `json:"containerName"`
			ContainerPort int    `json:"containerPort"`
		} `json:"loadBalancers"`
	}
	TargetGroup struct {
		TargetType                 string `json:"TargetType"`
		Protocol                   string `json:"Protocol"`
		Port                       int    `json:"Port"`
		HealthCheckPath            string `json:"HealthCheckPath"`
		HealthCheckIntervalSeconds int    `json:"HealthCheckIntervalSeconds"`
		HealthCheckTimeoutSeconds  int    `json:"HealthCheckTimeoutSeconds"`
	}
	TargetGroupAttributes, LoadBalancerAttributes struct {
		Attributes []struct{ Key, Value string } `json:"Attributes"`
	}
}

// ECSLoadBalancingFiles are the ECS service and ALB inputs, with the AWS
// operation each one is for.
var ECSLoadBalancingFiles = map[string]string{
	"ecs/service.json":                  "ecs.CreateService",
	"ecs/target-group.json":             "elbv2.CreateTargetGroup",
	"ecs/target-group-attributes.json":  "elbv2.ModifyTargetGroupAttributes",
	"ecs/load-balancer-attributes.json": "elbv2.ModifyLoadBalancerAttributes",
}

// CheckECSLoadBalancing checks the ECS service and ALB settings against the
// task definitions and the service's timeouts.
func CheckECSLoadBalancing(svc Service) []error {
	var lb ecsLoadBalancing
	var errs problems
	for file, into := range map[string]any{
		"ecs/service.json": &lb.Service, "ecs/target-group.json": &lb.TargetGroup,
		"ecs/target-group-attributes.json": &lb.TargetGroupAttributes, "ecs/load-balancer-attributes.json": &lb.LoadBalancerAttributes,
	} {
		src, err := files.ReadFile(file)
		if err == nil {
			err = json.Unmarshal(src, into)
		}
		if err != nil {
			return []error{fmt.Errorf("%s: %w", file, err)}
		}
	}
	families := map[string]ContainerDefinition{}
	for _, arch := range svc.Arches() {
		td, err := LoadECSTaskDefinition(arch)
		if err != nil || len(td.ContainerDefinitions) != 1 {
			return []error{fmt.Errorf("%s: %v", ECSTaskDefinitionFile(arch), err)}
		}
		families[td.Family] = td.ContainerDefinitions[0]
	}
	c, ok := families[lb.Service.TaskDefinition]
	if !ok {
		errs.add("service.json taskDefinition", "%q is not the family of a task definition here", lb.Service.TaskDefinition)
		return errs
	}
	cfg, envErrs := svc.Config("environment", c.Environment)
	if len(envErrs) > 0 {
		return envErrs
	}
	if len(lb.Service.LoadBalancers) != 1 || lb.Service.LoadBalancers[0].ContainerName != c.Name ||
		lb.Service.LoadBalancers[0].ContainerPort != cfg.Port {
		errs.add("service.json loadBalancers", "want container %q port %d", c.Name, cfg.Port)
	}
	tg := lb.TargetGroup
	if tg.TargetType != "ip" || tg.Protocol != "HTTP" || tg.Port != cfg.Port {
		errs.add("target-group.json", "want TargetType ip (awsvpc), Protocol HTTP, Port %d", cfg.Port)
	}
	if !slices.Contains(svc.Routes, tg.HealthCheckPath) {
		errs.add("target-group.json HealthCheckPath", "%q is not a route the service answers (%v)", tg.HealthCheckPath, svc.Routes)
	}
	if tg.HealthCheckTimeoutSeconds >= tg.HealthCheckIntervalSeconds {
		errs.add("target-group.json HealthCheckTimeoutSeconds", "want below HealthCheckIntervalSeconds")
	}
	// ECS sends SIGTERM only once the target has drained: the delay must let
	// the longest request the service allows finish.
	longest := cfg.ReadTimeout + cfg.WriteTimeout
	if d := attribute(lb.TargetGroupAttributes.Attributes, "deregistration_delay.timeout_seconds"); d <= longest {
		errs.add("target-group-attributes.json deregistration_delay.timeout_seconds", "%s, want above READ_TIMEOUT + WRITE_TIMEOUT (%s)", d, longest)
	}
	// The side that closes an idle connection first must be the ALB, or it
	// may send a request on a connection the service is closing (a 502).
	if idle := attribute(lb.LoadBalancerAttributes.Attributes, "idle_timeout.timeout_seconds"); idle <= 0 || idle >= cfg.IdleTimeout {
		errs.add("load-balancer-attributes.json idle_timeout.timeout_seconds", "%s, want below IDLE_TIMEOUT (%s)", idle, cfg.IdleTimeout)
	}
	return errs
}

// attribute is an ELB attribute given in seconds, 0 if absent or not a number.
func attribute(attrs []struct{ Key, Value string }, key string) time.Duration {
	for _, a := range attrs {
		if a.Key == key {
			n, _ := strconv.Atoi(a.Value)
			return time.Duration(n) * time.Second
		}
	}
	return 0
}
