package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A CloudFormation template as the checks and the runners read it. cfn-lint
// (AWS's linter, run by the tests) judges the template itself; this is only
// the evaluation of its parameters, conditions and intrinsic functions, so
// that the resources can be read with the values a stack would have.

// Template is a parsed CloudFormation template: every short-form tag
// (!Ref, !GetAtt, !Sub, ...) turned into its long form ({"Ref": ...},
// {"Fn::GetAtt": [...]}, ...).
type Template struct {
	Size       int // bytes: `aws cloudformation deploy` needs --s3-bucket above 51,200
	Parameters map[string]TemplateParameter
	Conditions map[string]any
	Resources  map[string]map[string]any // logical ID -> Type, Properties, DependsOn, ...
	Outputs    map[string]map[string]any
}

// TemplateParameter is a parameter's declaration.
type TemplateParameter struct {
	Type          string
	Default       any
	AllowedValues []string
}

// ParseTemplate reads a template in YAML (or JSON, which is YAML).
func ParseTemplate(src []byte) (Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return Template{}, err
	}
	doc, err := longForm(&root)
	if err != nil {
		return Template{}, err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return Template{}, err
	}
	t := Template{Size: len(src)}
	if err := json.Unmarshal(b, &t); err != nil {
		return Template{}, err
	}
	return t, nil
}

