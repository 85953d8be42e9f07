// Package workflows holds the rules that .github/workflows must keep, beyond
// what actionlint checks (syntax, expressions, the run: scripts): the order
// of the release, who may write what, pinned actions, the cache the release
// reads, the gates that must not be bypassed. Workflows are read with
// actionlint's own parser, the same one scripts/lint-workflows runs.
//
// Each problem is one line naming the file, the job and the key, e.g.
//
//	release.yml: job "merge": needs: does not lead to job "scan" (anchore/scan-action): tags would move before the scan
package workflows

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/rhysd/actionlint"
)

// Set is the workflows of one directory, by file name, with their lines.
type Set struct {
	Workflows map[string]*actionlint.Workflow
	Lines     map[string][]string
}

// Repo is what the rules need from outside .github/workflows.
type Repo struct {
	CosignVersion    string   // scripts/lib/cosign.sh: the cosign the e2e test signs with
	DefaultPlatforms []string // docker-bake.hcl: PLATFORMS' default
}

// Load parses every *.yml and *.yaml file of dir.
func Load(dir string) (*Set, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	if err != nil {
		return nil, err
	}
	s := &Set{Workflows: map[string]*actionlint.Workflow{}, Lines: map[string][]string{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		w, errs := actionlint.Parse(b)
		if len(errs) > 0 {
			return nil, fmt.Errorf("%s: %s", f, errs[0].Error())
		}
		name := filepath.Base(f)
		s.Workflows[name] = w
		s.Lines[name] = strings.Split(string(b), "\n")
	}
	if len(s.Workflows) == 0 {
		return nil, fmt.Errorf("%s: no workflow files", dir)
	}
	return s, nil
}

// LoadRepo reads the cosign version and the default platforms from the
// repository at root.
func LoadRepo(root string) (Repo, error) {
	var r Repo
	b, err := os.ReadFile(filepath.Join(root, "scripts/lib/cosign.sh"))
	if err != nil {
		return r, err
	}
	m := regexp.MustCompile(`(?m)^cosign_version\(\) \{ echo (v[0-9.]+); \}`).FindSubmatch(b)
	if m == nil {
		return r, fmt.Errorf("scripts/lib/cosign.sh: no cosign_version() { echo vX.Y.Z; }")
	}
	r.CosignVersion = string(m[1])
	b, err = os.ReadFile(filepath.Join(root, "docker-bake.hcl"))
	if err != nil {
		return r, err
	}
	m = regexp.MustCompile(`(?s)variable "PLATFORMS" \{\s*default\s*=\s*"([^"]*)"`).FindSubmatch(b)
	if m == nil {
		return r, fmt.Errorf("docker-bake.hcl: no default of variable PLATFORMS")
	}
	r.DefaultPlatforms = splitPlatforms(string(m[1]))
	return r, nil
}

func splitPlatforms(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Rules are the rules, by name.
var Rules = []struct {
	Name  string
	Check func(*Set, Repo) []string
}{
	{"pinnedActions", pinnedActions},
	{"oneVersionPerAction", oneVersionPerAction},
	{"releaseOrder", releaseOrder},
	{"ciCalledAndMerges", ciCalledAndMerges},
	{"permissions", permissions},
	{"scanGates", scanGates},
	{"tagMoves", tagMoves},
	{"cosignVersion", cosignVersion},
	{"bakeProvenance", bakeProvenance},
	{"ghaCacheWrittenOnDefaultBranch", ghaCacheWrittenOnDefaultBranch},
	{"noDuplicateRuns", noDuplicateRuns},
}

// Check runs every rule and returns the problems, sorted.
func Check(s *Set, r Repo) []string {
	var problems []string
	for _, rule := range Rules {
		problems = append(problems, rule.Check(s, r)...)
	}
	sort.Strings(problems)
	return problems
}

// --- walking the workflows ----------------------------------------------------

// step is one step of one job of one workflow.
type step struct {
	file, jobID string
	job         *actionlint.Job
	index       int
	*actionlint.Step
}

func (s step) where() string {
	what := fmt.Sprintf("step %d", s.index+1)
	if s.Name != nil {
		what = fmt.Sprintf("step %q", s.Name.Value)
	} else if a := s.action(); a != "" {
		what = fmt.Sprintf("step %d (%s)", s.index+1, a)
	}
	return fmt.Sprintf("%s: job %q: %s", s.file, s.jobID, what)
}

// action is the step's uses: without its @ref, "" for a run: step.
func (s step) action() string {
	if e, ok := s.Exec.(*actionlint.ExecAction); ok && e.Uses != nil {
		return strings.SplitN(e.Uses.Value, "@", 2)[0]
	}
	return ""
}

func (s step) input(name string) string {
	if e, ok := s.Exec.(*actionlint.ExecAction); ok {
		if in := e.Inputs[name]; in != nil && in.Value != nil {
			return in.Value.Value
		}
	}
	return ""
}

func (s step) run() string {
	if e, ok := s.Exec.(*actionlint.ExecRun); ok && e.Run != nil {
		return e.Run.Value
	}
	return ""
}

func (s step) env(name string) (string, bool) {
	if s.Env == nil {
		return "", false
	}
	if v := s.Env.Vars[strings.ToLower(name)]; v != nil && v.Value != nil {
		return v.Value.Value, true
	}
	return "", false
}

// steps lists every step of a workflow, in file order of jobs then steps.
func (s *Set) steps(file string) []step {
	var out []step
	for _, id := range s.jobIDs(file) {
		job := s.Workflows[file].Jobs[id]
		for i, st := range job.Steps {
			out = append(out, step{file, id, job, i, st})
		}
	}
	return out
}

// jobIDs: the jobs of a workflow in the order of the file.
func (s *Set) jobIDs(file string) []string {
	w := s.Workflows[file]
	if w == nil {
		return nil
	}
	var ids []string
	for id := range w.Jobs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return w.Jobs[ids[i]].Pos.IsBefore(w.Jobs[ids[j]].Pos) })
	return ids
}

