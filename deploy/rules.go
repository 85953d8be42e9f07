package deploy

import "fmt"

// A Rule is one thing deploy/'s checks hold the files to. Every problem a
// check reports names its rule, and deploy_test.go breaks every rule once on
// purpose (a rule nothing breaks could be dropped without a test noticing).
type Rule struct {
	ID   string // e.g. "ecs.user"
	What string // what the files must do
}

// Rules are the rules of the Go checks, in the order they are declared.
// validate_aws_request.py (botocore), cfn-lint, kube-score and the Pod
// Security Standards add their own (see the test's list).
var Rules []Rule

func newRule(id, what string) Rule {
	r := Rule{id, what}
	Rules = append(Rules, r)
	return r
}

// A Problem is a rule a file breaks, at a field.
type Problem struct {
	Rule  string // the Rule's ID
	Field string // where, e.g. containers[0].readinessProbe.failureThreshold
	Msg   string
}

func (p Problem) Error() string { return fmt.Sprintf("%s: %s [%s]", p.Field, p.Msg, p.Rule) }

// problems collects the Problems of one check.
type problems []error

func (p *problems) add(r Rule, field, format string, args ...any) {
	*p = append(*p, Problem{r.ID, field, fmt.Sprintf(format, args...)})
}
