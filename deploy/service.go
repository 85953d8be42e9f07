// Package deploy holds the service's ECS and Kubernetes files (embedded, so
// what this package reads is what users apply) and checks them against the
// service itself: its settings and their validation, its routes, the
// Dockerfile's user and entrypoint, the bake file's platforms and the
// measured memory figures. It also turns each platform's files into the
// Container a test runner needs to start the image the way that platform
// would (see ECSContainer and KubernetesContainer).
package deploy

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/example/fiber-service/app"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// files are the deployment files as shipped in this folder.
//
//go:embed ecs k8s
var files embed.FS

// Service is what the deployment files must agree with, read from the code
// and the build files rather than restated by hand.
type Service struct {
	Settings   []string   // every variable `server help` lists
	Routes     []string   // every path the service answers with GET
	Platforms  []string   // docker-bake.hcl's PLATFORMS default, e.g. linux/arm64
	User       string     // the Dockerfile's USER, e.g. 65532:65532
	Entrypoint []string   // the Dockerfile's ENTRYPOINT
	PeakRSSMiB float64    // peak RSS of the service as shipped, from the benchmarks
	ConnRSS    []ConnRSS  // RSS holding idle keep-alive connections, from the benchmarks
	Defaults   app.Config // the configuration with an empty environment
}

// ConnRSS is one measurement of the benchmark's connections section: the
// service's RSS while it holds Conns idle keep-alive connections.
type ConnRSS struct {
	ReduceMemoryUsage bool    `json:"reduce_memory_usage"`
	Conns             int     `json:"conns"`
	RSSMiB            float64 `json:"rss_mib"`
}

// LoadService reads the facts from the repository whose top folder is root.
func LoadService(root string) (Service, error) {
	s := Service{Settings: app.SettingNames(), Routes: app.RoutePaths()}
	var err error
	if s.Defaults, err = app.LoadConfig(func(string) (string, bool) { return "", false }); err != nil {
		return s, err
	}
	if s.Platforms, err = bakePlatforms(filepath.Join(root, "docker-bake.hcl")); err != nil {
		return s, err
	}
	if s.User, s.Entrypoint, err = dockerfileRuntime(filepath.Join(root, "Dockerfile")); err != nil {
		return s, err
	}
	results := filepath.Join(root, "docs", "bench-results.json")
	if s.PeakRSSMiB, err = measuredPeakRSS(results); err != nil {
		return s, err
	}
	s.ConnRSS, err = measuredConnRSS(results)
	return s, err
}

// RSSAt is the service's RSS (MiB) holding conns idle keep-alive
// connections with REDUCE_MEMORY_USAGE=reduce: the measured figure, or for
// a count the benchmark did not measure, the straight line through the two
// nearest measured counts (beyond the largest, the line through the two
// largest). how says which.
func (s Service) RSSAt(conns int, reduce bool) (mib float64, how string, err error) {
	var pts []ConnRSS
	for _, m := range s.ConnRSS {
		if m.ReduceMemoryUsage == reduce {
			pts = append(pts, m)
		}
	}
	slices.SortFunc(pts, func(a, b ConnRSS) int { return a.Conns - b.Conns })
	if len(pts) < 2 {
		return 0, "", fmt.Errorf("fewer than two RSS measurements with REDUCE_MEMORY_USAGE=%t", reduce)
	}
	i := 1
	for i < len(pts)-1 && pts[i].Conns < conns {
		i++
	}
	a, b := pts[i-1], pts[i]
	switch conns {
	case a.Conns:
		return a.RSSMiB, fmt.Sprintf("measured at %d connections", conns), nil
	case b.Conns:
		return b.RSSMiB, fmt.Sprintf("measured at %d connections", conns), nil
	}
	mib = a.RSSMiB + (b.RSSMiB-a.RSSMiB)*float64(conns-a.Conns)/float64(b.Conns-a.Conns)
	return mib, fmt.Sprintf("on the line through %d and %d connections", a.Conns, b.Conns), nil
}

// Arches are the GOARCH names of the published platforms (amd64, arm64),
// which are also Kubernetes' kubernetes.io/arch values.
func (s Service) Arches() []string {
	var arches []string
	for _, p := range s.Platforms {
		_, arch, _ := strings.Cut(p, "/")
		arches = append(arches, arch)
	}
	return arches
}

var (
	ruleEnvName  = newRule("env.name", "every variable set is one `server help` lists")
	ruleEnvValue = newRule("env.value", "every value passes the service's own validation")
)