// jobsWhere: the IDs of the jobs of file that have a step for which does
// returns true (or, for a reusable-workflow job, whose uses: it returns true for).
func (s *Set) jobsWhere(file string, does func(step) bool) []string {
	var ids []string
	for _, id := range s.jobIDs(file) {
		for _, st := range s.steps(file) {
			if st.jobID == id && does(st) {
				ids = append(ids, id)
				break
			}
		}
	}
	return ids
}

// needsAll: every job a job waits for, directly or not.
func needsAll(w *actionlint.Workflow, id string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(id string) {
		j := w.Jobs[id]
		if j == nil {
			return
		}
		for _, n := range j.Needs {
			if !seen[n.Value] {
				seen[n.Value] = true
				walk(n.Value)
			}
		}
	}
	walk(id)
	return seen
}

// matrixValues: a job's matrix combinations (include: rows), as maps.
func matrixValues(j *actionlint.Job) []map[string]string {
	if j.Strategy == nil || j.Strategy.Matrix == nil || j.Strategy.Matrix.Include == nil {
		return []map[string]string{{}}
	}
	var out []map[string]string
	for _, c := range j.Strategy.Matrix.Include.Combinations {
		m := map[string]string{}
		for k, a := range c.Assigns {
			if v, ok := a.Value.(*actionlint.RawYAMLString); ok {
				m[k] = v.Value
			}
		}
		out = append(out, m)
	}
	return out
}

var matrixRef = regexp.MustCompile(`\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}`)

func expandMatrix(s string, values map[string]string) string {
	return matrixRef.ReplaceAllStringFunc(s, func(ref string) string {
		return values[strings.ToLower(matrixRef.FindStringSubmatch(ref)[1])]
	})
}

// --- roles of the release's jobs ------------------------------------------------

const (
	release = "release.yml"
	ci      = "ci.yml"
)

func isBake(target string) func(step) bool {
	return func(s step) bool {
		return s.action() == "docker/bake-action" && strings.Contains(s.input("targets"), target)
	}
}

// roles: what each kind of job of the release is recognised by.
var roles = []struct {
	name, what string
	does       func(step) bool
}{
	{"build", "docker/bake-action, target image-digest", isBake("image-digest")},
	{"scan", "anchore/scan-action", func(s step) bool { return s.action() == "anchore/scan-action" }},
	{"merge", "scripts/merge-platforms", func(s step) bool { return strings.Contains(s.run(), "scripts/merge-platforms") }},
	{"sign", "cosign sign", func(s step) bool { return strings.Contains(s.run(), "cosign sign") }},
	{"verify", "scripts/verify-image", func(s step) bool { return strings.Contains(s.run(), "scripts/verify-image") }},
}

