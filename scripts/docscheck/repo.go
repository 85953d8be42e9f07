package docscheck

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/example/fiber-service/app"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// metricsPath is served by the metrics listener (METRICS_ADDR, see
// app/metrics.go), not by the route table.
const metricsPath = "/metrics"

// repo is what the pages are held to, read from the repository itself.
type repo struct {
	files, dirs map[string]bool // the tree, slash-separated paths from its top
	top         map[string]bool // the tree's top-level entries
	read        func(name string) (string, error)

	targets       []string          // docker-bake.hcl's target and group labels
	matrixTargets []string          // targets with a matrix: bake names each LABEL-...
	bakeVars      []string          // docker-bake.hcl's variables
	settings      []string          // the service's settings, in `server help` order
	toolVars      map[string]string // variables a script, .ci/run or the Dockerfile reads or sets: where
	routes        []string          // every GET path with DEBUG_ROUTES on, and metricsPath

	anchorCache map[string]map[string]bool
}

func (r *repo) addFile(name string) {
	r.files[name] = true
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		r.dirs[d] = true
	}
	r.top[strings.Split(name, "/")[0]] = true
}

// loadRepo reads the repository whose top folder is root.
func loadRepo(root string) (*repo, error) {
	r := &repo{
		files: map[string]bool{}, dirs: map[string]bool{}, top: map[string]bool{},
		read: func(name string) (string, error) {
			b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
			return string(b), err
		},
	}
	// The tree is what git would commit: tracked files and untracked ones
	// not ignored (so a build output such as dist/ is never part of it).
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files in %s: %v", root, err)
	}
	for name := range strings.SplitSeq(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if _, err := os.Lstat(filepath.Join(root, name)); err == nil {
			r.addFile(name)
		}
	}
	bake, err := r.read("docker-bake.hcl")
	if err != nil {
		return nil, err
	}
	if err := r.loadBake(bake); err != nil {
		return nil, err
	}
	if r.settings, err = serverHelpSettings(root); err != nil {
		return nil, err
	}
	if names := app.SettingNames(); !slices.Equal(names, r.settings) {
		return nil, fmt.Errorf("`server help` lists %v, app.SettingNames() %v", r.settings, names)
	}
	if r.toolVars, err = r.scriptVariables(); err != nil {
		return nil, err
	}
	r.routes = append(app.AllRoutePaths(), metricsPath)
	return r, nil
}

// loadBake reads the labels of the bake file's blocks (syntax only: the
// names are literal labels, nothing needs evaluating).
func (r *repo) loadBake(src string) error {
	f, diags := hclsyntax.ParseConfig([]byte(src), "docker-bake.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return diags
	}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if len(b.Labels) != 1 {
			continue
		}
		switch b.Type {
		case "variable":
			r.bakeVars = append(r.bakeVars, b.Labels[0])
		case "group":
			r.targets = append(r.targets, b.Labels[0])
		case "target":
			r.targets = append(r.targets, b.Labels[0])
			if _, ok := b.Body.Attributes["matrix"]; ok {
				r.matrixTargets = append(r.matrixTargets, b.Labels[0])
			}
		}
	}
	if len(r.targets) == 0 || len(r.bakeVars) == 0 {
		return fmt.Errorf("docker-bake.hcl: no target or no variable block")
	}
	return nil
}

// serverHelpSettings builds the program and reads the variables `server
// help` lists: what users see.
func serverHelpSettings(root string) ([]string, error) {
	dir, err := os.MkdirTemp("", "docscheck")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "server")
	build := exec.Command("go", "build", "-o", bin, "./app/cmd/server")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./app/cmd/server: %v\n%s", err, out)
	}
	help, err := exec.Command(bin, "help").Output()
	if err != nil {
		return nil, fmt.Errorf("server help: %v", err)
	}
	var names []string
	inEnv := false
	for sc := bufio.NewScanner(bytes.NewReader(help)); sc.Scan(); {
		l := sc.Text()
		if strings.HasPrefix(l, "Environment") {
			inEnv = true
			continue
		}
		if f := strings.Fields(l); inEnv && strings.HasPrefix(l, "  ") && len(f) > 0 && bareName.MatchString(f[0]) {
			names = append(names, f[0])
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("server help lists no variable:\n%s", help)
	}
	return names, nil
}

var (
	envName  = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)
	bareName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	// How our shell scripts read an optional input (${NAME:-default} and
	// the like) and hand one to the tools they run (export NAME=...).
	shellReads   = regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*):?[-=?+]`)
	shellExports = regexp.MustCompile(`(?m)^\s*export\s+([A-Z][A-Z0-9_]*)=`)
	// The Dockerfile's build arguments and the variables its steps set or
	// read (BuildKit's own, such as $BUILDPLATFORM, included).
	dockerfileVars = regexp.MustCompile(`(?m)^ARG\s+([A-Z][A-Z0-9_]*)|\b([A-Z][A-Z0-9_]*)=|\$\{?([A-Z][A-Z0-9_]*)`)
)

// scriptVariables collects the environment variables the scripts (shell
// files under scripts/ and .ci/) read or set, and the Dockerfile's.
func (r *repo) scriptVariables() (map[string]string, error) {
	vars := map[string]string{}
	add := func(name, where string) {
		if _, ok := vars[name]; !ok && name != "" {
			vars[name] = where
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.files)) {
		if !strings.HasPrefix(name, "scripts/") && !strings.HasPrefix(name, ".ci/") && name != "Dockerfile" {
			continue
		}
		src, err := r.read(name)
		if err != nil {
			return nil, err
		}
		if name == "Dockerfile" {
			for _, m := range dockerfileVars.FindAllStringSubmatch(src, -1) {
				add(m[1]+m[2]+m[3], name)
			}
			continue
		}
		first, _, _ := strings.Cut(src, "\n")
		if !strings.HasSuffix(name, ".sh") && !(strings.HasPrefix(first, "#!") && strings.HasSuffix(first, "sh")) {
			continue
		}
		for _, m := range shellReads.FindAllStringSubmatch(src, -1) {
			add(m[1], name)
		}
		for _, m := range shellExports.FindAllStringSubmatch(src, -1) {
			add(m[1], name)
		}
	}
	return vars, nil
}

// anchors of a Markdown file of the tree.
func (r *repo) anchors(name string) (map[string]bool, error) {
	if a, ok := r.anchorCache[name]; ok {
		return a, nil
	}
	src, err := r.read(name)
	if err != nil {
		return nil, err
	}
	if r.anchorCache == nil {
		r.anchorCache = map[string]map[string]bool{}
	}
	r.anchorCache[name] = parsePage(name, src).anchors()
	return r.anchorCache[name], nil
}

// pages lists README.md and docs/*.md.
func (r *repo) pages() []string {
	var out []string
	for name := range r.files {
		if name == "README.md" || path.Dir(name) == "docs" && path.Ext(name) == ".md" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
