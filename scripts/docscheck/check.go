package docscheck

import (
	"cmp"
	"fmt"
	"maps"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// problem is one name of a page that does not exist.
type problem struct {
	page string
	line int
	msg  string
}

func (p problem) String() string { return fmt.Sprintf("%s:%d: %s", p.page, p.line, p.msg) }

// notEnvironment lists the words in the shape of an environment variable
// that the pages use for something else.
var notEnvironment = map[string]string{
	"CAPABILITY_IAM": "a CloudFormation capability (aws cloudformation deploy --capabilities)",
	"SYS_PTRACE":     "a Linux capability (the one Fargate lets a task add)",
}

// skipPathMarks: a word holding one of these is a placeholder or a glob
// (dist/<os>_<arch>/server, task-definition-*.json, …/app.version), not a
// path that can be looked up.
const skipPathMarks = "<>*…?"

// bakeValueFlags are the docker buildx bake flags that take a value as the
// next word; any other word starting with - is a flag alone.
var bakeValueFlags = map[string]bool{
	"-f": true, "--file": true, "--set": true, "--builder": true, "--metadata-file": true,
	"--progress": true, "--allow": true, "--call": true, "--list": true, "--provenance": true, "--sbom": true,
}

// curlValueFlags are the curl flags whose value is the next word.
var curlValueFlags = map[string]bool{
	"-H": true, "--header": true, "-X": true, "--request": true, "-d": true, "--data": true,
	"-o": true, "--output": true, "-w": true, "--write-out": true, "-m": true, "--max-time": true,
	"-u": true, "--user": true, "-A": true, "--user-agent": true,
}

var (
	httpMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}
	// A URL to the service's or the metrics port (PORT's default, the
	// manifests' METRICS_ADDR), or to HOST:PORT.
	servicePortURL = regexp.MustCompile(`:(?:8080|9090|PORT)(/[^\s"'<>)\]` + "`" + `]*)`)
	routeShape     = regexp.MustCompile(`^/[A-Za-z0-9._~:/?=&%-]*$`)
	urlScheme      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	githubLine     = regexp.MustCompile(`^L\d+(-L\d+)?$`)
	envRef         = regexp.MustCompile(`\$\{?([A-Z][A-Z0-9_]*)`)
)

// checker checks one page; counts says how many names of each kind it
// checked, so that a test can tell a page with nothing to check.
type checker struct {
	page     page
	repo     *repo
	problems []problem
	counts   map[string]int
	tabled   map[[2]int]bool // the spans a table check already judged: line, start
}

func check(p page, r *repo) ([]problem, map[string]int) {
	c := &checker{page: p, repo: r, counts: map[string]int{}, tabled: map[[2]int]bool{}}
	c.checkLinks()
	c.checkTables()
	for _, u := range p.units() {
		c.checkUnit(u)
	}
	// By line, and the same problem found twice on a line (a route in a
	// curl URL to the service's port) reported once.
	slices.SortFunc(c.problems, func(a, b problem) int { return cmp.Or(a.line-b.line, strings.Compare(a.msg, b.msg)) })
	return slices.Compact(c.problems), c.counts
}

func (c *checker) report(line int, format string, args ...any) {
	c.problems = append(c.problems, problem{c.page.name, line, fmt.Sprintf(format, args...)})
}

// 1. Links and anchors.
func (c *checker) checkLinks() {
	links, undefined := c.page.links()
	for _, l := range undefined {
		c.report(l.line, "reference link [%s] has no definition ([%s]: target)", l.target, l.target)
	}
	for _, l := range links {
		c.checkLink(l)
	}
}

func (c *checker) checkLink(l link) {
	if urlScheme.MatchString(l.target) || strings.HasPrefix(l.target, "//") {
		return
	}
	c.counts["links"]++
	target, anchor, hasAnchor := strings.Cut(l.target, "#")
	target, _, _ = strings.Cut(target, "?")
	if t, err := url.PathUnescape(target); err == nil {
		target = t
	}
	name := c.page.name
	if target != "" {
		if strings.HasPrefix(target, "/") {
			name = path.Clean(target[1:])
		} else {
			name = path.Join(path.Dir(c.page.name), target)
		}
		if name == ".." || strings.HasPrefix(name, "../") {
			c.report(l.line, "link %q leaves the repository", l.target)
			return
		}
		isDir := c.repo.dirs[name] || name == "."
		switch {
		case strings.HasSuffix(target, "/") && !isDir:
			c.report(l.line, "link %q: %s is not a directory of the repository%s", l.target, name, c.nearby(name))
			return
		case !isDir && !c.repo.files[name]:
			c.report(l.line, "link %q: %s does not exist in the repository%s", l.target, name, c.nearby(name))
			return
		}
		if !hasAnchor {
			return
		}
		if path.Ext(name) != ".md" {
			if !githubLine.MatchString(anchor) {
				c.report(l.line, "link %q: anchor #%s on %s, which is not a Markdown page (only #L12 or #L12-L20 line anchors)", l.target, anchor, name)
			}
			return
		}
	}
	if !hasAnchor {
		return
	}
	c.counts["anchors"]++
	if a, err := url.PathUnescape(anchor); err == nil {
		anchor = a
	}
	anchors, err := c.repo.anchors(name)
	if name == c.page.name {
		anchors, err = c.page.anchors(), nil
	}
	if err != nil {
		c.report(l.line, "link %q: %v", l.target, err)
		return
	}
	if !anchors[anchor] {
		c.report(l.line, "link %q: %s has no heading with anchor #%s%s", l.target, name, anchor, didYouMean(anchor, slices.Sorted(maps.Keys(anchors))))
	}
}

