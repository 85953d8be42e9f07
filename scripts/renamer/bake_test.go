package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/userfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// bakeFile is docker-bake.hcl evaluated with the HCL library the way buildx
// bake evaluates it, as far as the rename test needs, where buildx itself is
// not at hand (scripts/test --quick): variables (the default, or the value
// from the environment given), their validation blocks, the file's
// functions with go-cty's stdlib functions under bake's names, and target
// attributes through `inherits`.
type bakeFile struct {
	ctx     *hcl.EvalContext
	vars    map[string]*hclsyntax.Block
	targets map[string]*hclsyntax.Body
	env     map[string]string
}

// bakeFunctions are the functions bake offers that the go-cty stdlib has,
// under bake's names, and timestamp.
var bakeFunctions = map[string]function.Function{
	"absolute": stdlib.AbsoluteFunc, "add": stdlib.AddFunc, "and": stdlib.AndFunc,
	"ceil": stdlib.CeilFunc, "chomp": stdlib.ChompFunc, "chunklist": stdlib.ChunklistFunc,
	"coalesce": stdlib.CoalesceFunc, "coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc,
	"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "csvdecode": stdlib.CSVDecodeFunc,
	"distinct": stdlib.DistinctFunc, "divide": stdlib.DivideFunc, "element": stdlib.ElementFunc,
	"equal": stdlib.EqualFunc, "flatten": stdlib.FlattenFunc, "floor": stdlib.FloorFunc,
	"format": stdlib.FormatFunc, "formatdate": stdlib.FormatDateFunc, "formatlist": stdlib.FormatListFunc,
	"greaterthan": stdlib.GreaterThanFunc, "hasindex": stdlib.HasIndexFunc, "indent": stdlib.IndentFunc,
	"index": stdlib.IndexFunc, "int": stdlib.IntFunc, "join": stdlib.JoinFunc,
	"jsondecode": stdlib.JSONDecodeFunc, "jsonencode": stdlib.JSONEncodeFunc, "keys": stdlib.KeysFunc,
	"length": stdlib.LengthFunc, "lessthan": stdlib.LessThanFunc, "lookup": stdlib.LookupFunc,
	"lower": stdlib.LowerFunc, "max": stdlib.MaxFunc, "merge": stdlib.MergeFunc, "min": stdlib.MinFunc,
	"modulo": stdlib.ModuloFunc, "multiply": stdlib.MultiplyFunc, "negate": stdlib.NegateFunc,
	"not": stdlib.NotFunc, "notequal": stdlib.NotEqualFunc, "or": stdlib.OrFunc,
	"parseint": stdlib.ParseIntFunc, "range": stdlib.RangeFunc, "regex": stdlib.RegexFunc,
	"regex_replace": stdlib.RegexReplaceFunc, "regexall": stdlib.RegexAllFunc, "replace": stdlib.ReplaceFunc,
	"reverse": stdlib.ReverseFunc, "reverselist": stdlib.ReverseListFunc,
	"sethaselement": stdlib.SetHasElementFunc, "setintersection": stdlib.SetIntersectionFunc,
	"setproduct": stdlib.SetProductFunc, "setsubtract": stdlib.SetSubtractFunc,
	"setsymmetricdifference": stdlib.SetSymmetricDifferenceFunc, "setunion": stdlib.SetUnionFunc,
	"slice": stdlib.SliceFunc, "sort": stdlib.SortFunc, "split": stdlib.SplitFunc, "strlen": stdlib.StrlenFunc,
	"substr": stdlib.SubstrFunc, "subtract": stdlib.SubtractFunc, "timeadd": stdlib.TimeAddFunc,
	"title": stdlib.TitleFunc, "trim": stdlib.TrimFunc, "trimprefix": stdlib.TrimPrefixFunc,
	"trimspace": stdlib.TrimSpaceFunc, "trimsuffix": stdlib.TrimSuffixFunc, "upper": stdlib.UpperFunc,
	"values": stdlib.ValuesFunc, "zipmap": stdlib.ZipmapFunc,
	"timestamp": function.New(&function.Spec{
		Type: function.StaticReturnType(cty.String),
		Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
			return cty.StringVal(time.Now().UTC().Format(time.RFC3339)), nil
		},
	}),
}

// loadBakeFile reads and evaluates the bake file's variables; env stands for
// the environment (bake's variable overrides).
func loadBakeFile(path string, env map[string]string) (*bakeFile, error) {
	body, err := parseBakeFile(path)
	if err != nil {
		return nil, err
	}
	b := &bakeFile{
		ctx:     &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: map[string]function.Function{}},
		vars:    map[string]*hclsyntax.Block{},
		targets: map[string]*hclsyntax.Body{},
		env:     env,
	}
	funcs, _, diags := userfunc.DecodeUserFunctions(body, "function", func() *hcl.EvalContext { return b.ctx })
	if diags.HasErrors() {
		return nil, diags
	}
	for name, fn := range bakeFunctions {
		b.ctx.Functions[name] = fn
	}
	for name, fn := range funcs {
		b.ctx.Functions[name] = fn
	}
	for _, block := range body.Blocks {
		if len(block.Labels) != 1 {
			continue
		}
		switch block.Type {
		case "variable":
			b.vars[block.Labels[0]] = block
		case "target":
			b.targets[block.Labels[0]] = block.Body
		}
	}
	for name := range b.vars {
		if err := b.resolve(name, map[string]bool{}); err != nil {
			return nil, err
		}
	}
	return b, b.validate()
}