// longForm decodes a YAML node, turning CloudFormation's short-form tags
// into the long form.
func longForm(n *yaml.Node) (any, error) {
	tag := ""
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		tag = n.Tag[1:]
	}
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		return longForm(n.Content[0])
	case yaml.AliasNode:
		return longForm(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := longForm(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			val, err := longForm(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		plain := *n
		if tag != "" {
			plain.Tag = "!!str"
		}
		if err := plain.Decode(&v); err != nil {
			return nil, err
		}
	}
	switch tag {
	case "":
		return v, nil
	case "Ref", "Condition":
		return map[string]any{tag: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			name, attr, _ := strings.Cut(s, ".")
			v = []any{name, attr}
		}
	}
	return map[string]any{"Fn::" + tag: v}, nil
}

// Stack is a template evaluated for one set of parameter values: the
// resources a stack would create (those whose condition holds) with every
// parameter, condition and intrinsic function resolved. What exists only
// once the stack runs stays a reference in Fn::Sub's syntax: a Ref to a
// resource is "${LogicalId}", a GetAtt "${LogicalId.Attribute}".
type Stack struct {
	Template   Template
	Values     map[string]any // parameter and pseudo-parameter values used
	Conditions map[string]bool
	Resources  map[string]Resource
	Outputs    map[string]any // each output's Value
}

// Resource is one resource of a Stack.
type Resource struct {
	Type       string
	DependsOn  []string
	Properties map[string]any
	Metadata   map[string]any
}

// Pseudo-parameter values a Stack gets unless the caller gives others.
var pseudoParameters = map[string]any{
	"AWS::Region": "eu-west-1", "AWS::Partition": "aws", "AWS::AccountId": "123456789012",
	"AWS::StackName": "fiber-service", "AWS::URLSuffix": "amazonaws.com",
}

// noValue is AWS::NoValue: the key or list item holding it is dropped.
type noValue struct{}

// Resolve evaluates the template with params (a stack's parameter values,
// as `--parameter-overrides` gives them: lists comma-separated). A parameter
// without a value takes its Default; one without either is an error.
func (t Template) Resolve(params map[string]string) (Stack, error) {
	s := Stack{Template: t, Values: maps.Clone(pseudoParameters), Conditions: map[string]bool{},
		Resources: map[string]Resource{}, Outputs: map[string]any{}}
	for name, p := range params {
		decl, ok := t.Parameters[name]
		switch {
		case strings.HasPrefix(name, "AWS::"):
			s.Values[name] = p
		case !ok:
			return s, fmt.Errorf("parameter %s: the template has no such parameter", name)
		default:
			v, err := decl.value(p)
			if err != nil {
				return s, fmt.Errorf("parameter %s: %v", name, err)
			}
			s.Values[name] = v
		}
	}
	for _, name := range slices.Sorted(maps.Keys(t.Parameters)) {
		if _, ok := s.Values[name]; ok {
			continue
		}
		decl := t.Parameters[name]
		if decl.Default == nil {
			return s, fmt.Errorf("parameter %s: no value and no Default", name)
		}
		v, err := decl.value(fmt.Sprint(decl.Default))
		if err != nil {
			return s, fmt.Errorf("parameter %s Default: %v", name, err)
		}
		s.Values[name] = v
	}
	for _, name := range slices.Sorted(maps.Keys(t.Conditions)) {
		if _, err := s.condition(name); err != nil {
			return s, err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(t.Resources)) {
		raw := t.Resources[name]
		if c, ok := raw["Condition"].(string); ok {
			if holds, err := s.condition(c); err != nil || !holds {
				if err != nil {
					return s, fmt.Errorf("Resources.%s.Condition: %v", name, err)
				}
				continue
			}
		}
		var r Resource
		r.Type, _ = raw["Type"].(string)
		switch d := raw["DependsOn"].(type) {
		case string:
			r.DependsOn = []string{d}
		case []any:
			for _, x := range d {
				r.DependsOn = append(r.DependsOn, fmt.Sprint(x))
			}
		}
		for key, into := range map[string]*map[string]any{"Properties": &r.Properties, "Metadata": &r.Metadata} {
			v, err := s.eval(raw[key])
			if err != nil {
				return s, fmt.Errorf("Resources.%s.%s: %v", name, key, err)
			}
			*into, _ = v.(map[string]any)
		}
		s.Resources[name] = r
	}
	for name, o := range t.Outputs {
		if c, ok := o["Condition"].(string); ok {
			if holds, _ := s.condition(c); !holds {
				continue
			}
		}
		v, err := s.eval(o["Value"])
		if err != nil {
			return s, fmt.Errorf("Outputs.%s: %v", name, err)
		}
		s.Outputs[name] = v
	}
	for name, r := range s.Resources {
		for _, d := range r.DependsOn {
			if _, ok := s.Resources[d]; !ok {
				return s, fmt.Errorf("Resources.%s.DependsOn: %s is not a resource of the stack", name, d)
			}
		}
	}
	return s, nil
}

// value is a parameter value as CloudFormation hands it to resources: a
// list for the list types, a number for Number, else the string.
func (p TemplateParameter) value(s string) (any, error) {
	switch {
	case strings.HasPrefix(p.Type, "List<") || p.Type == "CommaDelimitedList":
		var l []any
		for item := range strings.SplitSeq(s, ",") {
			l = append(l, strings.TrimSpace(item))
		}
		return l, nil
	case p.Type == "Number":
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a Number", s)
		}
		if n == float64(int64(n)) {
			return int64(n), nil
		}
		return n, nil
	}
	return s, nil
}

func (s Stack) condition(name string) (bool, error) {
	if v, ok := s.Conditions[name]; ok {
		return v, nil
	}
	def, ok := s.Template.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	v, err := s.eval(def)
	if err != nil {
		return false, fmt.Errorf("Conditions.%s: %v", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("Conditions.%s: not a boolean", name)
	}
	s.Conditions[name] = b
	return b, nil
}

var subVariable = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

// eval resolves the intrinsic functions in v.
func (s Stack) eval(v any) (any, error) {
	switch v := v.(type) {
	case []any:
		out := []any{}
		for i, item := range v {
			r, err := s.eval(item)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %v", i, err)
			}
			if _, drop := r.(noValue); !drop {
				out = append(out, r)
			}
		}
		return out, nil
	case map[string]any:
		if len(v) == 1 {
			for fn, arg := range v {
				if fn == "Ref" || fn == "Condition" || strings.HasPrefix(fn, "Fn::") {
					return s.intrinsic(fn, arg)
				}
			}
		}
		out := map[string]any{}
		for k, item := range v {
			r, err := s.eval(item)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", k, err)
			}
			if _, drop := r.(noValue); !drop {
				out[k] = r
			}
		}
		return out, nil
	}
	return v, nil
}

