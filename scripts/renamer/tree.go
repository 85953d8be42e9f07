package main

import (
	"bytes"
	"fmt"
	"go/format"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
)

// git runs git in root and returns its output.
func git(root string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// checkClean refuses a tree with uncommitted changes (untracked files
// included): the rename must be one commit of its own, to review and revert.
func checkClean(root string) error {
	status, err := git(root, "status", "--porcelain", "--untracked-files=normal", "--", ".")
	if err != nil {
		return refuse("%s is not a git work tree (%v): the rename works on a clean git checkout", root, err)
	}
	if status != "" {
		lines := strings.Split(strings.TrimRight(status, "\n"), "\n")
		return refuse("the work tree has uncommitted changes (%d, first: %q): commit or stash them first, "+
			"so that the rename is a commit of its own", len(lines), lines[0])
	}
	return nil
}

// trackedFiles are the files git tracks under root, relative to it.
func trackedFiles(root string) ([]string, error) {
	out, err := git(root, "ls-files", "-z", "--", ".")
	if err != nil {
		return nil, err
	}
	return strings.FieldsFunc(out, func(r rune) bool { return r == 0 }), nil
}

// A change is one file's new content and what was replaced in it.
type change struct {
	file    string
	content []byte
	counts  counts
}

// plan computes every file's change without writing anything, and refuses
// new names the tree already uses for something else.
func plan(root string, files []string, from, to names) ([]change, counts, error) {
	var rules []rule
	for _, r := range []rule{
		{kind: "module path", old: from.module, new: to.module, path: true},
		{kind: "source URL", old: from.source, new: to.source, path: true},
		{kind: "image", old: from.image, new: to.image},
	} {
		if r.old != r.new {
			rules = append(rules, r)
		}
	}
	slices.SortStableFunc(rules, func(a, b rule) int { return len(b.old) - len(a.old) })
	rp := replacer{rules: rules, kept: keptTexts()}

	var changes []change
	total := counts{}
	var used usedNames
	for _, f := range files {
		fi, err := os.Lstat(filepath.Join(root, f))
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted, a symbolic link or a submodule
		}
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return nil, nil, err
		}
		used.addPath(f)
		if bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
			continue // binary, as git tells
		}
		if strings.HasSuffix(f, ".go") {
			used.addImports(f, data, from.module)
		}
		text, n := rp.replace(string(data))
		for k, v := range n {
			total[k] += v
		}
		if text == string(data) {
			continue
		}
		out := []byte(text)
		switch {
		case strings.HasSuffix(f, ".go"):
			// A new import path may sort elsewhere among the imports.
			if out, err = format.Source(out); err != nil {
				return nil, nil, fmt.Errorf("%s after the rename: %v", f, err)
			}
		case path.Base(f) == "go.mod":
			if out, err = sortGoMod(f, out); err != nil {
				return nil, nil, err
			}
		}
		delete(n, "kept")
		changes = append(changes, change{file: f, content: out, counts: n})
	}
	if err := used.check(from, to); err != nil {
		return nil, nil, err
	}
	return changes, total, nil
}

// sortGoMod sorts the lines of each require and replace block by module
// path, as go mod tidy does: a new module path may sort elsewhere.
func sortGoMod(file string, data []byte) ([]byte, error) {
	f, err := modfile.Parse(file, data, nil)
	if err != nil {
		return nil, fmt.Errorf("%s after the rename: %v", file, err)
	}
	f.SortBlocks()
	return modfile.Format(f.Syntax), nil
}

// usedNames are the names the tree uses for other things than the service:
// the elements of its file paths and of the import paths of its Go files
// (below the module path itself). A new name among them would be renamed
// with them by a later rename (an image named app would take app/ and
// package app along), so it is refused.
type usedNames struct {
	elems   map[string]string // element -> where it is used
	imports map[string]string // import path -> file
}

func (u *usedNames) addPath(file string) {
	if u.elems == nil {
		u.elems, u.imports = map[string]string{}, map[string]string{}
	}
	for _, e := range strings.Split(file, "/") {
		if _, ok := u.elems[e]; !ok {
			u.elems[e] = "the path " + file
		}
	}
}

func (u *usedNames) addImports(file string, src []byte, modulePath string) {
	f, err := parser.ParseFile(token.NewFileSet(), file, src, parser.ImportsOnly)
	if err != nil {
		return // not this rename's business: go build will say
	}
	for _, spec := range f.Imports {
		imp, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			continue
		}
		if _, ok := u.imports[imp]; !ok {
			u.imports[imp] = file
		}
		below, _ := strings.CutPrefix(imp, modulePath+"/")
		for _, e := range strings.Split(below, "/") {
			if _, ok := u.elems[e]; !ok {
				u.elems[e] = "the import " + strconv.Quote(imp) + " in " + file
			}
		}
	}
}

func (u *usedNames) check(from, to names) error {
	if to.image != from.image {
		if where, ok := u.elems[to.image]; ok {
			return refuse("--image %s: the tree already uses %q for something else (%s); a later rename would "+
				"rename that too: choose another name", to.image, to.image, where)
		}
	}
	if to.module != from.module {
		for _, imp := range slices.Sorted(maps.Keys(u.imports)) {
			if imp == to.module || strings.HasPrefix(imp, to.module+"/") {
				return refuse("%s: the tree already imports %s (%s); a later rename would rename that too: "+
					"choose another module path", to.module, imp, u.imports[imp])
			}
		}
	}
	return nil
}