// resolve evaluates a variable after the variables its default refers to:
// the environment's value when set (parsed as the default's type), else the
// default, else "".
func (b *bakeFile) resolve(name string, visiting map[string]bool) error {
	block, ok := b.vars[name]
	if _, done := b.ctx.Variables[name]; done || !ok {
		return nil
	}
	if visiting[name] {
		return fmt.Errorf("variable %s refers to itself", name)
	}
	visiting[name] = true
	v := cty.StringVal("")
	if attr, ok := block.Body.Attributes["default"]; ok {
		for _, ref := range attr.Expr.Variables() {
			if err := b.resolve(ref.RootName(), visiting); err != nil {
				return err
			}
		}
		var diags hcl.Diagnostics
		if v, diags = attr.Expr.Value(b.ctx); diags.HasErrors() {
			return diags
		}
	}
	if s, ok := b.env[name]; ok {
		var err error
		switch v.Type() {
		case cty.Bool:
			var x bool
			x, err = strconv.ParseBool(s)
			v = cty.BoolVal(x)
		case cty.Number:
			v, err = cty.ParseNumberVal(s)
		default:
			v = cty.StringVal(s)
		}
		if err != nil {
			return fmt.Errorf("%s=%q: %v", name, s, err)
		}
	}
	b.ctx.Variables[name] = v
	return nil
}

// validate runs the variables' validation blocks, as bake does before a build.
func (b *bakeFile) validate() error {
	for name, block := range b.vars {
		for _, check := range block.Body.Blocks {
			if check.Type != "validation" {
				continue
			}
			ok, diags := check.Body.Attributes["condition"].Expr.Value(b.ctx)
			if diags.HasErrors() {
				return diags
			}
			if ok.False() {
				msg, _ := check.Body.Attributes["error_message"].Expr.Value(b.ctx)
				return fmt.Errorf("variable %s: %s", name, msg.AsString())
			}
		}
	}
	return nil
}

// attr is a target's attribute, set by the target or else by the last of the
// targets it inherits that has it (bake merges maps such as args; this reads
// the one that sets the attribute).
func (b *bakeFile) attr(target, name string) (cty.Value, error) {
	v, found, err := b.lookup(target, name)
	if err == nil && !found {
		err = fmt.Errorf("target %q has no %s, nor do the targets it inherits", target, name)
	}
	return v, err
}

func (b *bakeFile) lookup(target, name string) (cty.Value, bool, error) {
	body, ok := b.targets[target]
	if !ok {
		return cty.NilVal, false, fmt.Errorf("no target %q", target)
	}
	if a, ok := body.Attributes[name]; ok {
		v, diags := a.Expr.Value(b.ctx)
		if diags.HasErrors() {
			return cty.NilVal, false, diags
		}
		return v, true, nil
	}
	a, ok := body.Attributes["inherits"]
	if !ok {
		return cty.NilVal, false, nil
	}
	parents, diags := a.Expr.Value(b.ctx)
	if diags.HasErrors() {
		return cty.NilVal, false, diags
	}
	list := parents.AsValueSlice()
	for i := len(list) - 1; i >= 0; i-- {
		if v, found, err := b.lookup(list[i].AsString(), name); found || err != nil {
			return v, found, err
		}
	}
	return cty.NilVal, false, nil
}

// stringList is a target's attribute that is a list of strings (tags).
func (b *bakeFile) stringList(target, name string) ([]string, error) {
	v, err := b.attr(target, name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range v.AsValueSlice() {
		out = append(out, e.AsString())
	}
	return out, nil
}

// TestBakeFile: the evaluator on this repository's bake file gives what
// buildx bake gives (scripts/e2e's TestBakePrint and the README's table
// check the same against the real buildx).
func TestBakeFile(t *testing.T) {
	n, err := treeNames("../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadBakeFile("../../docker-bake.hcl", map[string]string{"REGISTRY": "ghcr.io/acme", "TAG": "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ target, attr, want string }{
		{"image", "tags", "[ghcr.io/acme/" + n.image + ":1.2.3]"},
		{"image-local", "tags", "[ghcr.io/acme/" + n.image + ":1.2.3]"},
		{"image-digest", "tags", "[ghcr.io/acme/" + n.image + "]"},
		{"image", "platforms", "[linux/amd64 linux/arm64]"},
	} {
		got, err := b.stringList(c.target, c.attr)
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("target %s: %s = %v, %v; want %s", c.target, c.attr, got, err, c.want)
		}
	}
	args, err := b.attr("image", "args")
	if err != nil || args.GetAttr("SOURCE_URL").AsString() != n.source {
		t.Errorf("target image: args.SOURCE_URL: %v, want %s", err, n.source)
	}
	// Without the environment: the default tag, no registry.
	if b, err = loadBakeFile("../../docker-bake.hcl", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := b.stringList("image", "tags"); err != nil || fmt.Sprint(got) != "["+n.image+":latest]" {
		t.Errorf("image tags without the environment: %v, %v", got, err)
	}
	// A variable's validation, as bake runs it.
	_, err = loadBakeFile("../../docker-bake.hcl", map[string]string{"PLATFORMS": "linux/s390x"})
	if err == nil || !strings.Contains(err.Error(), "PLATFORMS=linux/s390x names a platform with no runtime stage") {
		t.Errorf("PLATFORMS=linux/s390x: %v, want the bake file's validation message", err)
	}
}
