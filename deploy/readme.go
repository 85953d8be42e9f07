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

// The README's Deploy section is what a new user pastes; its AWS commands
// are read here so the tests check the commands as written.

var (
	ruleDeployCommand      = newRule("ecs.readme-deploy-command", "the README deploys the stack with --template-file, --stack-name, --region and CAPABILITY_IAM")
	ruleParameterOverrides = newRule("ecs.parameter-overrides", "every --parameter-overrides key is a template parameter, and every parameter without a Default is given")
)

// AWSCommands returns every `aws ...` command in the sh blocks of the
// README's Deploy section, each as its words (quotes removed, line
// continuations joined); a command inside $(...) or before a | counts too.
func AWSCommands(readme string) [][]string {
	_, section, _ := strings.Cut(readme, "\n## Deploy\n")
	section, _, _ = strings.Cut(section, "\n## ")
	var cmds [][]string
	for block := range strings.SplitSeq(section, "```sh\n") {
		block, _, found := strings.Cut(block, "\n```")
		if !found || block == section {
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

// CheckDeployCommand checks the README's `aws cloudformation deploy`
// against the template, and returns its --parameter-overrides (what a
// user's stack gets). `aws cloudformation deploy` talks to AWS before it
// validates anything and drops unknown parameter keys silently, so the
// command cannot be checked by running it here.
func CheckDeployCommand(readme string, t Template) (map[string]string, []error) {
	var errs problems
	var deploys [][]string
	for _, c := range AWSCommands(readme) {
		if len(c) > 2 && c[1] == "cloudformation" && c[2] == "deploy" {
			deploys = append(deploys, c)
		}
	}
	if len(deploys) != 1 {
		errs.add(ruleDeployCommand, "README.md ## Deploy", "%d `aws cloudformation deploy` commands, want one", len(deploys))
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
	for name, want := range map[string]string{"--template-file": "deploy/" + ECSStackFile, "--capabilities": "CAPABILITY_IAM", "--stack-name": "", "--region": ""} {
		if got := flags[name]; len(got) != 1 || (want != "" && got[0] != want) {
			errs.add(ruleDeployCommand, "README.md aws cloudformation deploy "+name, "%q, want %s", got, cmp.Or(want, "one value"))
		}
	}
	params := map[string]string{}
	for _, kv := range flags["--parameter-overrides"] {
		k, v, ok := strings.Cut(kv, "=")
		if _, known := t.Parameters[k]; !ok || !known {
			errs.add(ruleParameterOverrides, "README.md aws cloudformation deploy --parameter-overrides "+k,
				"not a parameter of %s (%v): `aws cloudformation deploy` would drop it without a word", ECSStackFile, slices.Sorted(maps.Keys(t.Parameters)))
			continue
		}
		params[k] = v
	}
	for _, name := range slices.Sorted(maps.Keys(t.Parameters)) {
		if _, given := params[name]; !given && t.Parameters[name].Default == nil {
			errs.add(ruleParameterOverrides, "README.md aws cloudformation deploy --parameter-overrides", "no %s: the parameter has no Default", name)
		}
	}
	return params, errs
}

// ReadmeStackParameters are the --parameter-overrides of the README's
// deploy command, in the repository whose top folder is root: what a user
// who pastes the README deploys. An error if the command breaks a rule.
func ReadmeStackParameters(root string) (map[string]string, error) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		return nil, err
	}
	src, err := files.ReadFile(ECSStackFile)
	if err != nil {
		return nil, err
	}
	t, err := ParseTemplate(src)
	if err != nil {
		return nil, err
	}
	params, errs := CheckDeployCommand(string(readme), t)
	return params, errors.Join(errs...)
}