// releaseJobs: the release's job IDs by role; "ci" is the job that calls
// ci.yml.
func (s *Set) releaseJobs() map[string][]string {
	out := map[string][]string{}
	w := s.Workflows[release]
	if w == nil {
		return out
	}
	for _, id := range s.jobIDs(release) {
		if c := w.Jobs[id].WorkflowCall; c != nil && c.Uses != nil && c.Uses.Value == "./.github/workflows/"+ci {
			out["ci"] = append(out["ci"], id)
		}
	}
	for _, r := range roles {
		out[r.name] = s.jobsWhere(release, r.does)
	}
	return out
}

// --- the rules ----------------------------------------------------------------------

var (
	shaRef         = regexp.MustCompile(`^[0-9a-f]{40}$`)
	versionComment = regexp.MustCompile(`#\s*v\d+(\.\d+)*\s*$`)
)

// pinnedActions: every uses: is a local path or OWNER/REPO@<40-hex commit>,
// with the version as a comment on the line (# vX.Y.Z) for people and
// Dependabot.
func pinnedActions(s *Set, _ Repo) []string {
	var problems []string
	check := func(where string, uses *actionlint.String, file string) {
		if uses == nil || strings.HasPrefix(uses.Value, "./") {
			return
		}
		ref := ""
		if i := strings.LastIndex(uses.Value, "@"); i >= 0 {
			ref = uses.Value[i+1:]
		}
		if !shaRef.MatchString(ref) {
			problems = append(problems, fmt.Sprintf("%s: uses: %s is not pinned to a full commit SHA (40 hex)", where, uses.Value))
			return
		}
		if line := s.Lines[file][uses.Pos.Line-1]; !versionComment.MatchString(line) {
			problems = append(problems, fmt.Sprintf("%s: uses: %s has no version comment (# vX.Y.Z)", where, uses.Value))
		}
	}
	for file := range s.Workflows {
		for _, id := range s.jobIDs(file) {
			if c := s.Workflows[file].Jobs[id].WorkflowCall; c != nil {
				check(fmt.Sprintf("%s: job %q", file, id), c.Uses, file)
			}
		}
		for _, st := range s.steps(file) {
			if e, ok := st.Exec.(*actionlint.ExecAction); ok {
				check(st.where(), e.Uses, file)
			}
		}
	}
	return problems
}

// oneVersionPerAction: an action is used at one commit everywhere.
func oneVersionPerAction(s *Set, _ Repo) []string {
	at := map[string]map[string][]string{} // action -> uses: value -> where
	for file := range s.Workflows {
		for _, st := range s.steps(file) {
			if e, ok := st.Exec.(*actionlint.ExecAction); ok && e.Uses != nil {
				a := st.action()
				if at[a] == nil {
					at[a] = map[string][]string{}
				}
				at[a][e.Uses.Value] = append(at[a][e.Uses.Value], st.where())
			}
		}
	}
	var problems []string
	for a, uses := range at {
		if len(uses) < 2 {
			continue
		}
		var each []string
		for u, where := range uses {
			sort.Strings(where)
			each = append(each, fmt.Sprintf("%s: uses: %s", strings.Join(where, ", "), u))
		}
		sort.Strings(each)
		problems = append(problems, fmt.Sprintf("%s is used at %d versions, want one: %s", a, len(uses), strings.Join(each, "; ")))
	}
	return problems
}

