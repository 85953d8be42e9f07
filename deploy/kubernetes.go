package deploy

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Kustomizations are the folders `kubectl apply -k` takes, relative to this
// folder: the base runs on every published platform, each overlay on one.
var Kustomizations = []string{"k8s/base", "k8s/overlays/amd64", "k8s/overlays/arm64"}

// Objects are the Kubernetes objects of one kustomization.
type Objects struct {
	Deployment *appsv1.Deployment
	Service    *corev1.Service
	Budget     *policyv1.PodDisruptionBudget
	Autoscaler *autoscalingv2.HorizontalPodAutoscaler
}

var strictDecoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		appsv1.AddToScheme, corev1.AddToScheme, policyv1.AddToScheme, autoscalingv2.AddToScheme,
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
// outside Deployment, Service, PodDisruptionBudget and
// HorizontalPodAutoscaler (autoscaling/v2).
func DecodeStrict(doc []byte) (runtime.Object, error) {
	obj, _, err := strictDecoder.Decode(doc, nil, nil)
	return obj, err
}

// BuildKustomization runs kustomize (its Go API, as `kubectl apply -k` does)
// on one of Kustomizations and decodes every object strictly.
func BuildKustomization(dir string) (Objects, error) {
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(files, "k8s", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := files.ReadFile(p)
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
	for _, r := range built.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			return Objects{}, err
		}
		obj, err := DecodeStrict(doc)
		if err != nil {
			return Objects{}, fmt.Errorf("%s %s/%s: %w", dir, r.GetKind(), r.GetName(), err)
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
		}
	}
	if objs.Deployment == nil || objs.Service == nil || objs.Budget == nil || objs.Autoscaler == nil {
		return Objects{}, fmt.Errorf("%s: want a Deployment, a Service, a PodDisruptionBudget and a HorizontalPodAutoscaler", dir)
	}
	return objs, nil
}

// DeploymentArches are the kubernetes.io/arch values the Deployment's
// required node affinity allows.
func DeploymentArches(d *appsv1.Deployment) ([]string, error) {
	a := d.Spec.Template.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil, fmt.Errorf("spec.template.spec.affinity.nodeAffinity: want a required kubernetes.io/arch term")
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchExpressions) != 1 {
		return nil, fmt.Errorf("spec.template.spec.affinity.nodeAffinity: want one term with one expression")
	}
	e := terms[0].MatchExpressions[0]
	if e.Key != corev1.LabelArchStable || e.Operator != corev1.NodeSelectorOpIn {
		return nil, fmt.Errorf("spec.template.spec.affinity.nodeAffinity: want %s In [...], got %s %s", corev1.LabelArchStable, e.Key, e.Operator)
	}
	return e.Values, nil
}

// CheckKubernetes checks the objects of one kustomization against each
// other and the service.
func CheckKubernetes(objs Objects, svc Service) []error {
	errs := problems(CheckDeployment(objs.Deployment, svc))
	labels := objs.Deployment.Spec.Template.Labels
	if !selects(objs.Service.Spec.Selector, labels) {
		errs.add("Service spec.selector", "%v does not select the pods (%v)", objs.Service.Spec.Selector, labels)
	}
	for i, p := range objs.Service.Spec.Ports {
		if !namesPort(p.TargetPort, objs.Deployment.Spec.Template.Spec.Containers) {
			errs.add(fmt.Sprintf("Service spec.ports[%d].targetPort", i), "%s is no port of the container", p.TargetPort.String())
		}
	}
	if sel := objs.Budget.Spec.Selector; sel == nil || !selects(sel.MatchLabels, labels) {
		errs.add("PodDisruptionBudget spec.selector", "does not select the pods (%v)", labels)
	}
	ref := objs.Autoscaler.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.Name != objs.Deployment.Name {
		errs.add("HorizontalPodAutoscaler spec.scaleTargetRef", "%s/%s, want Deployment/%s", ref.Kind, ref.Name, objs.Deployment.Name)
	}
	if objs.Deployment.Spec.Replicas != nil {
		errs.add("Deployment spec.replicas", "leave it unset: the HorizontalPodAutoscaler owns it")
	}
	minReplicas := 1
	if objs.Autoscaler.Spec.MinReplicas != nil {
		minReplicas = int(*objs.Autoscaler.Spec.MinReplicas)
	}
	if mu := objs.Budget.Spec.MaxUnavailable; mu == nil || mu.Type != intstr.Int || mu.IntValue() >= minReplicas {
		errs.add("PodDisruptionBudget spec.maxUnavailable", "want a number below the autoscaler's minReplicas (%d)", minReplicas)
	}
	return errs
}

