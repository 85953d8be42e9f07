package deploy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/example/fiber-service/app"
)

// ECSStackFile is the CloudFormation template for ECS on Fargate, relative
// to this folder: the one file users deploy (README.md, docs/deploy.md).
const ECSStackFile = "ecs/stack.yaml"

// LoadECSStack evaluates the shipped template with params (parameter
// values, as `--parameter-overrides` gives them).
func LoadECSStack(params map[string]string) (Stack, error) {
	src, err := files.ReadFile(ECSStackFile)
	if err != nil {
		return Stack{}, err
	}
	return ECSStackOf(src, params)
}

// ShippedTemplate parses the template as shipped, unevaluated.
func ShippedTemplate() (Template, error) {
	src, err := files.ReadFile(ECSStackFile)
	if err != nil {
		return Template{}, err
	}
	return ParseTemplate(src)
}

// ECSStackOf evaluates the template src (a copy of the shipped one) with
// params.
func ECSStackOf(src []byte, params map[string]string) (Stack, error) {
	t, err := ParseTemplate(src)
	if err != nil {
		return Stack{}, fmt.Errorf("%s: %w", ECSStackFile, err)
	}
	s, err := t.Resolve(params)
	if err != nil {
		return Stack{}, fmt.Errorf("%s: %w", ECSStackFile, err)
	}
	return s, nil
}

// The parts of the stack's resources that the checks and a runner read, by
// their CloudFormation property names. Completeness is not the point:
// cfn-lint checks every property against CloudFormation's schemas, and
// validate_aws_request.py the ECS and ELB ones against botocore's models.

type TaskDefinition struct {
	Family                  string
	RequiresCompatibilities []string
	NetworkMode             string
	CPU                     string `json:"Cpu"`
	Memory                  string
	ExecutionRoleArn        string
	RuntimePlatform         struct{ CpuArchitecture, OperatingSystemFamily string }
	ContainerDefinitions    []ContainerDefinition
}

type ContainerDefinition struct {
	Name                   string
	Image                  string
	EntryPoint             []string
	Command                []string
	User                   string
	ReadonlyRootFilesystem bool
	LinuxParameters        struct {
		Capabilities struct{ Add, Drop []string }
	}
	PortMappings []struct {
		Name          string
		ContainerPort int
	}
	Environment      []EnvVar
	HealthCheck      *ECSHealthCheck
	StopTimeout      int
	Ulimits          []Ulimit
	LogConfiguration struct {
		LogDriver string
		Options   map[string]string
	}
}

// ECSHealthCheck is a container's HealthCheck; times are in seconds.
type ECSHealthCheck struct {
	Command                                 []string
	Interval, Timeout, Retries, StartPeriod int
}

type Ulimit struct {
	Name                 string
	SoftLimit, HardLimit int
}

type ecsService struct {
	Cluster, TaskDefinition string
	NetworkConfiguration    struct {
		AwsvpcConfiguration struct{ SecurityGroups []string }
	}
	LoadBalancers []struct {
		ContainerName  string
		ContainerPort  int
		TargetGroupArn string
	}
	HealthCheckGracePeriodSeconds int
	DeploymentConfiguration       struct {
		DeploymentCircuitBreaker struct{ Enable, Rollback bool }
	}
}

type targetGroup struct {
	TargetType, Protocol, HealthCheckPath                 string
	Port                                                  int
	HealthCheckIntervalSeconds, HealthCheckTimeoutSeconds int
	HealthyThresholdCount                                 int
	TargetGroupAttributes                                 []keyValue
}

type loadBalancer struct {
	SecurityGroups         []string
	LoadBalancerAttributes []keyValue
}

type listener struct {
	LoadBalancerArn, Protocol string
	Port                      int
	DefaultActions            []listenerAction
}

type listenerAction struct {
	Type, TargetGroupArn string
	RedirectConfig       struct{ Protocol, Port string }
}

type keyValue struct{ Key, Value string }

// ingressRule is an inline SecurityGroupIngress entry or an
// AWS::EC2::SecurityGroupIngress resource.
type ingressRule struct {
	GroupID                                  string `json:"GroupId"`
	IPProtocol                               string `json:"IpProtocol"`
	FromPort, ToPort                         int
	CidrIP                                   string `json:"CidrIp"`
	CidrIPv6                                 string `json:"CidrIpv6"`
	SourceSecurityGroupID                    string `json:"SourceSecurityGroupId"`
	SourcePrefixListID                       string `json:"SourcePrefixListId"`
	SourceSecurityGroupName, SourceSGOwnerID string
}

