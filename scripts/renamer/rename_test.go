package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestRenameClone renames a scratch clone of this repository the way a user
// does (scripts/rename NEW_MODULE_PATH --image NAME --source URL, then commit)
// and checks the result: every old name replaced where it was a whole token,
// one for one, and nothing else; the module builds, vets and tests in every
// module; the deploy/ checks pass; the bake file's tags name the new image;
// a second run changes nothing; bad input changes nothing.
func TestRenameClone(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	from, err := treeNames(root)
	if err != nil {
		t.Fatal(err)
	}
	to := names{"github.com/acme/orders", "orders", "https://github.com/acme/orders"}
	if from.module == to.module || from.image == to.image || from.source == to.source {
		// A tree renamed to the README's example already: rename it again.
		to = names{"example.org/renamed/svc", "svc", "https://git.example.org/renamed/svc"}
	}
	dir := filepath.Join(t.TempDir(), "clone")
	scratchClone(t, root, dir)
	wantBoundaries := plantBoundaries(t, dir, from, to)
	oldBefore, newBefore := tokenCounts(t, dir, from), tokenCounts(t, dir, to)
	rename := filepath.Join(dir, "scripts", "rename")
	args := []string{to.module, "--image", to.image, "--source", to.source}

	t.Run("refuses an invalid module path", func(t *testing.T) {
		wantRefused(t, dir, "is not a valid module path", rename, "acme/orders", "--image", to.image)
	})
	t.Run("refuses a tree with uncommitted changes", func(t *testing.T) {
		readme := filepath.Join(dir, "README.md")
		data, err := os.ReadFile(readme)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(readme, append(data, "an uncommitted line\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, dir, "uncommitted changes", rename, args...)
		must(t, dir, "git", "checkout", "--", "README.md")
	})
	t.Run("refuses a tree with an untracked file", func(t *testing.T) {
		notes := filepath.Join(dir, "notes.txt")
		if err := os.WriteFile(notes, []byte(from.image+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, dir, "uncommitted changes", rename, args...)
		os.Remove(notes)
	})
	t.Run("refuses an image name the tree uses for something else", func(t *testing.T) {
		wantRefused(t, dir, `the tree already uses "app"`, rename, to.module, "--image", "app")
	})
	if t.Failed() {
		return
	}

	r := runIn(t, dir, rename, args...)
	if r.code != 0 {
		t.Fatalf("scripts/rename %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	t.Logf("scripts/rename %s:\n%s", strings.Join(args, " "), r.stdout)
	must(t, dir, "git", "add", "-A")
	must(t, dir, "git", append(gitIdentity, "commit", "-q", "-m", "scripts/rename "+strings.Join(args, " "))...)

	t.Run("reports every file it changed", func(t *testing.T) {
		for _, line := range []string{
			fmt.Sprintf("module path  %s -> %s\n", from.module, to.module),
			fmt.Sprintf("image        %s -> %s\n", from.image, to.image),
			fmt.Sprintf("source URL   %s -> %s\n", from.source, to.source),
		} {
			if !strings.Contains(r.stdout, line) {
				t.Errorf("the report has no line %q", line)
			}
		}
		reported := regexp.MustCompile(`(?m)^  (\S+): `).FindAllStringSubmatch(r.stdout, -1)
		var got []string
		for _, m := range reported {
			got = append(got, m[1])
		}
		if want := slices.Sorted(maps.Keys(oldBefore)); !slices.Equal(got, want) {
			t.Errorf("files reported changed:\n  %v\nfiles that named the old names:\n  %v", got, want)
		}
	})
	t.Run("every old name replaced one for one, the kept ones kept", func(t *testing.T) {
		if left := tokenCounts(t, dir, from); len(left) > 0 {
			t.Errorf("old names left (besides the kept %v): %v", keptTexts(), left)
		}
		// Per file, as many tokens of the new names as of the old and the
		// new before. Per file, not per kind: a new name can make a longer
		// one (an example's https://github.com/acme/IMAGE/... is then the
		// new source URL followed by a path).
		newAfter := tokenCounts(t, dir, to)
		for _, f := range slices.Sorted(maps.Keys(newAfter)) {
			if got, want := newAfter[f].sum(), newBefore[f].sum()+oldBefore[f].sum(); got != want {
				t.Errorf("%s: %d tokens of the new names %v, want %d (of the old before %v, of the new %v)",
					f, got, newAfter[f], want, oldBefore[f], newBefore[f])
			}
		}
		for f := range oldBefore {
			if _, ok := newAfter[f]; !ok {
				t.Errorf("%s named the old names and names none of the new ones", f)
			}
		}
	})
	t.Run("whole tokens only", func(t *testing.T) {
		got, err := os.ReadFile(filepath.Join(dir, boundariesFile))
		if err != nil || string(got) != wantBoundaries {
			t.Errorf("%s after the rename (%v):\n%s\nwant:\n%s", boundariesFile, err, got, wantBoundaries)
		}
	})
	t.Run("the tree names the new names", func(t *testing.T) {
		if got, err := treeNames(dir); err != nil || got != to {
			t.Errorf("go.mod and the bake file name %+v (%v), want %+v", got, err, to)
		}
	})
	t.Run("a second run changes nothing", func(t *testing.T) {
		head := must(t, dir, "git", "rev-parse", "HEAD")
		r := runIn(t, dir, rename, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "nothing to change") {
			t.Errorf("second run: exit %d, stdout %q, stderr %q; want exit 0 and \"nothing to change\"", r.code, r.stdout, r.stderr)
		}
		treeUnchanged(t, dir, head)
	})
	t.Run("the bake file's tags and source", func(t *testing.T) {
		checkBake(t, dir, to)
	})
	t.Run("the Dockerfile's -X path is the app package", func(t *testing.T) {
		// go build cannot see it: a wrong path only leaves the version unset.
		df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^pkg=(\S+)$`).FindSubmatch(df)
		app := strings.TrimSpace(must(t, dir, "go", "list", "./app"))
		if m == nil || string(m[1]) != app {
			t.Errorf("Dockerfile: the -X package (pkg=) is %q, want %s", m, app)
		}
	})
	if !t.Run("gofmt; go build, vet and mod tidy in every module", func(t *testing.T) { checkModules(t, dir, to) }) {
		return
	}
	t.Run("go test -short ./app", func(t *testing.T) {
		must(t, dir, "go", "test", "-short", "-count=1", "./app")
	})
	t.Run("deploy/ checks", func(t *testing.T) {
		must(t, filepath.Join(dir, "deploy"), "go", "test", "-count=1", "./...")
	})
}

// gitIdentity lets the test commit whatever git configuration the machine
// has (CI runners have no identity; some sign commits).
var gitIdentity = []string{"-c", "user.name=rename test", "-c", "user.email=rename-test@localhost", "-c", "commit.gpgsign=false"}

type result struct {
	stdout, stderr string
	code           int
}

// runIn runs a command in dir (the Go commands outside any go.work).
func runIn(t *testing.T, dir, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// must runs a command that must succeed and returns its stdout.
func must(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	r := runIn(t, dir, name, args...)
	if r.code != 0 {
		t.Fatalf("%s %s (in %s): exit %d\n%s\n%s", name, strings.Join(args, " "), dir, r.code, lastLines(r.stdout, 40), lastLines(r.stderr, 40))
	}
	return r.stdout
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// scratchClone clones the repository at root into dir and commits there the
// work tree's uncommitted changes (tracked files, and untracked ones git does
// not ignore): the test renames what scripts/test tests.
func scratchClone(t *testing.T, root, dir string) {
	t.Helper()
	must(t, root, "git", "clone", "-q", root, dir)
	list := must(t, root, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == 0 }) {
		src, dst := filepath.Join(root, f), filepath.Join(dir, f)
		fi, err := os.Lstat(src)
		if errors.Is(err, fs.ErrNotExist) {
			os.Remove(dst) // deleted in the work tree
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dst, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	must(t, dir, "git", "add", "-A")
	if must(t, dir, "git", "status", "--porcelain") != "" {
		must(t, dir, "git", append(gitIdentity, "commit", "-q", "-m", "the work tree as tested")...)
	}
}

const boundariesFile = "rename-boundaries.txt"

// plantBoundaries commits a file of the old names at their boundaries and
// returns what it must hold after the rename.
func plantBoundaries(t *testing.T, dir string, from, to names) string {
	t.Helper()
	lines := func(n names) string {
		return strings.Join([]string{
			from.module + "2 stays: another module",
			n.module + "/app is the module path and a package",
			n.module + "@v1.2.3 is the module path and a version",
			"see " + n.module + ".",
			from.image + "s stays: another name",
			from.image + "2, " + from.image + "_x, my-" + from.image + ", x." + from.image + " and " + from.image + ".example stay",
			n.image + "-arm64 is the name with a suffix",
			"REGISTRY/" + n.image + ":TAG and REGISTRY/" + n.image + "@sha256:0 and REGISTRY/" + n.image + ".",
			n.source + "/blob/main/README.md is in the repository",
			kept[0].text + "/bin stays: kept",
		}, "\n") + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, boundariesFile), []byte(lines(from)), 0o644); err != nil {
		t.Fatal(err)
	}
	must(t, dir, "git", "add", boundariesFile)
	must(t, dir, "git", append(gitIdentity, "commit", "-q", "-m", "names at their boundaries")...)
	return lines(to)
}

// wantRefused runs a rename that must be refused: exit 2, one line on
// stderr saying why, nothing on stdout, and the tree as it was.
func wantRefused(t *testing.T, dir, why, name string, args ...string) {
	t.Helper()
	head := must(t, dir, "git", "rev-parse", "HEAD")
	status := must(t, dir, "git", "status", "--porcelain")
	diff := must(t, dir, "git", "diff")
	r := runIn(t, dir, name, args...)
	if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, why) || r.stdout != "" {
		t.Errorf("scripts/rename %s: exit %d, stdout %q, stderr %q; want exit 2 and one line saying %q",
			strings.Join(args, " "), r.code, r.stdout, r.stderr, why)
	}
	t.Logf("refused: %s", strings.TrimSpace(r.stderr))
	if must(t, dir, "git", "status", "--porcelain") != status || must(t, dir, "git", "diff") != diff {
		t.Errorf("the refused rename changed the tree:\n%s", must(t, dir, "git", "status", "--short"))
	}
	treeUnchanged(t, dir, head)
}

// treeUnchanged: HEAD is head and nothing changed beyond what git status
// showed before.
func treeUnchanged(t *testing.T, dir, head string) {
	t.Helper()
	if got := must(t, dir, "git", "rev-parse", "HEAD"); got != head {
		t.Errorf("HEAD moved from %s to %s", head, got)
	}
}

// tokenCounts counts, per tracked file, the whole tokens of each name, the
// kept texts aside: a second reading of "whole token", by regular
// expressions, to check the scanner's. Files without any are left out.
func tokenCounts(t *testing.T, dir string, n names) map[string]counts {
	t.Helper()
	out := map[string]counts{}
	for _, f := range strings.FieldsFunc(must(t, dir, "git", "ls-files", "-z"), func(r rune) bool { return r == 0 }) {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || bytes.IndexByte(data, 0) >= 0 {
			continue // a link, or binary
		}
		text := string(data)
		for _, k := range keptTexts() {
			text = strings.ReplaceAll(text, k, " ")
		}
		c := counts{}
		// The longer names first, as the rename does: the module path in
		// the source URL, the image at the end of both.
		for _, x := range []struct {
			kind, name string
			path       bool
		}{{"source URL", n.source, true}, {"module path", n.module, true}, {"image", n.image, false}} {
			c[x.kind], text = blankTokens(text, x.name, x.path)
		}
		if c.sum() > 0 {
			out[f] = c
		}
	}
	return out
}

func (c counts) sum() int { return c["source URL"] + c["module path"] + c["image"] }

// blankTokens counts the whole tokens of name in text and blanks them.
func blankTokens(text, name string, path bool) (int, string) {
	// The bytes that go on a token: before it also '.' and '-', after it
	// '.' only when a token byte follows; '-' after a name starts a suffix.
	token := `A-Za-z0-9_`
	if path {
		token += `~\-`
	}
	re := regexp.MustCompile(`(?:^|[^` + token + `.\-])(` + regexp.QuoteMeta(name) + `)(?:$|[^` + token + `.]|\.(?:$|[^` + token + `]))`)
	n := 0
	for {
		m := re.FindStringSubmatchIndex(text)
		if m == nil {
			return n, text
		}
		// A blank keeps the boundaries of the tokens around it.
		text = text[:m[2]] + " " + text[m[3]:]
		n++
	}
}

// checkBake evaluates the renamed bake file with the HCL library: the tags
// and the source URL the build would use.
func checkBake(t *testing.T, dir string, to names) {
	bake := filepath.Join(dir, "docker-bake.hcl")
	for env, want := range map[string]map[string]string{
		"": {"image": "[" + to.image + ":latest]", "image-digest": "[" + to.image + "]"},
		"REGISTRY=ghcr.io/acme TAG=1.2.3": {
			"image":        "[ghcr.io/acme/" + to.image + ":1.2.3]",
			"image-local":  "[ghcr.io/acme/" + to.image + ":1.2.3]",
			"image-digest": "[ghcr.io/acme/" + to.image + "]",
		},
	} {
		vars := map[string]string{}
		for _, kv := range strings.Fields(env) {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
		b, err := loadBakeFile(bake, vars)
		if err != nil {
			t.Fatal(err)
		}
		for target, tags := range want {
			if got, err := b.stringList(target, "tags"); err != nil || fmt.Sprint(got) != tags {
				t.Errorf("%s bake %s: tags %v (%v), want %s", env, target, got, err, tags)
			}
		}
		args, err := b.attr("image", "args")
		if err != nil {
			t.Fatal(err)
		}
		if got := args.GetAttr("SOURCE_URL").AsString(); got != to.source {
			t.Errorf("%s bake image: args.SOURCE_URL %s, want %s", env, got, to.source)
		}
	}
}

// checkModules: gofmt on the tree; in every module, its path under the new
// module path, go mod tidy -diff, and go build and go vet (with the e2e tag)
// where it has packages (the tools modules only pin versions).
func checkModules(t *testing.T, dir string, to names) {
	if out := must(t, dir, "gofmt", "-l", "."); out != "" {
		t.Errorf("gofmt -l:\n%s", out)
	}
	for _, gomod := range strings.Fields(must(t, dir, "git", "ls-files", "*go.mod")) {
		rel := filepath.Dir(gomod)
		m := filepath.Join(dir, rel)
		want := to.module
		if rel != "." {
			want += "/" + filepath.ToSlash(rel)
		}
		if got := strings.TrimSpace(must(t, m, "go", "list", "-m")); got != want {
			t.Errorf("%s: module %s, want %s", gomod, got, want)
		}
		must(t, m, "go", "mod", "tidy", "-diff")
		if strings.TrimSpace(must(t, m, "go", "list", "-tags", "e2e", "./...")) == "" {
			t.Logf("%s: no packages (pins tools): go mod tidy -diff only", rel)
			continue
		}
		must(t, m, "go", "build", "./...")
		must(t, m, "go", "vet", "-tags", "e2e", "./...")
	}
}