// Config checks an environment the way the service would at start: every
// name must be a setting and every value must pass its validation. Problems
// name the field (where, e.g. "env") and the variable.
func (s Service) Config(where string, env []EnvVar) (app.Config, []error) {
	var errs problems
	values := map[string]string{}
	for i, e := range env {
		if !slices.Contains(s.Settings, e.Name) {
			errs.add(ruleEnvName, fmt.Sprintf("%s[%d].name", where, i), "%s is not a setting `server help` lists", e.Name)
		}
		values[e.Name] = e.Value
	}
	cfg, err := app.LoadConfig(func(name string) (string, bool) { v, ok := values[name]; return v, ok })
	if err != nil {
		field := where
		var ce *app.ConfigError
		if errors.As(err, &ce) {
			field = fmt.Sprintf("%s[%d].value", where, slices.IndexFunc(env, func(e EnvVar) bool { return e.Name == ce.Name }))
		}
		errs.add(ruleEnvValue, field, "the service refuses it: %v", err)
	}
	return cfg, errs
}

// EnvVar is one environment variable of a container.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func bakePlatforms(path string) ([]string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "variable" || len(b.Labels) != 1 || b.Labels[0] != "PLATFORMS" {
			continue
		}
		attr, ok := b.Body.Attributes["default"]
		if !ok {
			break
		}
		v, diags := attr.Expr.Value(nil)
		if diags.HasErrors() {
			return nil, diags
		}
		return strings.Split(v.AsString(), ","), nil
	}
	return nil, fmt.Errorf("%s: no default for variable PLATFORMS", path)
}

// dockerfileRuntime reads USER and the exec-form ENTRYPOINT of the last
// stage (the image).
func dockerfileRuntime(path string) (user string, entrypoint []string, err error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	for line := range strings.Lines(string(src)) {
		instr, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			user, entrypoint = "", nil
		case "USER":
			user = strings.TrimSpace(arg)
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(arg), &entrypoint); err != nil {
				return "", nil, fmt.Errorf("%s: ENTRYPOINT is not in exec form: %v", path, err)
			}
		}
	}
	if user == "" || len(entrypoint) == 0 {
		return "", nil, fmt.Errorf("%s: the last stage has no USER or ENTRYPOINT", path)
	}
	return user, entrypoint, nil
}

// measuredPeakRSS is the peak RSS after load of the service as shipped
// (server "a" of scripts/bench/run).
func measuredPeakRSS(path string) (float64, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var results struct {
		Service struct {
			Data struct {
				Memory []struct {
					Server  string  `json:"server"`
					PeakRSS float64 `json:"peak_rss_mib"`
				} `json:"memory"`
			} `json:"data"`
		} `json:"service"`
	}
	if err := json.Unmarshal(src, &results); err != nil {
		return 0, fmt.Errorf("%s: %v", path, err)
	}
	for _, m := range results.Service.Data.Memory {
		if m.Server == "a" && m.PeakRSS > 0 {
			return m.PeakRSS, nil
		}
	}
	return 0, fmt.Errorf("%s: no peak RSS for the service as shipped (server a)", path)
}

// measuredConnRSS reads the benchmark's connections section.
func measuredConnRSS(path string) ([]ConnRSS, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var results struct {
		Connections struct {
			Data struct {
				RSS []ConnRSS `json:"rss"`
			} `json:"data"`
		} `json:"connections"`
	}
	if err := json.Unmarshal(src, &results); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(results.Connections.Data.RSS) == 0 {
		return nil, fmt.Errorf("%s: no connections.data.rss (scripts/bench/run --only connections)", path)
	}
	return results.Connections.Data.RSS, nil
}

// metricsPort is the port of a METRICS_ADDR value (0: metrics off).
func metricsPort(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}

// memoryHeadroom is how much more than the measured RSS at MAX_CONNS a
// memory limit must allow: the kernel's socket buffers, the page cache of
// the binary and the Go heap's growth between two collections also count
// against a cgroup's limit, and the benchmark idles its connections.
const memoryHeadroom = 1.5

// MemoryNeeded is the least memory limit (MiB) for a container with cfg:
// memoryHeadroom times the RSS at its MAX_CONNS and REDUCE_MEMORY_USAGE.
func (s Service) MemoryNeeded(cfg app.Config) (mib float64, why string, err error) {
	rss, how, err := s.RSSAt(cfg.MaxConns, cfg.ReduceMemoryUsage)
	if err != nil {
		return 0, "", err
	}
	return memoryHeadroom * rss, fmt.Sprintf("%.1f × the RSS at MAX_CONNS=%d with REDUCE_MEMORY_USAGE=%t, %.1f MiB (%s)",
		memoryHeadroom, cfg.MaxConns, cfg.ReduceMemoryUsage, rss, how), nil
}