// nearby lists what the deepest existing folder of a missing path holds.
func (c *checker) nearby(name string) string {
	dir := path.Dir(name)
	for dir != "." && !c.repo.dirs[dir] {
		dir = path.Dir(dir)
	}
	var in []string
	for _, set := range []map[string]bool{c.repo.files, c.repo.dirs} {
		for n := range set {
			if path.Dir(n) == dir {
				in = append(in, path.Base(n))
			}
		}
	}
	slices.Sort(in)
	where := dir + "/"
	if dir == "." {
		where = "the top folder"
	}
	return fmt.Sprintf(" (%s holds: %s)", where, strings.Join(in, ", "))
}

// 3, 4, 5: the tables of targets, variables and endpoints.
func (c *checker) checkTables() {
	for _, t := range c.page.tables() {
		if len(t.header) == 0 {
			continue
		}
		switch {
		case t.header[0] == "target":
			for _, r := range t.rows {
				for _, s := range firstCell(r) {
					c.tabled[[2]int{r.line.num, s.start}] = true
					c.checkTarget(r.line.num, s.text)
				}
			}
		case t.header[0] == "variable":
			c.checkVariableTable(t)
		case t.header[0] == "method" && len(t.header) > 1 && t.header[1] == "path":
			for _, r := range t.rows {
				if len(r.cells) > 1 {
					for _, s := range r.cells[1] {
						c.tabled[[2]int{r.line.num, s.start}] = true
						c.checkEndpoint(r.line.num, s.text)
					}
				}
			}
		}
	}
}

func firstCell(r row) []span {
	if len(r.cells) == 0 {
		return nil
	}
	return r.cells[0]
}

// checkVariableTable: a table of the service's settings (most of its names
// are settings) lists exactly `server help`'s, in its order; any other
// variable table lists bake variables only.
func (c *checker) checkVariableTable(t table) {
	type named struct {
		line int
		name string
	}
	var names []named
	settings := 0
	for _, r := range t.rows {
		for _, s := range firstCell(r) {
			c.tabled[[2]int{r.line.num, s.start}] = true
			names = append(names, named{r.line.num, s.text})
			if slices.Contains(c.repo.settings, s.text) {
				settings++
			}
		}
	}
	if len(names) == 0 {
		return
	}
	headerLine := t.rows[0].line.num - 2
	if settings*2 <= len(names) {
		for _, n := range names {
			c.counts["bake variables"]++
			if !slices.Contains(c.repo.bakeVars, n.name) {
				c.report(n.line, "bake variable %q is not in docker-bake.hcl%s (variables: %s)", n.name, didYouMean(n.name, c.repo.bakeVars), strings.Join(c.repo.bakeVars, ", "))
			}
		}
		return
	}
	c.counts["settings tables"]++
	var listed []string
	for _, n := range names {
		c.counts["settings"]++
		if !slices.Contains(c.repo.settings, n.name) {
			c.report(n.line, "settings table: %q is not a setting of `server help`%s", n.name, didYouMean(n.name, c.repo.settings))
			continue
		}
		listed = append(listed, n.name)
	}
	for i, s := range c.repo.settings {
		if !slices.Contains(listed, s) {
			after := "first"
			if i > 0 {
				after = "after " + c.repo.settings[i-1]
			}
			c.report(headerLine, "settings table: %s is missing (`server help` lists it %s)", s, after)
		}
	}
	var inHelp []string
	for _, s := range c.repo.settings {
		if slices.Contains(listed, s) {
			inHelp = append(inHelp, s)
		}
	}
	if !slices.Equal(listed, inHelp) {
		for i := range listed {
			if listed[i] != inHelp[i] {
				for _, n := range names {
					if n.name == listed[i] {
						c.report(n.line, "settings table: %s is out of order: `server help` lists %s here (order: %s)", listed[i], inHelp[i], strings.Join(c.repo.settings, ", "))
						break
					}
				}
				break
			}
		}
	}
}

