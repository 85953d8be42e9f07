package deploy

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/example/fiber-service/app"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Kustomizations are the folders `kubectl apply -k` takes, relative to this
// folder: the base runs on every published platform, each overlay on one.
// They make objects of the same names: a cluster runs one of them.
var Kustomizations = []string{"k8s/base", "k8s/overlays/amd64", "k8s/overlays/arm64"}

// Objects are the Kubernetes objects of one kustomization.
type Objects struct {
	Deployment *appsv1.Deployment
	Service    *corev1.Service
	Budget     *policyv1.PodDisruptionBudget
	Autoscaler *autoscalingv2.HorizontalPodAutoscaler
	Policy     *networkingv1.NetworkPolicy
	YAML       []byte // all of them, as `kubectl kustomize` prints them
}

var ruleKnownFields = newRule("k8s.known-fields", "every field is one the k8s.io/api types know (strict decoding)")

var strictDecoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		appsv1.AddToScheme, corev1.AddToScheme, policyv1.AddToScheme, autoscalingv2.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
}()

// DecodeStrict decodes one YAML document into its k8s.io/api type. An
// unknown or duplicated field is an error that names it, as is a kind
// outside Deployment, Service, PodDisruptionBudget, HorizontalPodAutoscaler
// (autoscaling/v2) and NetworkPolicy.
func DecodeStrict(doc []byte) (runtime.Object, error) {
	obj, _, err := strictDecoder.Decode(doc, nil, nil)
	return obj, err
}

// BuildKustomization runs kustomize (its Go API, as `kubectl apply -k` does)
// on one of Kustomizations and decodes every object strictly.
func BuildKustomization(dir string) (Objects, error) {
	return BuildKustomizationOf(files, dir)
}

// BuildKustomizationOf is BuildKustomization over the k8s folder of fsys (a
// copy of this folder, e.g. with one file edited).
func BuildKustomizationOf(fsys fs.FS, dir string) (Objects, error) {
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(fsys, "k8s", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return mem.WriteFile(path.Join("/", p), src)
	})
	if err != nil {
		return Objects{}, err
	}
	built, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, path.Join("/", dir))
	if err != nil {
		return Objects{}, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs Objects
	if objs.YAML, err = built.AsYaml(); err != nil {
		return Objects{}, err
	}
	for _, r := range built.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			return Objects{}, err
		}
		obj, err := DecodeStrict(doc)
		if err != nil {
			return Objects{}, Problem{ruleKnownFields.ID, fmt.Sprintf("%s %s/%s", dir, r.GetKind(), r.GetName()), err.Error()}
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			objs.Deployment = o
		case *corev1.Service:
			objs.Service = o
		case *policyv1.PodDisruptionBudget:
			objs.Budget = o
		case *autoscalingv2.HorizontalPodAutoscaler:
			objs.Autoscaler = o
		case *networkingv1.NetworkPolicy:
			objs.Policy = o
		}
	}
	if objs.Deployment == nil || objs.Service == nil || objs.Budget == nil || objs.Autoscaler == nil || objs.Policy == nil {
		return Objects{}, fmt.Errorf("%s: want a Deployment, a Service, a PodDisruptionBudget, a HorizontalPodAutoscaler and a NetworkPolicy", dir)
	}
	return objs, nil
}

