// Command renamer is scripts/rename: it makes a copy of the template yours by
// renaming, in every file git tracks, the module path, the image name (which
// names the service everywhere: image, Kubernetes objects, ECS resources,
// workflows, docs) and the source URL. See usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usageText = `Usage: scripts/rename [-h] NEW_MODULE_PATH [--image NAME] [--source URL]

Makes this copy of the template yours. In every file git tracks it replaces
  the module path  (root go.mod's): every go.mod's module, require and replace
                   lines, the imports, the Dockerfile's -X .../app.version path
  the image name   (docker-bake.hcl's IMAGE default), which names the service:
                   the image, the Dockerfile's title label, Kubernetes object
                   names and labels, the ECS family, service, log group and
                   stack, the workflows and examples in the docs
  the source URL   (docker-bake.hcl's SOURCE_URL default): the bake file, the
                   Dockerfile's SOURCE_URL default and labels, the docs
It reads the names it replaces from those two files, so it also works on a
tree renamed before. It prints every file it changed with what it replaced;
then review (git diff) and commit. Run again with the same arguments, it
changes nothing and says so.

  --image NAME   default: the module path's last element (without /vN)
  --source URL   default: https://HOST/OWNER/REPO when the module path is
                 HOST/OWNER/REPO[/...] on github.com, gitlab.com, bitbucket.org
                 or codeberg.org; elsewhere --source is needed

Whole tokens only: a name is replaced where it is not part of a longer name.
NAME2, NAMEs, my-NAME and NAME.example are other names and stay; NAME-arm64 is
the name with a suffix and becomes NEW-arm64; MODULE/app and MODULE@v1 are
the module path followed by more. Go files are gofmt'ed after (an import may
sort elsewhere) and every go.mod must still parse.

Refused, with one line saying why, exit 2 and nothing changed: a path that is
not a valid module path (golang.org/x/mod/module.CheckPath); an image name
that cannot name Kubernetes objects and ECS resources (lower-case letters,
digits and '-', a letter first, at most 32 characters); a source URL with
spaces, quotes, a query or a fragment; a work tree with uncommitted changes
(untracked files included); and a new name the tree already uses for
something else (a path element or an import, such as app or fiber), which a
later rename would not be able to tell apart.

Left as they are:
%s  - File names, git history and remotes; the FIBER_* settings of the scripts
    and the fiber-* names of their builders, network namespaces and scratch
    directories: they name the template's tooling and Fiber, not the service.
  - The AWS account, region and network placeholders in deploy/ and the docs
    (123456789012, eu-west-1, the example VPC's 10.0.0.0/16 in deploy/k8s/):
    not names of the service; set them when you deploy.
`

// usage is the help, with the kept list and, when the tree can be read, the
// names it uses now.
func usage(w io.Writer, root string) {
	var keptList strings.Builder
	for _, k := range kept {
		fmt.Fprintf(&keptList, "  - %s\n    %s\n", k.text, wrap(k.why, 72, "    "))
	}
	fmt.Fprintf(w, usageText, keptList.String())
	if n, err := treeNames(root); err == nil {
		fmt.Fprintf(w, "\nThis tree: module path %s, image %s, source URL %s\n", n.module, n.image, n.source)
	}
}

// wrap breaks s into lines of at most width bytes, indenting all but the first.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	line := 0
	for i, w := range strings.Fields(s) {
		if i > 0 && line+1+len(w) > width {
			b.WriteString("\n" + indent)
			line = 0
		} else if i > 0 {
			b.WriteString(" ")
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}

type options struct {
	root, module, image, source string
	help                        bool
}

// parseArgs takes the flags before and after the module path.
func parseArgs(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("scripts/rename", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.root, "root", ".", "the tree to rename (scripts/rename passes its own)")
	fs.StringVar(&o.image, "image", "", "")
	fs.StringVar(&o.source, "source", "", "")
	fs.BoolVar(&o.help, "h", false, "")
	var positional []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			o.help = true
			return o, nil
		} else if err != nil {
			return o, refuse("%v (scripts/rename -h for help)", err)
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if o.help {
		return o, nil
	}
	if len(positional) != 1 {
		return o, refuse("want one NEW_MODULE_PATH, got %d arguments (scripts/rename -h for help)", len(positional))
	}
	o.module = positional[0]
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	err := rename(args, stdout)
	var refused *refusedError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &refused):
		fmt.Fprintln(stderr, "scripts/rename:", err)
		return 2
	}
	fmt.Fprintln(stderr, "scripts/rename:", err)
	return 1
}

func rename(args []string, stdout io.Writer) error {
	o, err := parseArgs(args)
	if err != nil {
		return err
	}
	if o.help {
		usage(stdout, o.root)
		return nil
	}
	to, err := wantedNames(o.module, o.image, o.source)
	if err != nil {
		return err
	}
	from, err := treeNames(o.root)
	if err != nil {
		return err
	}
	if err := checkClean(o.root); err != nil {
		return err
	}
	files, err := trackedFiles(o.root)
	if err != nil {
		return err
	}
	changes, total, err := plan(o.root, files, from, to)
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		fmt.Fprintf(stdout, "nothing to change: the tree already names module path %s, image %s, source URL %s\n",
			to.module, to.image, to.source)
		return nil
	}
	for i, c := range changes {
		if err := os.WriteFile(filepath.Join(o.root, c.file), c.content, 0o644); err != nil {
			return fmt.Errorf("%v; %d of %d files were rewritten: `git checkout -- .` undoes that", err, i, len(changes))
		}
	}

	report(stdout, from, to, changes, total)
	return nil
}

// kinds of replacement, in the order they are reported.
var kinds = []string{"module path", "image", "source URL"}

func report(w io.Writer, from, to names, changes []change, total counts) {
	for _, r := range [][3]string{
		{"module path", from.module, to.module},
		{"image", from.image, to.image},
		{"source URL", from.source, to.source},
	} {
		if r[1] == r[2] {
			fmt.Fprintf(w, "%-11s  %s (unchanged)\n", r[0], r[1])
		} else {
			fmt.Fprintf(w, "%-11s  %s -> %s\n", r[0], r[1], r[2])
		}
	}
	for _, c := range changes {
		fmt.Fprintf(w, "  %s: %s\n", c.file, describe(c.counts))
	}
	kept := total["kept"]
	delete(total, "kept")
	fmt.Fprintf(w, "%d files changed: %s", len(changes), describe(total))
	if kept > 0 {
		fmt.Fprintf(w, "; kept %d (scripts/rename -h says which and why)", kept)
	}
	fmt.Fprintln(w, "\nReview it (git diff), then commit.")
}

// describe is "N (kind n, kind n)" of a file's or the whole rename's counts.
func describe(n counts) string {
	sum := 0
	var parts []string
	for _, k := range kinds {
		if n[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n[k]))
			sum += n[k]
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return fmt.Sprintf("%d (%s)", sum, strings.Join(parts, ", "))
}