// CheckDeployment checks a Deployment's pod against the service. Each
// problem names the field.
func CheckDeployment(d *appsv1.Deployment, svc Service) []error {
	var errs problems
	pod := d.Spec.Template.Spec
	arches, err := DeploymentArches(d)
	if err != nil {
		errs = append(errs, err)
	}
	for _, a := range arches {
		if !slices.Contains(svc.Arches(), a) {
			errs.add("nodeAffinity kubernetes.io/arch", "%s is not a platform docker-bake.hcl publishes (%v)", a, svc.Platforms)
		}
	}
	if len(pod.Containers) != 1 {
		errs.add("containers", "%d containers, want the service alone", len(pod.Containers))
		return errs
	}
	c := pod.Containers[0]
	const at = "containers[0]"
	env := make([]EnvVar, len(c.Env))
	for i, e := range c.Env {
		if e.ValueFrom != nil {
			errs.add(fmt.Sprintf("%s.env[%d]", at, i), "valueFrom cannot be checked here; use value")
		}
		env[i] = EnvVar{e.Name, e.Value}
	}
	cfg, envErrs := svc.Config(at+".env", env)
	errs = append(errs, envErrs...)
	if len(envErrs) > 0 {
		return errs
	}
	if len(c.Command) > 0 || len(c.Args) > 0 {
		errs.add(at, "command/args replace the image's; the image's ENTRYPOINT serves")
	}
	port := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "http" })
	if port < 0 || c.Ports[port].ContainerPort != int32(cfg.Port) {
		errs.add(at+".ports", "want a port named http with containerPort %d (the service's PORT)", cfg.Port)
	}
	metrics := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "metrics" })
	want := metricsPort(cfg.MetricsAddr)
	switch {
	case want == 0 && metrics >= 0:
		errs.add(at+".ports", "a port named metrics, but METRICS_ADDR is not set: nothing listens there")
	case want != 0 && (metrics < 0 || c.Ports[metrics].ContainerPort != int32(want)):
		errs.add(at+".ports", "want a port named metrics with containerPort %d (METRICS_ADDR=%q)", want, cfg.MetricsAddr)
	case want != 0 && d.Spec.Template.Annotations["prometheus.io/port"] != strconv.Itoa(want):
		errs.add("spec.template.metadata.annotations", "prometheus.io/port %q, want %d (METRICS_ADDR=%q)",
			d.Spec.Template.Annotations["prometheus.io/port"], want, cfg.MetricsAddr)
	}
	for _, probe := range []struct {
		name string
		p    *corev1.Probe
	}{{"startupProbe", c.StartupProbe}, {"readinessProbe", c.ReadinessProbe}, {"livenessProbe", c.LivenessProbe}} {
		name, p := probe.name, probe.p
		switch {
		case p == nil || p.HTTPGet == nil:
			errs.add(at+"."+name, "want an httpGet probe")
		case !slices.Contains(svc.Routes, p.HTTPGet.Path):
			errs.add(at+"."+name+".httpGet.path", "%q is not a route the service answers (%v)", p.HTTPGet.Path, svc.Routes)
		case resolvePort(p.HTTPGet.Port, c) != cfg.Port:
			errs.add(at+"."+name+".httpGet.port", "%s is not the service's PORT %d", p.HTTPGet.Port.String(), cfg.Port)
		}
	}
	preStop := PreStopSleep(c)
	if preStop == 0 {
		errs.add(at+".lifecycle.preStop.sleep", "want a sleep, so endpoints are removed before SIGTERM")
	}
	drain := preStop + cfg.ShutdownDelay + cfg.ShutdownTimeout
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= drain {
		errs.add("terminationGracePeriodSeconds", "want above preStop + SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT (%s)", drain)
	}
	errs = append(errs, checkSecurity(pod, c, svc.User)...)
	req, lim := c.Resources.Requests, c.Resources.Limits
	twice := resource.NewQuantity(int64(2*svc.PeakRSSMiB*(1<<20)), resource.BinarySI)
	if m, ok := req[corev1.ResourceMemory]; !ok || m.Cmp(*twice) < 0 {
		errs.add(at+".resources.requests.memory", "want at least twice the measured peak RSS (%.1f MiB)", svc.PeakRSSMiB)
	}
	if m, ok := lim[corev1.ResourceMemory]; !ok || m.Cmp(req[corev1.ResourceMemory]) < 0 {
		errs.add(at+".resources.limits.memory", "want a limit at or above the request")
	}
	if _, ok := req[corev1.ResourceCPU]; !ok {
		errs.add(at+".resources.requests.cpu", "want one: the autoscaler's utilization is relative to it")
	}
	zone := slices.IndexFunc(pod.TopologySpreadConstraints, func(t corev1.TopologySpreadConstraint) bool {
		return t.TopologyKey == corev1.LabelTopologyZone
	})
	if zone < 0 {
		errs.add("topologySpreadConstraints", "want a spread across %s", corev1.LabelTopologyZone)
	} else if sel := pod.TopologySpreadConstraints[zone].LabelSelector; sel == nil || !selects(sel.MatchLabels, d.Spec.Template.Labels) {
		errs.add(fmt.Sprintf("topologySpreadConstraints[%d].labelSelector", zone), "does not select the pods")
	}
	return errs
}

func checkSecurity(pod corev1.PodSpec, c corev1.Container, user string) []error {
	var errs problems
	ps, cs := pod.SecurityContext, c.SecurityContext
	if ps == nil || cs == nil {
		errs.add("securityContext", "want one on the pod and on the container")
		return errs
	}
	if ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot {
		errs.add("securityContext.runAsNonRoot", "want true")
	}
	if ps.RunAsUser == nil || ps.RunAsGroup == nil || fmt.Sprintf("%d:%d", *ps.RunAsUser, *ps.RunAsGroup) != user {
		errs.add("securityContext.runAsUser/runAsGroup", "want the Dockerfile's USER %s", user)
	}
	if ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		errs.add("securityContext.seccompProfile", "want RuntimeDefault")
	}
	if cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
		errs.add("containers[0].securityContext.readOnlyRootFilesystem", "want true")
	}
	if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
		errs.add("containers[0].securityContext.allowPrivilegeEscalation", "want false")
	}
	if cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) > 0 {
		errs.add("containers[0].securityContext.capabilities", "want drop [ALL] and nothing added")
	}
	return errs
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