// ecsArchitectures maps GOARCH (and kubernetes.io/arch) to ECS's
// RuntimePlatform CpuArchitecture.
var ecsArchitectures = map[string]string{"amd64": "X86_64", "arm64": "ARM64"}

// The most ECS lets a Fargate container take to stop (ContainerDefinition
// stopTimeout in the ECS API reference).
const fargateMaxStopTimeout = 120

// Properties CloudFormation fills in with a generated name when they are
// left out, by resource type: setting one makes a second stack (or a
// resource made by hand) collide, and RoleName needs CAPABILITY_NAMED_IAM.
var generatedNames = map[string]string{
	"AWS::ECS::Cluster": "ClusterName", "AWS::ECS::Service": "ServiceName", "AWS::ECS::TaskDefinition": "Family",
	"AWS::Logs::LogGroup": "LogGroupName", "AWS::IAM::Role": "RoleName", "AWS::EC2::SecurityGroup": "GroupName",
	"AWS::ElasticLoadBalancingV2::LoadBalancer": "Name", "AWS::ElasticLoadBalancingV2::TargetGroup": "Name",
}

const (
	executionPolicy = "iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
	stackMaxBytes   = 51200 // larger templates need `aws cloudformation deploy --s3-bucket`
)

var (
	ruleStackSize        = newRule("ecs.stack-size", "the template is at most 51,200 bytes, so `aws cloudformation deploy` needs no S3 bucket")
	ruleStackOne         = newRule("ecs.one-each", "one cluster, task definition, service, load balancer, target group, log group and role")
	ruleGeneratedNames   = newRule("ecs.generated-names", "CloudFormation names every resource it can (no fixed names)")
	ruleArchValues       = newRule("ecs.architecture-values", "the Architecture parameter allows exactly the published platforms")
	ruleCPUArch          = newRule("ecs.cpu-architecture", "RuntimePlatform.CpuArchitecture is the Architecture parameter")
	ruleOSFamily         = newRule("ecs.os-family", "RuntimePlatform.OperatingSystemFamily is LINUX")
	ruleFargate          = newRule("ecs.fargate", "RequiresCompatibilities is [FARGATE]")
	ruleOneContainer     = newRule("ecs.one-container", "the task holds the service's container alone")
	ruleECSEntrypoint    = newRule("ecs.entrypoint", "no EntryPoint or Command: the image's ENTRYPOINT serves")
	ruleECSPortHTTP      = newRule("ecs.port-http", "the first port mapping is http at the service's PORT")
	ruleECSMetricsPort   = newRule("ecs.metrics-port", "a port mapping named metrics at METRICS_ADDR's port")
	ruleECSMetricsOff    = newRule("ecs.metrics-off", "no metrics port mapping when METRICS_ADDR is unset")
	ruleECSUser          = newRule("ecs.user", "User is the Dockerfile's USER")
	ruleECSReadOnly      = newRule("ecs.read-only-root", "ReadonlyRootFilesystem is true")
	ruleECSCapabilities  = newRule("ecs.capabilities", "capabilities: drop ALL, add none")
	ruleECSHealthCommand = newRule("ecs.health-check-command", "the container health check runs the image's healthcheck subcommand")
	ruleStopTimeout      = newRule("ecs.stop-timeout", "StopTimeout is above SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT and at most Fargate's 120")
	ruleNofile           = newRule("ecs.nofile", "a nofile soft limit above MAX_CONNS")
	ruleLogDriver        = newRule("ecs.log-driver", "the awslogs driver, to the stack's log group in the stack's region")
	ruleLogRetention     = newRule("ecs.log-retention", "the log group has a retention")
	ruleECSMemory        = newRule("ecs.memory", "task memory covers the RSS at MAX_CONNS with headroom")
	ruleTrustedProxies   = newRule("ecs.trusted-proxies", "TRUSTED_PROXIES is the VpcCidr parameter (the ALB's addresses)")
	ruleExecutionRole    = newRule("ecs.execution-role", "the task execution role is the stack's, with the AWS managed policy")
	ruleServiceTask      = newRule("ecs.service-task-definition", "the service runs the stack's task definition on its cluster")
	ruleServiceLB        = newRule("ecs.service-load-balancer", "the service registers the container's http port in the target group")
	ruleTargetGroup      = newRule("ecs.target-group", "the target group is HTTP to the service's PORT with ip targets (awsvpc)")
	ruleHealthPath       = newRule("ecs.health-check-path", "the target group's health check path is a route")
	ruleHealthTimeout    = newRule("ecs.health-check-timeout", "the ALB health check timeout is below its interval")
	ruleDeregistration   = newRule("ecs.deregistration-delay", "the deregistration delay is above the longest request the service allows (READ_TIMEOUT, doubled with REDUCE_MEMORY_USAGE, + WRITE_TIMEOUT)")
	ruleIdleTimeout      = newRule("ecs.idle-timeout", "the ALB's idle timeout is below IDLE_TIMEOUT")
	ruleListener         = newRule("ecs.target-group-listener", "a listener of the stack's ALB forwards to the target group")
	ruleHTTPS            = newRule("ecs.https", "HTTP forwards without a certificate; with one, HTTPS 443 forwards and HTTP redirects to it")
	ruleDependsListener  = newRule("ecs.service-depends-on-listener", "the service is created after the listener that forwards to its target group")
	ruleTaskIngress      = newRule("ecs.task-ingress", "the task admits only 8080 from the ALB's group and 9090 from MetricsCidr")
	ruleTaskFromALB      = newRule("ecs.task-ingress-from-alb", "the task's group admits the service port from the ALB's group")
	ruleALBIngress       = newRule("ecs.alb-ingress", "the ALB's group admits exactly its listeners' ports")
	ruleGracePeriod      = newRule("ecs.grace-period", "the service's grace period covers the ALB's time to healthy and the container's start period")
	ruleCircuitBreaker   = newRule("ecs.circuit-breaker", "deployments roll back with the circuit breaker")
	ruleOutputURL        = newRule("ecs.output-url", "the stack's URL output is the ALB's address")
)