var (
	ruleServiceSelector  = newRule("k8s.service-selector", "the Service selects the pods")
	ruleServiceTarget    = newRule("k8s.service-target-port", "the Service's target ports are container ports")
	ruleBudgetSelector   = newRule("k8s.pdb-selector", "the PodDisruptionBudget selects the pods")
	ruleAutoscalerTarget = newRule("k8s.hpa-target", "the HorizontalPodAutoscaler scales the Deployment")
	ruleReplicasUnset    = newRule("k8s.replicas-unset", "the Deployment leaves replicas to the autoscaler")
	ruleMaxUnavailable   = newRule("k8s.pdb-max-unavailable", "the budget's maxUnavailable is a number below minReplicas")
	ruleArchAffinity     = newRule("k8s.arch-affinity", "a required node affinity: kubernetes.io/arch In [...] first")
	ruleArchPublished    = newRule("k8s.arch-published", "every architecture allowed is a published platform")
	ruleOSSelector       = newRule("k8s.os-selector", "the required node affinity also asks for kubernetes.io/os In [linux]")
	ruleK8sOneContainer  = newRule("k8s.one-container", "the pod holds the service's container alone")
	ruleValueFrom        = newRule("k8s.env-value-from", "env values are literal, so they can be checked here")
	ruleK8sCommand       = newRule("k8s.command", "no command or args: the image's ENTRYPOINT serves")
	ruleK8sPortHTTP      = newRule("k8s.port-http", "a container port named http at the service's PORT")
	ruleK8sMetricsPort   = newRule("k8s.metrics-port", "a container port named metrics at METRICS_ADDR's port")
	ruleK8sMetricsOff    = newRule("k8s.metrics-off", "no metrics port when METRICS_ADDR is unset")
	ruleScrapeAnnotation = newRule("k8s.metrics-annotation", "prometheus.io/port names the metrics port")
	ruleProbeHTTP        = newRule("k8s.probe-http", "startup, readiness and liveness probes are httpGet")
	ruleProbePath        = newRule("k8s.probe-path", "every probe path is a route")
	ruleProbePort        = newRule("k8s.probe-port", "every probe asks the service's PORT")
	ruleReadiness        = newRule("k8s.readiness-threshold", "readiness survives one slow probe (failureThreshold at least 2)")
	rulePreStop          = newRule("k8s.prestop", "a preStop sleep, so endpoints are removed before SIGTERM")
	ruleGrace            = newRule("k8s.grace-period", "terminationGracePeriodSeconds is above preStop + SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT")
	ruleSecurityContext  = newRule("k8s.security-context", "a security context on the pod and on the container")
	ruleNonRoot          = newRule("k8s.run-as-non-root", "runAsNonRoot is true")
	ruleRunAsUser        = newRule("k8s.run-as-user", "runAsUser/runAsGroup are the Dockerfile's USER")
	ruleSeccomp          = newRule("k8s.seccomp", "the RuntimeDefault seccomp profile")
	ruleK8sReadOnly      = newRule("k8s.read-only-root", "readOnlyRootFilesystem is true")
	rulePrivEscalation   = newRule("k8s.privilege-escalation", "allowPrivilegeEscalation is false")
	ruleK8sCapabilities  = newRule("k8s.capabilities", "capabilities: drop ALL, add none")
	ruleMemoryRequest    = newRule("k8s.memory-request", "the memory request is at least twice the peak RSS after load")
	ruleMemoryLimit      = newRule("k8s.memory-limit", "the memory limit covers the RSS at MAX_CONNS with headroom, and the request")
	ruleCPURequest       = newRule("k8s.cpu-request", "a CPU request (the autoscaler's utilization is relative to it)")
	ruleEphemeral        = newRule("k8s.ephemeral-storage", "an ephemeral-storage request and a limit that holds the rotated log")
	ruleSpread           = newRule("k8s.spread", "spread across zones and across nodes, each selecting the pods")
	ruleNetpolSelects    = newRule("k8s.netpol-selects", "the NetworkPolicy selects the pods and restricts ingress")
	ruleNetpolService    = newRule("k8s.netpol-service-port", "the service port is open to every pod and to a load balancer's ipBlock")
	ruleNetpolMetrics    = newRule("k8s.netpol-metrics-port", "the metrics port only to pods or namespaces with the label metrics-scraper")
	rulePodSecurity      = newRule("k8s.pod-security", "the pod passes the Pod Security Standards' restricted profile (latest)")
)

// The label that admits a pod, or every pod of a namespace, to the metrics
// port (networkpolicy.yaml).
const scraperLabel = "metrics-scraper"

// The kubelet's default log rotation keeps 5 files of 10 MiB per container
// (containerLogMaxFiles, containerLogMaxSize), all counted as the
// container's ephemeral storage.
const rotatedLogBytes = 5 * 10 << 20