// releaseOrder: ci -> build -> scan -> merge -> sign -> verify, each job
// waiting (needs:, directly or not) for the one before it.
func releaseOrder(s *Set, _ Repo) []string {
	if s.Workflows[release] == nil {
		return []string{release + ": missing"}
	}
	w := s.Workflows[release]
	jobs := s.releaseJobs()
	order := []struct{ role, what, why string }{
		{"ci", "uses: ./.github/workflows/" + ci, ""},
		{"build", "", "a tag would build untested code"},
		{"scan", "", "it would scan nothing"},
		{"merge", "", "tags would move before the scan"},
		{"sign", "", "it would sign before the index exists"},
		{"verify", "", "it would verify before the signature exists"},
	}
	var problems []string
	for _, o := range order {
		if len(jobs[o.role]) == 0 {
			what := o.what
			for _, r := range roles {
				if r.name == o.role {
					what = r.what
				}
			}
			problems = append(problems, fmt.Sprintf("%s: no %s job (%s)", release, o.role, what))
		}
	}
	for i := 1; i < len(order); i++ {
		before, after := order[i-1], order[i]
		for _, id := range jobs[after.role] {
			needs := needsAll(w, id)
			for _, b := range jobs[before.role] {
				if !needs[b] {
					problems = append(problems, fmt.Sprintf("%s: job %q: needs: does not lead to job %q (%s): %s", release, id, b, before.role, after.why))
				}
			}
		}
	}
	return problems
}

// ciCalledAndMerges: ci.yml can be called by the release, and it runs the
// release's merge path on every push: image-digest of every platform into a
// registry service, merged by scripts/merge-platforms.
func ciCalledAndMerges(s *Set, _ Repo) []string {
	w := s.Workflows[ci]
	if w == nil {
		return []string{ci + ": missing"}
	}
	var problems []string
	if _, ok := w.FindWorkflowCallEvent(); !ok {
		problems = append(problems, ci+": on: no workflow_call, so the release cannot run CI first")
	}
	merges := s.jobsWhere(ci, func(st step) bool { return strings.Contains(st.run(), "scripts/merge-platforms") })
	if len(merges) == 0 {
		problems = append(problems, ci+": no job runs scripts/merge-platforms: the release's merge path would first run on a tag")
	}
	for _, id := range merges {
		j := w.Jobs[id]
		if j.Services == nil || j.Services.Value["registry"] == nil {
			problems = append(problems, fmt.Sprintf("%s: job %q: services: no registry service to push to and merge in", ci, id))
		}
		if len(s.jobsWhere(ci, func(st step) bool { return st.jobID == id && isBake("image-digest")(st) })) == 0 {
			problems = append(problems, fmt.Sprintf("%s: job %q: steps: no docker/bake-action of target image-digest before the merge", ci, id))
		}
	}
	return problems
}

// writeScopes: which roles may hold which write permissions.
var writeScopes = map[string][]string{
	"packages":        {"build", "merge", "sign"},
	"id-token":        {"sign"},
	"security-events": {"scan"},
}

// permissions: nothing is written at workflow level; each write permission
// is given, at job level, only to the jobs whose work needs it.
func permissions(s *Set, _ Repo) []string {
	var problems []string
	jobs := s.releaseJobs()
	roleOf := func(file, id string) map[string]bool {
		out := map[string]bool{}
		if file != release {
			return out
		}
		for role, ids := range jobs {
			for _, j := range ids {
				if j == id {
					out[role] = true
				}
			}
		}
		return out
	}
	for file, w := range s.Workflows {
		if w.Permissions == nil {
			problems = append(problems, file+": permissions: not set at workflow level (the default token may write)")
		} else {
			for _, p := range writes(w.Permissions) {
				problems = append(problems, fmt.Sprintf("%s: permissions: %s at workflow level: give write permissions per job", file, p))
			}
		}
		for _, id := range s.jobIDs(file) {
			j := w.Jobs[id]
			if j.Permissions == nil {
				continue
			}
			has := roleOf(file, id)
			for _, p := range writes(j.Permissions) {
				scope := strings.TrimSuffix(p, ": write")
				ok := false
				for _, r := range writeScopes[scope] {
					ok = ok || has[r]
				}
				if !ok {
					problems = append(problems, fmt.Sprintf("%s: job %q: permissions: %s is only for the release's %s jobs",
						file, id, p, strings.Join(orNone(writeScopes[scope]), ", ")))
				}
			}
		}
	}
	return problems
}

func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"(no)"}
	}
	return s
}

// writes: the write grants of a permissions block, as "scope: write".
func writes(p *actionlint.Permissions) []string {
	if p.All != nil {
		if p.All.Value == "write-all" {
			return []string{"write-all: write"}
		}
		return nil
	}
	var out []string
	for name, sc := range p.Scopes {
		if sc.Value != nil && sc.Value.Value == "write" {
			out = append(out, name+": write")
		}
	}
	sort.Strings(out)
	return out
}

