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
//go:embed ecs/*.json k8s
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
	Defaults   app.Config // the configuration with an empty environment
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
	s.PeakRSSMiB, err = measuredPeakRSS(filepath.Join(root, "docs", "bench-results.json"))
	return s, err
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

// Config checks an environment the way the service would at start: every
// name must be a setting and every value must pass its validation. Problems
// name the field (where, e.g. "env") and the variable.
func (s Service) Config(where string, env []EnvVar) (app.Config, []error) {
	var errs []error
	values := map[string]string{}
	for i, e := range env {
		if !slices.Contains(s.Settings, e.Name) {
			errs = append(errs, fmt.Errorf("%s[%d].name: %s is not a setting `server help` lists", where, i, e.Name))
		}
		values[e.Name] = e.Value
	}
	cfg, err := app.LoadConfig(func(name string) (string, bool) { v, ok := values[name]; return v, ok })
	if err != nil {
		var ce *app.ConfigError
		if errors.As(err, &ce) {
			i := slices.IndexFunc(env, func(e EnvVar) bool { return e.Name == ce.Name })
			err = fmt.Errorf("%s[%d].value: the service refuses it: %w", where, i, err)
		}
		errs = append(errs, err)
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

// metricsPort is the port of a METRICS_ADDR value (0: metrics off).
func metricsPort(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}