// DeploymentArches are the kubernetes.io/arch values the Deployment's
// required node affinity allows.
func DeploymentArches(d *appsv1.Deployment) ([]string, error) {
	terms := requiredTerms(d)
	if len(terms) != 1 || len(terms[0].MatchExpressions) == 0 {
		return nil, fmt.Errorf("want one required term, kubernetes.io/arch its first expression")
	}
	e := terms[0].MatchExpressions[0]
	if e.Key != corev1.LabelArchStable || e.Operator != corev1.NodeSelectorOpIn {
		return nil, fmt.Errorf("want %s In [...] first, got %s %s", corev1.LabelArchStable, e.Key, e.Operator)
	}
	return e.Values, nil
}

func requiredTerms(d *appsv1.Deployment) []corev1.NodeSelectorTerm {
	a := d.Spec.Template.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	return a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
}

// CheckKubernetes checks the objects of one kustomization against each
// other and the service.
func CheckKubernetes(objs Objects, svc Service) []error {
	errs := problems(CheckDeployment(objs.Deployment, svc))
	labels := objs.Deployment.Spec.Template.Labels
	if !selects(objs.Service.Spec.Selector, labels) {
		errs.add(ruleServiceSelector, "Service spec.selector", "%v does not select the pods (%v)", objs.Service.Spec.Selector, labels)
	}
	for i, p := range objs.Service.Spec.Ports {
		if !namesPort(p.TargetPort, objs.Deployment.Spec.Template.Spec.Containers) {
			errs.add(ruleServiceTarget, fmt.Sprintf("Service spec.ports[%d].targetPort", i), "%s is no port of the container", p.TargetPort.String())
		}
	}
	if sel := objs.Budget.Spec.Selector; sel == nil || !selects(sel.MatchLabels, labels) {
		errs.add(ruleBudgetSelector, "PodDisruptionBudget spec.selector", "does not select the pods (%v)", labels)
	}
	ref := objs.Autoscaler.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.Name != objs.Deployment.Name {
		errs.add(ruleAutoscalerTarget, "HorizontalPodAutoscaler spec.scaleTargetRef", "%s/%s, want Deployment/%s", ref.Kind, ref.Name, objs.Deployment.Name)
	}
	if objs.Deployment.Spec.Replicas != nil {
		errs.add(ruleReplicasUnset, "Deployment spec.replicas", "leave it unset: the HorizontalPodAutoscaler owns it")
	}
	minReplicas := 1
	if objs.Autoscaler.Spec.MinReplicas != nil {
		minReplicas = int(*objs.Autoscaler.Spec.MinReplicas)
	}
	if mu := objs.Budget.Spec.MaxUnavailable; mu == nil || mu.Type != intstr.Int || mu.IntValue() >= minReplicas {
		errs.add(ruleMaxUnavailable, "PodDisruptionBudget spec.maxUnavailable", "want a number below the autoscaler's minReplicas (%d)", minReplicas)
	}
	return append(errs, checkNetworkPolicy(objs.Policy, objs.Deployment)...)
}