// scanGates: Grype fails the job on a fixable critical; the code-scanning
// upload, one category per platform, can never fail the release.
func scanGates(s *Set, _ Repo) []string {
	var problems []string
	want := map[string]string{"fail-build": "true", "only-fixed": "true", "severity-cutoff": "critical"}
	for _, st := range s.steps(release) {
		switch st.action() {
		case "anchore/scan-action":
			for _, k := range []string{"fail-build", "only-fixed", "severity-cutoff"} {
				if got := st.input(k); got != want[k] {
					problems = append(problems, fmt.Sprintf("%s: with: %s: %q, want %q (a fixable critical must stop the release)", st.where(), k, got, want[k]))
				}
			}
		case "github/codeql-action/upload-sarif":
			if st.ContinueOnError == nil || st.ContinueOnError.Value != true || st.ContinueOnError.Expression != nil {
				problems = append(problems, st.where()+": continue-on-error: not true (a private repository without code scanning refuses the upload; that must not stop the release)")
			}
			if !strings.Contains(st.input("category"), "matrix.") {
				problems = append(problems, st.where()+": with: category: not per platform (one platform's report would replace the other's)")
			}
		}
	}
	return problems
}

// tagMoves: the job that moves tags reads every release tag (full history)
// and runs in a concurrency group of its own that spans releases and never
// cancels.
func tagMoves(s *Set, _ Repo) []string {
	var problems []string
	w := s.Workflows[release]
	for _, id := range s.releaseJobs()["merge"] {
		c := w.Jobs[id].Concurrency
		switch {
		case c == nil || c.Group == nil:
			problems = append(problems, fmt.Sprintf("%s: job %q: concurrency: none: two releases would move tags at once", release, id))
		case strings.Contains(c.Group.Value, "github.ref"):
			problems = append(problems, fmt.Sprintf("%s: job %q: concurrency: group %q is per ref: releases of two tags would move tags at once", release, id, c.Group.Value))
		case w.Concurrency != nil && w.Concurrency.Group != nil && w.Concurrency.Group.Value == c.Group.Value:
			problems = append(problems, fmt.Sprintf("%s: job %q: concurrency: group %q is the workflow's own", release, id, c.Group.Value))
		}
		if c != nil && c.CancelInProgress != nil && (c.CancelInProgress.Value || c.CancelInProgress.Expression != nil) {
			problems = append(problems, fmt.Sprintf("%s: job %q: concurrency: cancel-in-progress would cancel a release's tag move", release, id))
		}
		full := false
		for _, st := range s.steps(release) {
			if st.jobID == id && st.action() == "actions/checkout" && st.input("fetch-depth") == "0" {
				full = true
			}
		}
		if !full {
			problems = append(problems, fmt.Sprintf("%s: job %q: steps: no actions/checkout with fetch-depth: 0: the tag rule needs every release tag", release, id))
		}
		if len(s.jobsWhere(release, func(st step) bool { return st.jobID == id && strings.Contains(st.run(), "./tags") })) == 0 {
			problems = append(problems, fmt.Sprintf("%s: job %q: steps: the tags do not come from scripts/release/tags (the tested rule)", release, id))
		}
	}
	return problems
}

// cosignVersion: the cosign the workflows install is the one scripts/e2e
// signs and verifies with.
func cosignVersion(s *Set, r Repo) []string {
	var problems []string
	for file := range s.Workflows {
		for _, st := range s.steps(file) {
			if st.action() != "sigstore/cosign-installer" {
				continue
			}
			if got := st.input("cosign-release"); got != r.CosignVersion {
				problems = append(problems, fmt.Sprintf("%s: with: cosign-release: %q, but scripts/e2e signs with %s (scripts/lib/cosign.sh)", st.where(), got, r.CosignVersion))
			}
		}
	}
	return problems
}

// bakeProvenance: every bake of image-digest sets bake-action's provenance
// input to mode=max (else it forces mode=min in private repositories).
func bakeProvenance(s *Set, _ Repo) []string {
	var problems []string
	for file := range s.Workflows {
		for _, st := range s.steps(file) {
			if isBake("image-digest")(st) && !strings.Contains(st.input("provenance"), "mode=max") {
				problems = append(problems, st.where()+": with: provenance: not mode=max (bake-action sets mode=min in private repositories)")
			}
		}
	}
	return problems
}

