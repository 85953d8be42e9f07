package deploy

import (
	"cmp"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The README and docs/deploy.md are what a new user pastes; their AWS
// commands are read here so the tests check the commands as written.

// CommandPages are the pages, relative to the repository's top folder, whose
// sh blocks hold AWS commands a user runs. Each deploys the stack once, with
// the same parameters.
var CommandPages = []string{"README.md", "docs/deploy.md"}

var (
	ruleDeployCommand      = newRule("ecs.deploy-command", "each page of CommandPages deploys the stack once, with --template-file, --stack-name, --region and CAPABILITY_IAM and the same parameters")
	ruleParameterOverrides = newRule("ecs.parameter-overrides", "every --parameter-overrides key is a template parameter, and every parameter without a Default is given")
)

// AWSCommands returns every `aws ...` command in the sh blocks of a
// Markdown page, each as its words (quotes removed, line continuations
// joined); a command inside $(...) or before a | counts too.
func AWSCommands(page string) [][]string {
	var cmds [][]string
	for i, block := range strings.Split(page, "```sh\n") {
		block, _, found := strings.Cut(block, "\n```")
		if !found || i == 0 {
			continue
		}
		for line := range strings.SplitSeq(strings.ReplaceAll(block, "\\\n", " "), "\n") {
			for {
				i := strings.Index(line, "aws ")
				if i < 0 {
					break
				}
				if i > 0 && !strings.ContainsRune(" \t($|", rune(line[i-1])) {
					line = line[i+4:]
					continue
				}
				words, rest := shellWords(line[i:])
				cmds = append(cmds, words)
				line = rest
			}
		}
	}
	return cmds
}

// shellWords splits a command line into words, removing quotes, up to an
// unquoted |, ), ; or # (a comment); rest is what follows.
func shellWords(line string) (words []string, rest string) {
	var w strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			w.WriteByte(c)
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case strings.IndexByte("|);#", c) >= 0:
			if inWord {
				words = append(words, w.String())
			}
			return words, line[i+1:]
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, ""
}

// CheckDeployCommand checks the `aws cloudformation deploy` of the page
// named name against the template, and returns its --parameter-overrides
// (what a user's stack gets). `aws cloudformation deploy` talks to AWS
// before it validates anything and drops unknown parameter keys silently,
// so the command cannot be checked by running it here.
func CheckDeployCommand(name, page string, t Template) (map[string]string, []error) {
	var errs problems
	var deploys [][]string
	for _, c := range AWSCommands(page) {
		if len(c) > 2 && c[1] == "cloudformation" && c[2] == "deploy" {
			deploys = append(deploys, c)
		}
	}
	if len(deploys) != 1 {
		errs.add(ruleDeployCommand, name, "%d `aws cloudformation deploy` commands, want one", len(deploys))
		return nil, errs
	}
	flags := map[string][]string{}
	var flag string
	for _, w := range deploys[0][3:] {
		if strings.HasPrefix(w, "--") {
			flag = w
			flags[flag] = []string{}
			continue
		}
		flags[flag] = append(flags[flag], w)
	}
	for flag, want := range map[string]string{"--template-file": "deploy/" + ECSStackFile, "--capabilities": "CAPABILITY_IAM", "--stack-name": "", "--region": ""} {
		if got := flags[flag]; len(got) != 1 || (want != "" && got[0] != want) {
			errs.add(ruleDeployCommand, name+" aws cloudformation deploy "+flag, "%q, want %s", got, cmp.Or(want, "one value"))
		}
	}
	params := map[string]string{}
	for _, kv := range flags["--parameter-overrides"] {
		k, v, ok := strings.Cut(kv, "=")
		if _, known := t.Parameters[k]; !ok || !known {
			errs.add(ruleParameterOverrides, name+" aws cloudformation deploy --parameter-overrides "+k,
				"not a parameter of %s (%v): `aws cloudformation deploy` would drop it without a word", ECSStackFile, slices.Sorted(maps.Keys(t.Parameters)))
			continue
		}
		params[k] = v
	}
	for _, p := range slices.Sorted(maps.Keys(t.Parameters)) {
		if _, given := params[p]; !given && t.Parameters[p].Default == nil {
			errs.add(ruleParameterOverrides, name+" aws cloudformation deploy --parameter-overrides", "no %s: the parameter has no Default", p)
		}
	}
	return params, errs
}

// DocumentedStackParameters are the --parameter-overrides of the deploy
// command of CommandPages, in the repository whose top folder is root: what
// a user who pastes them deploys. An error if a command breaks a rule or
// the pages deploy with different parameters.
func DocumentedStackParameters(root string) (map[string]string, error) {
	t, err := ShippedTemplate()
	if err != nil {
		return nil, err
	}
	var first map[string]string
	var errs []error
	for i, name := range CommandPages {
		page, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			return nil, err
		}
		params, perrs := CheckDeployCommand(name, string(page), t)
		errs = append(errs, perrs...)
		switch {
		case i == 0:
			first = params
		case len(perrs) == 0 && !maps.Equal(params, first):
			var p problems
			p.add(ruleDeployCommand, name+" aws cloudformation deploy --parameter-overrides", "%v, want those of %s: %v", params, CommandPages[0], first)
			errs = append(errs, p...)
		}
	}
	return first, errors.Join(errs...)
}