// CheckDeployment checks a Deployment's pod against the service. Each
// problem names the field.
func CheckDeployment(d *appsv1.Deployment, svc Service) []error {
	var errs problems
	for _, r := range CheckPodSecurity(d) {
		errs.add(rulePodSecurity, "spec.template", "%s", r)
	}
	pod := d.Spec.Template.Spec
	arches, err := DeploymentArches(d)
	if err != nil {
		errs.add(ruleArchAffinity, "spec.template.spec.affinity.nodeAffinity", "%v", err)
	}
	for _, a := range arches {
		if !slices.Contains(svc.Arches(), a) {
			errs.add(ruleArchPublished, "nodeAffinity kubernetes.io/arch", "%s is not a platform docker-bake.hcl publishes (%v)", a, svc.Platforms)
		}
	}
	if terms := requiredTerms(d); len(terms) != 1 || !slices.ContainsFunc(terms[0].MatchExpressions, func(e corev1.NodeSelectorRequirement) bool {
		return e.Key == corev1.LabelOSStable && e.Operator == corev1.NodeSelectorOpIn && slices.Equal(e.Values, []string{"linux"})
	}) {
		errs.add(ruleOSSelector, "spec.template.spec.affinity.nodeAffinity", "want %s In [linux] in the required term: the image is Linux only", corev1.LabelOSStable)
	}
	if len(pod.Containers) != 1 {
		errs.add(ruleK8sOneContainer, "containers", "%d containers, want the service alone", len(pod.Containers))
		return errs
	}
	c := pod.Containers[0]
	const at = "containers[0]"
	env := make([]EnvVar, len(c.Env))
	for i, e := range c.Env {
		if e.ValueFrom != nil {
			errs.add(ruleValueFrom, fmt.Sprintf("%s.env[%d]", at, i), "valueFrom cannot be checked here; use value")
		}
		env[i] = EnvVar{e.Name, e.Value}
	}
	cfg, envErrs := svc.Config(at+".env", env)
	errs = append(errs, envErrs...)
	if len(envErrs) > 0 {
		return errs
	}
	if len(c.Command) > 0 || len(c.Args) > 0 {
		errs.add(ruleK8sCommand, at, "command/args replace the image's; the image's ENTRYPOINT serves")
	}
	port := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "http" })
	if port < 0 || c.Ports[port].ContainerPort != int32(cfg.Port) {
		errs.add(ruleK8sPortHTTP, at+".ports", "want a port named http with containerPort %d (the service's PORT)", cfg.Port)
	}
	metrics := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "metrics" })
	want := metricsPort(cfg.MetricsAddr)
	switch {
	case want == 0 && metrics >= 0:
		errs.add(ruleK8sMetricsOff, at+".ports", "a port named metrics, but METRICS_ADDR is not set: nothing listens there")
	case want != 0 && (metrics < 0 || c.Ports[metrics].ContainerPort != int32(want)):
		errs.add(ruleK8sMetricsPort, at+".ports", "want a port named metrics with containerPort %d (METRICS_ADDR=%q)", want, cfg.MetricsAddr)
	case want != 0 && d.Spec.Template.Annotations["prometheus.io/port"] != strconv.Itoa(want):
		errs.add(ruleScrapeAnnotation, "spec.template.metadata.annotations", "prometheus.io/port %q, want %d (METRICS_ADDR=%q)",
			d.Spec.Template.Annotations["prometheus.io/port"], want, cfg.MetricsAddr)
	}
	for _, probe := range []struct {
		name string
		p    *corev1.Probe
	}{{"startupProbe", c.StartupProbe}, {"readinessProbe", c.ReadinessProbe}, {"livenessProbe", c.LivenessProbe}} {
		name, p := probe.name, probe.p
		switch {
		case p == nil || p.HTTPGet == nil:
			errs.add(ruleProbeHTTP, at+"."+name, "want an httpGet probe")
		case !slices.Contains(svc.Routes, p.HTTPGet.Path):
			errs.add(ruleProbePath, at+"."+name+".httpGet.path", "%q is not a route the service answers (%v)", p.HTTPGet.Path, svc.Routes)
		case resolvePort(p.HTTPGet.Port, c) != cfg.Port:
			errs.add(ruleProbePort, at+"."+name+".httpGet.port", "%s is not the service's PORT %d", p.HTTPGet.Port.String(), cfg.Port)
		}
	}
	// One slow answer (a GC pause, a busy node) must not take the pod out
	// of the Service; 0 is Kubernetes' default, 3.
	if p := c.ReadinessProbe; p != nil && p.FailureThreshold != 0 && p.FailureThreshold < 2 {
		errs.add(ruleReadiness, at+".readinessProbe.failureThreshold", "%d, want at least 2: one slow probe would drop the pod from the Service", p.FailureThreshold)
	}
	preStop := PreStopSleep(c)
	if preStop == 0 {
		errs.add(rulePreStop, at+".lifecycle.preStop.sleep", "want a sleep, so endpoints are removed before SIGTERM")
	}
	drain := preStop + cfg.ShutdownDelay + cfg.ShutdownTimeout
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= drain {
		errs.add(ruleGrace, "terminationGracePeriodSeconds", "want above preStop + SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT (%s)", drain)
	}
	errs = append(errs, checkSecurity(pod, c, svc.User)...)
	errs = append(errs, checkResources(c, svc, cfg)...)
	for _, key := range []string{corev1.LabelTopologyZone, corev1.LabelHostname} {
		i := slices.IndexFunc(pod.TopologySpreadConstraints, func(t corev1.TopologySpreadConstraint) bool { return t.TopologyKey == key })
		if i < 0 {
			errs.add(ruleSpread, "topologySpreadConstraints", "want a spread across %s", key)
		} else if sel := pod.TopologySpreadConstraints[i].LabelSelector; sel == nil || !selects(sel.MatchLabels, d.Spec.Template.Labels) {
			errs.add(ruleSpread, fmt.Sprintf("topologySpreadConstraints[%d].labelSelector", i), "does not select the pods")
		}
	}
	return errs
}