// cacheOf: the CACHE a bake step uses: its env, else a CACHE=... written to
// GITHUB_ENV by an earlier run: step of the same job.
func cacheOf(s *Set, st step) string {
	if v, ok := st.env("CACHE"); ok {
		return v
	}
	cache := ""
	setCache := regexp.MustCompile(`(?m)\bCACHE=([^"'\s]+)`)
	for _, prev := range s.steps(st.file) {
		if prev.jobID == st.jobID && prev.index < st.index {
			if m := setCache.FindStringSubmatch(prev.run()); m != nil {
				cache = m[1]
			}
		}
	}
	return cache
}

// ghaScopes: the type=gha scopes a bake step of image-digest reads and
// writes, one per platform (docker-bake.hcl's cache_scope), for each matrix
// combination of its job.
func ghaScopes(s *Set, st step, r Repo) []string {
	var scopes []string
	for _, values := range matrixValues(st.job) {
		platforms := r.DefaultPlatforms
		if v, ok := st.env("PLATFORMS"); ok {
			platforms = splitPlatforms(expandMatrix(v, values))
		}
		for _, p := range platforms {
			scopes = append(scopes, "image-"+strings.ReplaceAll(p, "/", "-"))
		}
	}
	return scopes
}

// onDefaultBranch: whether a workflow runs on pushes to the default branch.
func onDefaultBranch(w *actionlint.Workflow) bool {
	for _, e := range w.On {
		we, ok := e.(*actionlint.WebhookEvent)
		if !ok || we.Hook.Value != "push" {
			continue
		}
		if we.Branches.IsEmpty() && we.BranchesIgnore.IsEmpty() && we.Tags.IsEmpty() {
			return true
		}
		if we.Branches.IsEmpty() {
			continue
		}
		for _, b := range we.Branches.Values {
			if b.Value == "**" || b.Value == "main" || b.Value == "*" {
				return true
			}
		}
	}
	return false
}

// ghaCacheWrittenOnDefaultBranch: a tag run restores only caches of its own
// tag or of the default branch, so every gha scope the release reads must be
// written by a workflow that runs on pushes to the default branch.
func ghaCacheWrittenOnDefaultBranch(s *Set, r Repo) []string {
	written := map[string]bool{}
	for file, w := range s.Workflows {
		if file == release || !onDefaultBranch(w) {
			continue
		}
		for _, st := range s.steps(file) {
			if isBake("image-digest")(st) && cacheOf(s, st) == "gha" {
				for _, sc := range ghaScopes(s, st, r) {
					written[sc] = true
				}
			}
		}
	}
	var problems []string
	for _, st := range s.steps(release) {
		if !isBake("image-digest")(st) || cacheOf(s, st) != "gha" {
			continue
		}
		for _, sc := range ghaScopes(s, st, r) {
			if !written[sc] {
				problems = append(problems, fmt.Sprintf("%s: env: CACHE: gha scope %s is written by no job on the default branch: a tag run can restore only those, so every release would build cold", st.where(), sc))
			}
		}
	}
	return problems
}

// noDuplicateRuns: a workflow on both push and pull_request runs its jobs on
// pull_request only for forks (a same-repository pull request is tested by
// its push already).
func noDuplicateRuns(s *Set, _ Repo) []string {
	var problems []string
	for file, w := range s.Workflows {
		push, pr := false, false
		for _, e := range w.On {
			if we, ok := e.(*actionlint.WebhookEvent); ok {
				push = push || (we.Hook.Value == "push" && onDefaultBranch(w))
				pr = pr || we.Hook.Value == "pull_request"
			}
		}
		if !push || !pr {
			continue
		}
		for _, id := range s.jobIDs(file) {
			cond := w.Jobs[id].If
			if cond == nil || !strings.Contains(cond.Value, "github.event.pull_request.head.repo.full_name != github.repository") {
				problems = append(problems, fmt.Sprintf("%s: job %q: if: runs for same-repository pull requests too, which their push already ran (want github.event.pull_request.head.repo.full_name != github.repository)", file, id))
			}
		}
	}
	return problems
}