func (s Stack) intrinsic(fn string, arg any) (any, error) {
	args, _ := arg.([]any)
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		return s.ref(name)
	case "Fn::GetAtt":
		if len(args) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt: want [resource, attribute]")
		}
		name := fmt.Sprint(args[0])
		if _, ok := s.Template.Resources[name]; !ok {
			return nil, fmt.Errorf("Fn::GetAtt: no resource %s", name)
		}
		if err := s.exists(name); err != nil {
			return nil, err
		}
		return "${" + name + "." + fmt.Sprint(args[1]) + "}", nil
	case "Condition":
		name, _ := arg.(string)
		return s.condition(name)
	case "Fn::If":
		if len(args) != 3 {
			return nil, fmt.Errorf("Fn::If: want [condition, then, else]")
		}
		holds, err := s.condition(fmt.Sprint(args[0]))
		if err != nil {
			return nil, err
		}
		if holds {
			return s.eval(args[1])
		}
		return s.eval(args[2])
	case "Fn::Not", "Fn::And", "Fn::Or":
		var bs []bool
		for _, a := range args {
			r, err := s.eval(a)
			if err != nil {
				return nil, err
			}
			b, ok := r.(bool)
			if !ok {
				return nil, fmt.Errorf("%s: %v is not a condition", fn, a)
			}
			bs = append(bs, b)
		}
		switch {
		case fn == "Fn::Not" && len(bs) == 1:
			return !bs[0], nil
		case fn == "Fn::And" && len(bs) > 0:
			return !slices.Contains(bs, false), nil
		case fn == "Fn::Or" && len(bs) > 0:
			return slices.Contains(bs, true), nil
		}
		return nil, fmt.Errorf("%s: wrong number of conditions", fn)
	case "Fn::Equals":
		if len(args) != 2 {
			return nil, fmt.Errorf("Fn::Equals: want two values")
		}
		a, err := s.eval(args[0])
		if err != nil {
			return nil, err
		}
		b, err := s.eval(args[1])
		if err != nil {
			return nil, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	case "Fn::Sub":
		text, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Sub: only the string form is supported")
		}
		var err error
		out := subVariable.ReplaceAllStringFunc(text, func(m string) string {
			name := m[2 : len(m)-1]
			if res, _, isAtt := strings.Cut(name, "."); isAtt {
				if _, ok := s.Template.Resources[res]; !ok {
					err = fmt.Errorf("Fn::Sub: no resource %s", res)
				}
				return m
			}
			v, e := s.ref(name)
			if e != nil {
				err = e
			}
			return fmt.Sprint(v)
		})
		return out, err
	case "Fn::Join":
		if len(args) != 2 {
			return nil, fmt.Errorf("Fn::Join: want [delimiter, list]")
		}
		list, err := s.eval(args[1])
		if err != nil {
			return nil, err
		}
		items, _ := list.([]any)
		strs := make([]string, len(items))
		for i, x := range items {
			strs[i] = fmt.Sprint(x)
		}
		return strings.Join(strs, fmt.Sprint(args[0])), nil
	}
	return nil, fmt.Errorf("%s is not an intrinsic function this reader evaluates", fn)
}

func (s Stack) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := s.Values[name]; ok {
		return v, nil
	}
	if _, ok := s.Template.Resources[name]; !ok {
		return nil, fmt.Errorf("Ref: %s is no parameter or resource", name)
	}
	if err := s.exists(name); err != nil {
		return nil, err
	}
	return "${" + name + "}", nil
}

// exists fails for a resource whose condition does not hold.
func (s Stack) exists(name string) error {
	if c, ok := s.Template.Resources[name]["Condition"].(string); ok {
		if holds, err := s.condition(c); err != nil || !holds {
			return fmt.Errorf("%s is not created (condition %s is false)", name, c)
		}
	}
	return nil
}

// Decode reads a resource's Properties into a Go value (through JSON, so a
// struct's json tags name the properties; encoding/json matches them
// without regard to case).
func (r Resource) Decode(into any) error {
	b, err := json.Marshal(r.Properties)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// OfType lists the logical IDs of the stack's resources of one type, sorted.
func (s Stack) OfType(typ string) []string {
	var ids []string
	for id, r := range s.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Refers reports whether v is a Ref to the resource (or, with attr, its
// GetAtt), as Resolve leaves them.
func Refers(v any, resource, attr string) bool {
	if attr != "" {
		resource += "." + attr
	}
	return v == "${"+resource+"}"
}

// DependsOn reports whether CloudFormation creates resource a after b: a
// names b in DependsOn, or refers to it in its properties or metadata, or
// depends on something that does.
func (s Stack) DependsOn(a, b string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(n string) bool {
		if seen[n] {
			return false
		}
		seen[n] = true
		for _, d := range s.dependencies(n) {
			if d == b || walk(d) {
				return true
			}
		}
		return false
	}
	return walk(a)
}

// dependencies are the resources one resource names directly.
func (s Stack) dependencies(name string) []string {
	r := s.Resources[name]
	deps := slices.Clone(r.DependsOn)
	b, _ := json.Marshal([]any{r.Properties, r.Metadata})
	for _, m := range subVariable.FindAllStringSubmatch(string(b), -1) {
		res, _, _ := strings.Cut(m[1], ".")
		if _, ok := s.Resources[res]; ok {
			deps = append(deps, res)
		}
	}
	return deps
}