// checkUnit checks one inline code span or code block line.
func (c *checker) checkUnit(u unit) {
	c.checkPaths(u)
	for _, cmd := range commands(u.text) {
		c.checkCommand(u, cmd)
	}
	c.checkUnitEndpoints(u)
	if !u.inline || c.tabled[[2]int{u.line, u.span.start}] {
		return
	}
	if envName.MatchString(u.text) {
		c.checkEnv(u.line, u.text)
	}
	// $NAME and ${NAME...} in inline code name a variable too (in code
	// blocks they may be the shell's own, such as $URL).
	for _, m := range envRef.FindAllStringSubmatch(u.text, -1) {
		c.checkEnv(u.line, m[1])
	}
}

// 2. Paths of the repository: words whose first segment is a top-level
// entry of the tree, with a / or naming a top-level file.
func (c *checker) checkPaths(u unit) {
	words := strings.FieldsFunc(u.text, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune("\"'()[]{},;|&=$`", r)
	})
	for _, w := range words {
		if strings.ContainsAny(w, skipPathMarks) || strings.Contains(w, "...") {
			continue
		}
		w, _, _ = strings.Cut(w, "#")
		w = strings.TrimRight(w, ".:;!")
		w = strings.TrimPrefix(w, "./")
		first, rest, hasSlash := strings.Cut(w, "/")
		if !c.repo.top[first] || !hasSlash && !c.repo.files[w] {
			continue
		}
		if c.repo.files[first] && rest != "" {
			// No path goes through a file: go.mod/go.sum is "go.mod or go.sum".
			for _, alt := range strings.Split(w, "/") {
				c.checkPath(u.line, alt)
			}
			continue
		}
		c.checkPath(u.line, w)
	}
}

func (c *checker) checkPath(line int, w string) {
	c.counts["paths"]++
	name := path.Clean(w)
	switch {
	case strings.HasSuffix(w, "/") && !c.repo.dirs[name]:
		c.report(line, "path %q is not a directory of the repository%s", w, c.nearby(name))
	case !c.repo.files[name] && !c.repo.dirs[name]:
		c.report(line, "path %q does not exist in the repository%s", w, c.nearby(name))
	}
}

// 3. docker buildx bake and scripts/build-image command lines; 4. the
// variables other commands export or an inline span sets.
func (c *checker) checkCommand(u unit, cmd command) {
	bake := -1
	switch {
	case len(cmd.args) >= 3 && cmd.args[0] == "docker" && cmd.args[1] == "buildx" && cmd.args[2] == "bake":
		bake = 3
	case len(cmd.args) >= 2 && cmd.args[0] == "buildx" && cmd.args[1] == "bake":
		bake = 2
	}
	buildImage := len(cmd.args) > 0 && path.Clean(cmd.args[0]) == "scripts/build-image"
	for _, name := range cmd.assigns {
		switch {
		case bake >= 0:
			c.counts["bake variables"]++
			if !slices.Contains(c.repo.bakeVars, name) {
				c.report(u.line, "%s=… on a docker buildx bake line: %q is not a variable of docker-bake.hcl%s (variables: %s)", name, name, didYouMean(name, c.repo.bakeVars), strings.Join(c.repo.bakeVars, ", "))
			}
		case buildImage:
			c.counts["bake variables"]++
			if _, tool := c.repo.toolVars[name]; !tool && !slices.Contains(c.repo.bakeVars, name) {
				c.report(u.line, "%s=… on a scripts/build-image line: %q is neither a variable of docker-bake.hcl nor one a script reads%s", name, name, didYouMean(name, append(slices.Clone(c.repo.bakeVars), c.toolNames()...)))
			}
		case (cmd.export || u.inline) && bareName.MatchString(name):
			c.checkEnv(u.line, name)
		}
	}
	if bake < 0 {
		return
	}
	for i := bake; i < len(cmd.args); i++ {
		a := cmd.args[i]
		if strings.HasPrefix(a, "-") {
			if a == "--set" && i+1 < len(cmd.args) {
				// --set TARGET.key=value (a * pattern names no one target)
				if t, _, ok := strings.Cut(cmd.args[i+1], "."); ok && !strings.Contains(t, "*") {
					c.checkTarget(u.line, t)
				}
			}
			if bakeValueFlags[a] {
				i++
			}
			continue
		}
		c.checkTarget(u.line, a)
	}
}

func (c *checker) checkTarget(line int, name string) {
	c.counts["bake targets"]++
	if slices.Contains(c.repo.targets, name) {
		return
	}
	for _, m := range c.repo.matrixTargets {
		if strings.HasPrefix(name, m+"-") {
			return
		}
	}
	var public []string
	for _, t := range c.repo.targets {
		if !strings.HasPrefix(t, "_") {
			public = append(public, t)
		}
	}
	c.report(line, "bake target %q is not in docker-bake.hcl%s (targets and groups: %s)", name, didYouMean(name, public), strings.Join(public, ", "))
}