// ECSContainer reads the task definition's container from the stack
// evaluated with params and Architecture set for arch (amd64 or arm64),
// with ECS's defaults filled in.
func ECSContainer(arch string, params map[string]string) (Container, error) {
	p := map[string]string{"Architecture": ecsArchitectures[arch]}
	for k, v := range params {
		p[k] = v
	}
	s, err := LoadECSStack(p)
	if err != nil {
		return Container{}, err
	}
	return taskContainer(s)
}

// taskContainer reads the container of the stack's task definition.
func taskContainer(s Stack) (Container, error) {
	ids := s.OfType("AWS::ECS::TaskDefinition")
	if len(ids) != 1 {
		return Container{}, fmt.Errorf("%s: want one task definition", ECSStackFile)
	}
	var td TaskDefinition
	if err := s.Resources[ids[0]].Decode(&td); err != nil {
		return Container{}, err
	}
	if len(td.ContainerDefinitions) != 1 {
		return Container{}, fmt.Errorf("%s: want one container", ECSStackFile)
	}
	c := td.ContainerDefinitions[0]
	out := Container{
		Source:                 ECSStackFile + " " + ids[0],
		Image:                  c.Image,
		Env:                    c.Environment,
		User:                   c.User,
		ReadOnlyRootFilesystem: c.ReadonlyRootFilesystem,
		CapDrop:                c.LinuxParameters.Capabilities.Drop,
		CapAdd:                 c.LinuxParameters.Capabilities.Add,
		StopTimeout:            seconds(c.StopTimeout, 30),
	}
	if mem, err := strconv.Atoi(td.Memory); err == nil {
		out.MemoryLimit = int64(mem) << 20
	}
	for _, m := range c.PortMappings {
		switch m.Name {
		case "http":
			out.Port = m.ContainerPort
		case "metrics":
			out.MetricsPort = m.ContainerPort
		}
	}
	for _, u := range c.Ulimits {
		if u.Name == "nofile" {
			out.NofileSoft, out.NofileHard = u.SoftLimit, u.HardLimit
		}
	}
	if h := c.HealthCheck; h != nil {
		cmd, ok := strings.CutPrefix(strings.Join(h.Command, "\x00"), "CMD\x00")
		if !ok {
			return Container{}, fmt.Errorf("%s: HealthCheck.Command is not exec form [CMD, ...]", out.Source)
		}
		out.HealthCheck = &HealthCheck{
			Command:     strings.Split(cmd, "\x00"),
			Interval:    seconds(h.Interval, 30),
			Timeout:     seconds(h.Timeout, 5),
			StartPeriod: seconds(h.StartPeriod, 0),
			Retries:     h.Retries,
		}
		if out.HealthCheck.Retries == 0 {
			out.HealthCheck.Retries = 3
		}
	}
	return out, nil
}