func checkSecurity(pod corev1.PodSpec, c corev1.Container, user string) []error {
	var errs problems
	ps, cs := pod.SecurityContext, c.SecurityContext
	if ps == nil || cs == nil {
		errs.add(ruleSecurityContext, "securityContext", "want one on the pod and on the container")
		return errs
	}
	if ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot {
		errs.add(ruleNonRoot, "securityContext.runAsNonRoot", "want true")
	}
	if ps.RunAsUser == nil || ps.RunAsGroup == nil || fmt.Sprintf("%d:%d", *ps.RunAsUser, *ps.RunAsGroup) != user {
		errs.add(ruleRunAsUser, "securityContext.runAsUser/runAsGroup", "want the Dockerfile's USER %s", user)
	}
	if ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		errs.add(ruleSeccomp, "securityContext.seccompProfile", "want RuntimeDefault")
	}
	if cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
		errs.add(ruleK8sReadOnly, "containers[0].securityContext.readOnlyRootFilesystem", "want true")
	}
	if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
		errs.add(rulePrivEscalation, "containers[0].securityContext.allowPrivilegeEscalation", "want false")
	}
	if cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) > 0 {
		errs.add(ruleK8sCapabilities, "containers[0].securityContext.capabilities", "want drop [ALL] and nothing added")
	}
	return errs
}

func checkResources(c corev1.Container, svc Service, cfg app.Config) []error {
	var errs problems
	const at = "containers[0].resources"
	req, lim := c.Resources.Requests, c.Resources.Limits
	twice := resource.NewQuantity(int64(2*svc.PeakRSSMiB*(1<<20)), resource.BinarySI)
	if m, ok := req[corev1.ResourceMemory]; !ok || m.Cmp(*twice) < 0 {
		errs.add(ruleMemoryRequest, at+".requests.memory", "want at least twice the measured peak RSS (%.1f MiB)", svc.PeakRSSMiB)
	}
	need, why, err := svc.MemoryNeeded(cfg)
	m, ok := lim[corev1.ResourceMemory]
	switch {
	case err != nil:
		errs.add(ruleMemoryLimit, at+".limits.memory", "%v", err)
	case !ok || float64(m.Value()) < need*(1<<20):
		errs.add(ruleMemoryLimit, at+".limits.memory", "%s, want at least %.1f MiB: %s; below it the kernel kills the pod before MAX_CONNS", m.String(), need, why)
	case m.Cmp(req[corev1.ResourceMemory]) < 0:
		errs.add(ruleMemoryLimit, at+".limits.memory", "%s, below the request", m.String())
	}
	if _, ok := req[corev1.ResourceCPU]; !ok {
		errs.add(ruleCPURequest, at+".requests.cpu", "want one: the autoscaler's utilization is relative to it")
	}
	er, okr := req[corev1.ResourceEphemeralStorage]
	el, okl := lim[corev1.ResourceEphemeralStorage]
	if !okr || !okl || el.Cmp(er) < 0 || el.Value() <= rotatedLogBytes {
		errs.add(ruleEphemeral, at+".limits.ephemeral-storage", "want a request and a limit at or above it and above the %d MiB of log the kubelet keeps", rotatedLogBytes>>20)
	}
	return errs
}