// 4. An environment variable: a setting, a bake variable or one a script
// reads.
func (c *checker) checkEnv(line int, name string) {
	if _, other := notEnvironment[name]; other {
		return
	}
	c.counts["environment variables"]++
	if _, tool := c.repo.toolVars[name]; tool || slices.Contains(c.repo.settings, name) || slices.Contains(c.repo.bakeVars, name) {
		return
	}
	all := append(append(slices.Clone(c.repo.settings), c.repo.bakeVars...), c.toolNames()...)
	c.report(line, "environment variable %q is not a setting of `server help`, a variable of docker-bake.hcl or one a script reads%s", name, didYouMean(name, all))
}

func (c *checker) toolNames() []string { return slices.Sorted(maps.Keys(c.repo.toolVars)) }

// 5. Endpoints: after an HTTP method, in a curl URL or a URL to the
// service's port, and an inline span that is one path starting like a route.
func (c *checker) checkUnitEndpoints(u unit) {
	seen := map[string]bool{}
	endpoint := func(p string) {
		if !seen[p] {
			seen[p] = true
			c.checkEndpoint(u.line, p)
		}
	}
	f := strings.Fields(u.text)
	for i := 0; i+1 < len(f); i++ {
		if next := strings.Trim(f[i+1], `"'`); httpMethods[f[i]] && (strings.HasPrefix(next, "/") || strings.Contains(next, "://")) {
			endpoint(urlPath(next))
		}
	}
	for _, cmd := range commands(u.text) {
		if len(cmd.args) == 0 || cmd.args[0] != "curl" {
			continue
		}
		for i := 1; i < len(cmd.args); i++ {
			a := cmd.args[i]
			if strings.HasPrefix(a, "-") {
				if curlValueFlags[a] {
					i++
				}
				continue
			}
			if strings.Contains(a, "://") || strings.HasPrefix(a, "$") || strings.HasPrefix(a, "localhost") || strings.HasPrefix(a, "127.0.0.1") {
				endpoint(urlPath(a))
			}
		}
	}
	for _, m := range servicePortURL.FindAllStringSubmatch(u.text, -1) {
		endpoint(m[1])
	}
	if u.inline && !c.tabled[[2]int{u.line, u.span.start}] && routeShape.MatchString(u.text) && !seen[u.text] && c.startsLikeRoute(u.text) {
		endpoint(u.text)
	}
}

// startsLikeRoute: an inline path is taken for an endpoint when it is / or
// its first segment is that of a route, or within 2 edits of one (a stale or
// mistyped route is a near miss); /proc/1/status, /tmp or /users/:id are not.
func (c *checker) startsLikeRoute(p string) bool {
	if p == "/" {
		return true
	}
	first := strings.Split(strings.TrimPrefix(p, "/"), "/")[0]
	first, _, _ = strings.Cut(first, "?")
	for _, r := range c.repo.routes {
		if rf := strings.Split(strings.TrimPrefix(r, "/"), "/")[0]; rf != "" && distance(first, rf) <= 2 {
			return true
		}
	}
	return false
}

// urlPath is the path of a URL (scheme and host dropped; a $VAR host too).
func urlPath(u string) string {
	if _, rest, ok := strings.Cut(u, "://"); ok {
		u = rest
	}
	if strings.HasPrefix(u, "/") {
		return u
	}
	if i := strings.IndexByte(u, '/'); i >= 0 {
		return u[i:]
	}
	return "/"
}

func (c *checker) checkEndpoint(line int, p string) {
	p, _, _ = strings.Cut(p, "?")
	p, _, _ = strings.Cut(p, "#")
	p = strings.TrimRight(p, ".,:;")
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	c.counts["endpoints"]++
	for _, r := range c.repo.routes {
		if matchRoute(r, p) {
			return
		}
	}
	c.report(line, "endpoint %q is not a route of the service%s (app/routes.go with DEBUG_ROUTES on, and %s on METRICS_ADDR: %s)", p, didYouMean(p, c.repo.routes), metricsPath, strings.Join(c.repo.routes, ", "))
}

// matchRoute matches a path against a Fiber route pattern (:param, *).
func matchRoute(pattern, p string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(p, "/")
	for i, s := range ps {
		switch {
		case s == "*":
			return true
		case i >= len(xs):
			return false
		case strings.HasPrefix(s, ":"):
			if xs[i] == "" {
				return false
			}
		case s != xs[i]:
			return false
		}
	}
	return len(ps) == len(xs)
}

// didYouMean names the closest candidate, when one is close.
func didYouMean(name string, candidates []string) string {
	best, bestD := "", len(name)/2+1
	for _, c := range candidates {
		if d := distance(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(": did you mean %q?", best)
}

// distance is the Levenshtein distance of two strings.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