// ecsStack is the evaluated stack's resources, one of each kind.
type ecsStack struct {
	Stack
	TaskID, ServiceID, LoadBalancerID, TargetGroupID, LogGroupID, RoleID string

	Task         TaskDefinition
	Service      ecsService
	LoadBalancer loadBalancer
	TargetGroup  targetGroup
}

// CheckECSStack checks the evaluated stack against the service and itself.
// Each problem names the field.
func CheckECSStack(s Stack, svc Service) []error {
	var errs problems
	if s.Template.Size > stackMaxBytes {
		errs.add(ruleStackSize, ECSStackFile, "%d bytes, want at most %d (above it `aws cloudformation deploy` needs --s3-bucket)", s.Template.Size, stackMaxBytes)
	}
	for _, id := range sortedKeys(s.Resources) {
		if name := generatedNames[s.Resources[id].Type]; s.Resources[id].Properties[name] != nil {
			errs.add(ruleGeneratedNames, "Resources."+id+".Properties."+name, "leave it out: CloudFormation then names the resource after the stack")
		}
	}
	es := ecsStack{Stack: s}
	for _, one := range []struct {
		typ  string
		id   *string
		into any
	}{
		{"AWS::ECS::TaskDefinition", &es.TaskID, &es.Task}, {"AWS::ECS::Service", &es.ServiceID, &es.Service},
		{"AWS::ElasticLoadBalancingV2::LoadBalancer", &es.LoadBalancerID, &es.LoadBalancer},
		{"AWS::ElasticLoadBalancingV2::TargetGroup", &es.TargetGroupID, &es.TargetGroup},
		{"AWS::ECS::Cluster", nil, nil}, {"AWS::Logs::LogGroup", &es.LogGroupID, nil}, {"AWS::IAM::Role", &es.RoleID, nil},
	} {
		ids := s.OfType(one.typ)
		if len(ids) != 1 {
			errs.add(ruleStackOne, "Resources", "%d of type %s, want one", len(ids), one.typ)
			continue
		}
		if one.id != nil {
			*one.id = ids[0]
		}
		if one.into != nil {
			if err := s.Resources[ids[0]].Decode(one.into); err != nil {
				errs.add(ruleStackOne, "Resources."+ids[0], "%v", err)
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	errs = append(errs, es.checkTask(svc)...)
	if len(es.Task.ContainerDefinitions) != 1 {
		return errs
	}
	cfg, envErrs := svc.Config("environment", es.Task.ContainerDefinitions[0].Environment)
	if len(envErrs) > 0 {
		return errs
	}
	errs = append(errs, es.checkService(cfg)...)
	errs = append(errs, es.checkLoadBalancing(svc, cfg)...)
	errs = append(errs, es.checkNetwork(cfg)...)
	return errs
}

// checkTask checks the task definition and its container.
func (es ecsStack) checkTask(svc Service) []error {
	var errs problems
	td := es.Task
	at := "Resources." + es.TaskID + ".Properties."
	want := map[string]bool{}
	for _, a := range svc.Arches() {
		want[ecsArchitectures[a]] = true
	}
	if allowed := es.Template.Parameters["Architecture"].AllowedValues; len(allowed) != len(want) ||
		slices.ContainsFunc(allowed, func(v string) bool { return !want[v] }) {
		errs.add(ruleArchValues, "Parameters.Architecture.AllowedValues", "%v, want the published platforms %v as ECS names them", allowed, svc.Platforms)
	}
	if got := td.RuntimePlatform.CpuArchitecture; got != es.Values["Architecture"] {
		errs.add(ruleCPUArch, at+"RuntimePlatform.CpuArchitecture", "%q, want the Architecture parameter (%v)", got, es.Values["Architecture"])
	}
	if td.RuntimePlatform.OperatingSystemFamily != "LINUX" {
		errs.add(ruleOSFamily, at+"RuntimePlatform.OperatingSystemFamily", "%q, want LINUX", td.RuntimePlatform.OperatingSystemFamily)
	}
	if !slices.Equal(td.RequiresCompatibilities, []string{"FARGATE"}) {
		errs.add(ruleFargate, at+"RequiresCompatibilities", "%v, want [FARGATE]", td.RequiresCompatibilities)
	}
	if role := es.Resources[es.RoleID]; !Refers(td.ExecutionRoleArn, es.RoleID, "Arn") ||
		!slices.ContainsFunc(list(role.Properties["ManagedPolicyArns"]), func(a string) bool { return strings.HasSuffix(a, ":"+executionPolicy) }) {
		errs.add(ruleExecutionRole, at+"ExecutionRoleArn", "want the stack's role (%s) with the managed policy %s", es.RoleID, executionPolicy)
	}
	if len(td.ContainerDefinitions) != 1 {
		errs.add(ruleOneContainer, at+"ContainerDefinitions", "%d containers, want the service alone", len(td.ContainerDefinitions))
		return errs
	}
	c := td.ContainerDefinitions[0]
	at += "ContainerDefinitions[0]"
	cfg, envErrs := svc.Config(at+".Environment", c.Environment)
	errs = append(errs, envErrs...)
	if len(envErrs) > 0 {
		return errs
	}
	if len(c.EntryPoint) > 0 || len(c.Command) > 0 {
		errs.add(ruleECSEntrypoint, at, "EntryPoint/Command replace the image's; the image's ENTRYPOINT serves")
	}
	ports := map[string]int{}
	for _, m := range c.PortMappings {
		ports[m.Name] = m.ContainerPort
	}
	if len(c.PortMappings) == 0 || c.PortMappings[0].Name != "http" || c.PortMappings[0].ContainerPort != cfg.Port {
		errs.add(ruleECSPortHTTP, at+".PortMappings", "want first a mapping named http of ContainerPort %d (the service's PORT)", cfg.Port)
	}
	metrics := metricsPort(cfg.MetricsAddr)
	switch got, ok := ports["metrics"]; {
	case metrics == 0 && ok:
		errs.add(ruleECSMetricsOff, at+".PortMappings", "a mapping named metrics, but METRICS_ADDR is not set: nothing listens there")
	case metrics != 0 && got != metrics:
		errs.add(ruleECSMetricsPort, at+".PortMappings", "want a mapping named metrics of ContainerPort %d (METRICS_ADDR=%q)", metrics, cfg.MetricsAddr)
	}
	if c.User != svc.User {
		errs.add(ruleECSUser, at+".User", "%q, want the Dockerfile's USER %q", c.User, svc.User)
	}
	if !c.ReadonlyRootFilesystem {
		errs.add(ruleECSReadOnly, at+".ReadonlyRootFilesystem", "want true: the service writes no file")
	}
	if !slices.Equal(c.LinuxParameters.Capabilities.Drop, []string{"ALL"}) || len(c.LinuxParameters.Capabilities.Add) > 0 {
		errs.add(ruleECSCapabilities, at+".LinuxParameters.Capabilities", "want Drop [ALL] and nothing added")
	}
	wantCheck := slices.Concat([]string{"CMD"}, svc.Entrypoint, []string{"healthcheck"})
	if c.HealthCheck == nil || !slices.Equal(c.HealthCheck.Command, wantCheck) {
		errs.add(ruleECSHealthCommand, at+".HealthCheck.Command", "want %q: ECS ignores the image's HEALTHCHECK", wantCheck)
	}
	drain := cfg.ShutdownDelay + cfg.ShutdownTimeout
	if stop := time.Duration(c.StopTimeout) * time.Second; stop <= drain || c.StopTimeout > fargateMaxStopTimeout {
		errs.add(ruleStopTimeout, at+".StopTimeout", "%d s, want above SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT (%s) and at most %d (Fargate)",
			c.StopTimeout, drain, fargateMaxStopTimeout)
	}
	nofile := slices.IndexFunc(c.Ulimits, func(u Ulimit) bool { return u.Name == "nofile" })
	if nofile < 0 || c.Ulimits[nofile].SoftLimit <= cfg.MaxConns {
		errs.add(ruleNofile, at+".Ulimits", "want a nofile soft limit above MAX_CONNS (%d)", cfg.MaxConns)
	}
	logs := c.LogConfiguration
	if logs.LogDriver != "awslogs" || !Refers(logs.Options["awslogs-group"], es.LogGroupID, "") || logs.Options["awslogs-region"] != es.Values["AWS::Region"] {
		errs.add(ruleLogDriver, at+".LogConfiguration", "want LogDriver awslogs, awslogs-group the stack's log group (%s), awslogs-region the stack's region", es.LogGroupID)
	}
	if intOf(es.Resources[es.LogGroupID].Properties["RetentionInDays"]) <= 0 {
		errs.add(ruleLogRetention, "Resources."+es.LogGroupID+".Properties.RetentionInDays", "want a retention: without one, logs are kept (and paid for) forever")
	}
	if need, why, err := svc.MemoryNeeded(cfg); err != nil {
		errs.add(ruleECSMemory, "Resources."+es.TaskID+".Properties.Memory", "%v", err)
	} else if mem, err := strconv.Atoi(td.Memory); err != nil || float64(mem) < need {
		errs.add(ruleECSMemory, "Resources."+es.TaskID+".Properties.Memory", "%q MiB, want at least %.0f MiB: %s", td.Memory, need, why)
	}
	if got, want := envValue(c.Environment, "TRUSTED_PROXIES"), fmt.Sprint(es.Values["VpcCidr"]); got != want {
		errs.add(ruleTrustedProxies, at+".Environment TRUSTED_PROXIES", "%q, want the VpcCidr parameter (%s): the ALB's addresses are in it", got, want)
	}
	return errs
}

// checkService checks the ECS service against the task and the stack.
func (es ecsStack) checkService(cfg app.Config) []error {
	var errs problems
	svc := es.Service
	at := "Resources." + es.ServiceID + ".Properties."
	if !Refers(svc.TaskDefinition, es.TaskID, "") || !Refers(svc.Cluster, es.OfType("AWS::ECS::Cluster")[0], "") {
		errs.add(ruleServiceTask, at+"TaskDefinition", "want the stack's task definition (%s) on the stack's cluster", es.TaskID)
	}
	c := es.Task.ContainerDefinitions[0]
	if len(svc.LoadBalancers) != 1 || svc.LoadBalancers[0].ContainerName != c.Name || svc.LoadBalancers[0].ContainerPort != cfg.Port ||
		!Refers(svc.LoadBalancers[0].TargetGroupArn, es.TargetGroupID, "") {
		errs.add(ruleServiceLB, at+"LoadBalancers", "want container %q port %d in the target group %s", c.Name, cfg.Port, es.TargetGroupID)
	}
	tg := es.TargetGroup
	toHealthy := time.Duration(tg.HealthyThresholdCount*tg.HealthCheckIntervalSeconds+tg.HealthCheckTimeoutSeconds) * time.Second
	start := time.Duration(0)
	if c.HealthCheck != nil {
		start = time.Duration(c.HealthCheck.StartPeriod) * time.Second
	}
	if grace := time.Duration(svc.HealthCheckGracePeriodSeconds) * time.Second; grace < toHealthy || grace < start {
		errs.add(ruleGracePeriod, at+"HealthCheckGracePeriodSeconds", "%s, want at least the ALB's time to healthy "+
			"(HealthyThresholdCount × interval + timeout: %s) and the container's StartPeriod (%s)", grace, toHealthy, start)
	}
	if cb := svc.DeploymentConfiguration.DeploymentCircuitBreaker; !cb.Enable || !cb.Rollback {
		errs.add(ruleCircuitBreaker, at+"DeploymentConfiguration.DeploymentCircuitBreaker", "want Enable and Rollback true")
	}
	var forwarding []string
	for _, id := range es.OfType("AWS::ElasticLoadBalancingV2::Listener") {
		var l listener
		es.Resources[id].Decode(&l)
		if Refers(l.LoadBalancerArn, es.LoadBalancerID, "") && slices.ContainsFunc(l.DefaultActions, func(a listenerAction) bool {
			return a.Type == "forward" && Refers(a.TargetGroupArn, es.TargetGroupID, "")
		}) {
			forwarding = append(forwarding, id)
		}
	}
	if len(forwarding) == 0 {
		errs.add(ruleListener, "Resources."+es.TargetGroupID, "no listener of %s forwards to it: ECS refuses the service (\"does not have an associated load balancer\")", es.LoadBalancerID)
	}
	for _, l := range forwarding {
		if !es.DependsOn(es.ServiceID, l) {
			errs.add(ruleDependsListener, "Resources."+es.ServiceID+".DependsOn", "want %s (it attaches the target group): without it stack creation can fail with \"does not have an associated load balancer\"", l)
		}
	}
	if url := fmt.Sprint(es.Outputs["URL"]); url != "http://${"+es.LoadBalancerID+".DNSName}" && url != "https://${"+es.LoadBalancerID+".DNSName}" {
		errs.add(ruleOutputURL, "Outputs.URL", "%q, want http(s)://${%s.DNSName}", url, es.LoadBalancerID)
	}
	return errs
}

// checkLoadBalancing checks the ALB, its listeners and the target group
// against the service's routes and timeouts.
func (es ecsStack) checkLoadBalancing(svc Service, cfg app.Config) []error {
	var errs problems
	tg := es.TargetGroup
	at := "Resources." + es.TargetGroupID + ".Properties."
	if tg.TargetType != "ip" || tg.Protocol != "HTTP" || tg.Port != cfg.Port {
		errs.add(ruleTargetGroup, at+"TargetType/Protocol/Port", "want ip (awsvpc), HTTP, %d", cfg.Port)
	}
	if !slices.Contains(svc.Routes, tg.HealthCheckPath) {
		errs.add(ruleHealthPath, at+"HealthCheckPath", "%q is not a route the service answers (%v)", tg.HealthCheckPath, svc.Routes)
	}
	if tg.HealthCheckTimeoutSeconds >= tg.HealthCheckIntervalSeconds {
		errs.add(ruleHealthTimeout, at+"HealthCheckTimeoutSeconds", "%d, want below HealthCheckIntervalSeconds (%d)", tg.HealthCheckTimeoutSeconds, tg.HealthCheckIntervalSeconds)
	}
	// ECS sends SIGTERM only once the target has drained: the delay must let
	// the longest request the service allows finish. With
	// REDUCE_MEMORY_USAGE a new connection's first request may take up to
	// twice READ_TIMEOUT from the connect (see READ_TIMEOUT in server help).
	read, why := cfg.ReadTimeout, "READ_TIMEOUT + WRITE_TIMEOUT"
	if cfg.ReduceMemoryUsage {
		read, why = 2*cfg.ReadTimeout, "2 x READ_TIMEOUT (REDUCE_MEMORY_USAGE) + WRITE_TIMEOUT"
	}
	longest := read + cfg.WriteTimeout
	if d := attribute(tg.TargetGroupAttributes, "deregistration_delay.timeout_seconds"); d <= longest {
		errs.add(ruleDeregistration, at+"TargetGroupAttributes deregistration_delay.timeout_seconds", "%s, want above %s (%s)", d, why, longest)
	}
	// The side that closes an idle connection first must be the ALB, or it
	// may send a request on a connection the service is closing (a 502).
	if idle := attribute(es.LoadBalancer.LoadBalancerAttributes, "idle_timeout.timeout_seconds"); idle <= 0 || idle >= cfg.IdleTimeout {
		errs.add(ruleIdleTimeout, "Resources."+es.LoadBalancerID+".Properties.LoadBalancerAttributes idle_timeout.timeout_seconds", "%s, want below IDLE_TIMEOUT (%s)", idle, cfg.IdleTimeout)
	}
	// Without a certificate port 80 serves; with one, 443 serves and 80
	// sends the client there.
	cert := fmt.Sprint(es.Values["CertificateArn"]) != ""
	listeners := map[int]listener{}
	for _, id := range es.OfType("AWS::ElasticLoadBalancingV2::Listener") {
		var l listener
		es.Resources[id].Decode(&l)
		listeners[l.Port] = l
	}
	forwards := func(l listener) bool {
		return len(l.DefaultActions) == 1 && l.DefaultActions[0].Type == "forward" && Refers(l.DefaultActions[0].TargetGroupArn, es.TargetGroupID, "")
	}
	http, https := listeners[80], listeners[443]
	switch {
	case !cert && (len(listeners) != 1 || http.Protocol != "HTTP" || !forwards(http)):
		errs.add(ruleHTTPS, "Resources (AWS::ElasticLoadBalancingV2::Listener)", "without CertificateArn, want one HTTP listener on 80 that forwards to %s", es.TargetGroupID)
	case cert && (len(listeners) != 2 || https.Protocol != "HTTPS" || !forwards(https) || http.Protocol != "HTTP" ||
		len(http.DefaultActions) != 1 || http.DefaultActions[0].Type != "redirect" ||
		http.DefaultActions[0].RedirectConfig.Protocol != "HTTPS" || http.DefaultActions[0].RedirectConfig.Port != "443"):
		errs.add(ruleHTTPS, "Resources (AWS::ElasticLoadBalancingV2::Listener)", "with CertificateArn, want HTTPS on 443 forwarding to %s and HTTP on 80 redirecting to HTTPS 443", es.TargetGroupID)
	}
	return errs
}

// checkNetwork checks the security groups: internet to the ALB's
// listeners, the ALB to the task's service port, MetricsCidr to its
// metrics port, and nothing else.
func (es ecsStack) checkNetwork(cfg app.Config) []error {
	var errs problems
	taskGroups := es.Service.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups
	albGroups := es.LoadBalancer.SecurityGroups
	metrics := metricsPort(cfg.MetricsAddr)
	fromALB := false
	for _, g := range taskGroups {
		for _, r := range es.ingress(g) {
			alb := slices.Contains(albGroups, r.SourceSecurityGroupID)
			switch {
			case r.FromPort == cfg.Port && r.ToPort == cfg.Port && r.IPProtocol == "tcp" && alb && r.CidrIP+r.CidrIPv6 == "":
				fromALB = true
			case metrics != 0 && r.FromPort == metrics && r.ToPort == metrics && r.IPProtocol == "tcp" &&
				r.CidrIP == fmt.Sprint(es.Values["MetricsCidr"]) && r.SourceSecurityGroupID+r.CidrIPv6+r.SourcePrefixListID == "":
			default:
				errs.add(ruleTaskIngress, "Resources "+r.GroupID+" SecurityGroupIngress", "%s %d-%d from %s: the task admits only %d from the ALB's group and %d from MetricsCidr",
					r.IPProtocol, r.FromPort, r.ToPort, r.source(), cfg.Port, metrics)
			}
		}
	}
	if !fromALB {
		errs.add(ruleTaskFromALB, "Resources."+es.ServiceID+".Properties.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups",
			"no group admits tcp %d from the ALB's group (%v): the ALB could not reach the task", cfg.Port, albGroups)
	}
	var listening, open []int
	for _, id := range es.OfType("AWS::ElasticLoadBalancingV2::Listener") {
		var l listener
		es.Resources[id].Decode(&l)
		listening = append(listening, l.Port)
	}
	for _, g := range albGroups {
		for _, r := range es.ingress(g) {
			if r.FromPort != r.ToPort || !slices.Contains(listening, r.FromPort) {
				errs.add(ruleALBIngress, "Resources "+r.GroupID+" SecurityGroupIngress", "%s %d-%d: the ALB listens on %v only", r.IPProtocol, r.FromPort, r.ToPort, listening)
			}
			open = append(open, r.FromPort)
		}
	}
	for _, p := range listening {
		if !slices.Contains(open, p) {
			errs.add(ruleALBIngress, "Resources."+es.LoadBalancerID+".Properties.SecurityGroups", "no group admits the listener port %d", p)
		}
	}
	return errs
}

// ingress lists a security group's ingress rules, inline and as
// AWS::EC2::SecurityGroupIngress resources; group is how the stack refers
// to it (its GroupId or Ref).
func (es ecsStack) ingress(group string) []ingressRule {
	var rules []ingressRule
	for _, id := range es.OfType("AWS::EC2::SecurityGroup") {
		if !Refers(group, id, "GroupId") && !Refers(group, id, "") {
			continue
		}
		var sg struct{ SecurityGroupIngress []ingressRule }
		es.Resources[id].Decode(&sg)
		for _, r := range sg.SecurityGroupIngress {
			r.GroupID = id
			rules = append(rules, r)
		}
		for _, rid := range es.OfType("AWS::EC2::SecurityGroupIngress") {
			var r ingressRule
			es.Resources[rid].Decode(&r)
			if Refers(r.GroupID, id, "GroupId") || Refers(r.GroupID, id, "") {
				r.GroupID = rid
				rules = append(rules, r)
			}
		}
	}
	return rules
}

func (r ingressRule) source() string {
	for _, s := range []string{r.CidrIP, r.CidrIPv6, r.SourceSecurityGroupID, r.SourcePrefixListID, r.SourceSecurityGroupName} {
		if s != "" {
			return s
		}
	}
	return "anywhere"
}

// attribute is an ELB attribute given in seconds, 0 if absent or not a number.
func attribute(attrs []keyValue, key string) time.Duration {
	for _, a := range attrs {
		if a.Key == key {
			n, _ := strconv.Atoi(a.Value)
			return time.Duration(n) * time.Second
		}
	}
	return 0
}

// list turns a decoded list of strings (as Resolve leaves it) into []string.
func list(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, x := range items {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func envValue(env []EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// intOf reads a number of a decoded template (float64, int64 or a string
// such as "30"); 0 if it is none.
func intOf(v any) int {
	n, _ := strconv.Atoi(fmt.Sprint(v))
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