// checkNetworkPolicy: the service port open to the cluster's pods and to a
// load balancer's addresses, the metrics port to labelled scrapers only.
func checkNetworkPolicy(np *networkingv1.NetworkPolicy, d *appsv1.Deployment) []error {
	var errs problems
	c := d.Spec.Template.Spec.Containers[0]
	if !selects(np.Spec.PodSelector.MatchLabels, d.Spec.Template.Labels) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		errs.add(ruleNetpolSelects, "NetworkPolicy spec.podSelector/policyTypes", "want the pods (%v) selected and Ingress in policyTypes", d.Spec.Template.Labels)
	}
	admits := func(r networkingv1.NetworkPolicyIngressRule, port string) bool {
		return len(r.Ports) == 0 || slices.ContainsFunc(r.Ports, func(p networkingv1.NetworkPolicyPort) bool {
			return p.Port != nil && resolvePort(*p.Port, c) == resolvePort(intstr.FromString(port), c)
		})
	}
	allPods, ipBlock := false, false
	for i, r := range np.Spec.Ingress {
		if admits(r, "http") {
			for _, f := range r.From {
				allPods = allPods || (f.NamespaceSelector != nil && len(f.NamespaceSelector.MatchLabels) == 0 &&
					len(f.NamespaceSelector.MatchExpressions) == 0 && f.PodSelector == nil)
				ipBlock = ipBlock || f.IPBlock != nil
			}
		}
		if !admits(r, "metrics") {
			continue
		}
		for j, f := range r.From {
			labelled := func(s *metav1.LabelSelector) bool {
				return s != nil && s.MatchLabels[scraperLabel] == "true"
			}
			if f.IPBlock != nil || (f.PodSelector != nil && !labelled(f.PodSelector)) || (f.NamespaceSelector != nil && !labelled(f.NamespaceSelector)) {
				errs.add(ruleNetpolMetrics, fmt.Sprintf("NetworkPolicy spec.ingress[%d].from[%d]", i, j), "admits the metrics port to more than pods or namespaces labelled %s: \"true\"", scraperLabel)
			}
		}
		if len(r.From) == 0 {
			errs.add(ruleNetpolMetrics, fmt.Sprintf("NetworkPolicy spec.ingress[%d].from", i), "empty: admits the metrics port from anywhere")
		}
	}
	if !allPods || !ipBlock {
		errs.add(ruleNetpolService, "NetworkPolicy spec.ingress", "want the http port open to every pod (namespaceSelector: {}) and to the load balancer's ipBlock")
	}
	return errs
}

// CheckPodSecurity evaluates the Deployment's pod template against the Pod
// Security Standards' restricted profile at the latest version, with the
// upstream library the admission controller runs; each refusal says why.
func CheckPodSecurity(d *appsv1.Deployment) []string {
	eval, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		return []string{err.Error()}
	}
	tpl := d.Spec.Template
	var refused []string
	for _, r := range eval.EvaluatePod(psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}, &tpl.ObjectMeta, &tpl.Spec) {
		if !r.Allowed {
			refused = append(refused, fmt.Sprintf("Pod Security Standards restricted (latest): %s (%s)", r.ForbiddenReason, r.ForbiddenDetail))
		}
	}
	return refused
}

// PreStopSleep is the container's preStop sleep action, 0 without one.
func PreStopSleep(c corev1.Container) time.Duration {
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		return 0
	}
	return time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
}

// resolvePort turns a probe's port (a number or a port name) into a number,
// 0 if the name is not one of the container's ports.
func resolvePort(p intstr.IntOrString, c corev1.Container) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	return 0
}

func namesPort(p intstr.IntOrString, cs []corev1.Container) bool {
	for _, c := range cs {
		if resolvePort(p, c) != 0 && slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool {
			return int(cp.ContainerPort) == resolvePort(p, c)
		}) {
			return true
		}
	}
	return false
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
