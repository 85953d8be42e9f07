package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// names are what the rename replaces: the module path (root go.mod), the
// image name, which names the service everywhere (docker-bake.hcl's IMAGE),
// and the source URL (docker-bake.hcl's SOURCE_URL).
type names struct {
	module, image, source string
}

// treeNames reads the names the tree at root uses now.
func treeNames(root string) (names, error) {
	var n names
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return n, refuse("%v (is this a copy of the template?)", err)
	}
	if n.module = modfile.ModulePath(gomod); n.module == "" {
		return n, refuse("%s: no module line", filepath.Join(root, "go.mod"))
	}
	bake := filepath.Join(root, "docker-bake.hcl")
	if n.image, err = bakeDefault(bake, "IMAGE"); err != nil {
		return n, err
	}
	n.source, err = bakeDefault(bake, "SOURCE_URL")
	return n, err
}

// parseBakeFile parses the bake file's HCL.
func parseBakeFile(path string) (*hclsyntax.Body, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	return f.Body.(*hclsyntax.Body), nil
}

// bakeDefault is the default of a variable of the bake file, which must be a
// plain string: it is the text the rename looks for.
func bakeDefault(file, name string) (string, error) {
	body, err := parseBakeFile(file)
	if err != nil {
		return "", refuse("%v (is this a copy of the template?)", err)
	}
	for _, b := range body.Blocks {
		if b.Type != "variable" || len(b.Labels) != 1 || b.Labels[0] != name {
			continue
		}
		if attr, ok := b.Body.Attributes["default"]; ok {
			v, diags := attr.Expr.Value(nil)
			if !diags.HasErrors() && v.Type() == cty.String && v.AsString() != "" {
				return v.AsString(), nil
			}
		}
		break
	}
	return "", refuse("%s: variable %s needs a default that is a plain string (the name to rename)", file, name)
}

// imageName: the image name also names the Kubernetes objects (a Service's
// name is a DNS-1035 label: lower-case letters, digits and '-', starting
// with a letter), the ECS family and service and the ALB target group
// (at most 32 characters).
var imageName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$`)

// sourceURL: an http(s) URL with nothing that would need quoting in the bake
// file, the Dockerfile, YAML or a shell (no spaces, quotes, query or $).
var sourceURL = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~-]+)*$`)

// forges are the hosts where a module path HOST/OWNER/REPO[/...] lives in the
// repository https://HOST/OWNER/REPO: the default of --source.
var forges = []string{"github.com", "gitlab.com", "bitbucket.org", "codeberg.org"}

// defaultImage is the module path's last element, without a major version
// suffix (github.com/acme/orders/v2 -> orders).
func defaultImage(modulePath string) string {
	prefix, _, _ := module.SplitPathVersion(modulePath)
	return path.Base(prefix)
}

// defaultSource is https://HOST/OWNER/REPO for a module path on a forge.
func defaultSource(modulePath string) (string, bool) {
	elems := strings.Split(modulePath, "/")
	for _, f := range forges {
		if len(elems) >= 3 && elems[0] == f {
			return "https://" + strings.Join(elems[:3], "/"), true
		}
	}
	return "", false
}

// wantedNames checks the new names and fills in the defaults.
func wantedNames(modulePath, image, source string) (names, error) {
	if err := module.CheckPath(modulePath); err != nil {
		return names{}, refuse("%q is not a valid module path: %v", modulePath, err)
	}
	n := names{module: modulePath, image: image, source: source}
	if n.image == "" {
		n.image = defaultImage(modulePath)
		if !imageName.MatchString(n.image) {
			return n, refuse("--image defaults to the module path's last element, %q, which cannot name the service "+
				"(lower-case letters, digits and '-', a letter first, at most 32): give --image NAME", n.image)
		}
	} else if !imageName.MatchString(n.image) {
		return n, refuse("--image %q cannot name the service: it names the image, Kubernetes objects and ECS resources, "+
			"so lower-case letters, digits and '-', a letter first, at most 32 characters", n.image)
	}
	if n.source == "" {
		var ok bool
		if n.source, ok = defaultSource(modulePath); !ok {
			return n, refuse("cannot tell the source URL of %s (the default is https://HOST/OWNER/REPO for %s): give --source URL",
				modulePath, strings.Join(forges, ", "))
		}
	} else if !sourceURL.MatchString(n.source) {
		return n, refuse("--source %q: want an http(s) URL without spaces, quotes, query or fragment, e.g. https://github.com/acme/orders", n.source)
	}
	return n, nil
}

// refusedError is bad input: the rename stops before it writes anything.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

func refuse(format string, a ...any) error {
	return &refusedError{fmt.Sprintf(format, a...)}
}
