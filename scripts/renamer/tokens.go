package main

import (
	"strings"
)

// kept lists the texts that contain a name the rename replaces but do not
// name the service: they stay as they are, wherever they appear. `-h`
// prints this list and the rename test allows exactly these.
var kept = []struct{ text, why string }{
	{"/var/cache/fiber-service", "FIBER_CACHE_DIR's default, the machine-wide cache of what the scripts " +
		"build or fetch once (BuildKit, buildx and the Dockerfile frontend, about 5 minutes to build; " +
		"gotestsum, shfmt, actionlint, kube-score, cosign; the stand-in base images; the local " +
		"registry's data). It names the template's tooling, not your service: every copy of the " +
		"template on a machine shares it instead of building it again."},
}

// keptTexts is the text of every kept entry.
func keptTexts() []string {
	var texts []string
	for _, k := range kept {
		texts = append(texts, k.text)
	}
	return texts
}

// A rule replaces one name by another wherever the name is a whole token.
type rule struct {
	kind     string // what the name is: module path, source URL, image
	old, new string
	// path: the name is a path (module path, URL), whose tokens are made
	// of letters, digits and _ ~ - ; otherwise a name (the image), whose
	// tokens are letters, digits and _ , so that a hyphen after it starts
	// a suffix: NAME-arm64 is the name with a suffix.
	path bool
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func pathByte(c byte) bool { return isAlnum(c) || c == '_' || c == '~' || c == '-' }
func nameByte(c byte) bool { return isAlnum(c) || c == '_' }

// continues reports whether the token goes on at text[i]: a token byte, or a
// dot followed by one (".v2", ".git"; a full stop ends it).
func continues(text string, i int, token func(byte) bool) bool {
	switch {
	case i >= len(text):
		return false
	case token(text[i]):
		return true
	}
	return text[i] == '.' && i+1 < len(text) && token(text[i+1])
}

// startsAt reports whether old is a whole token at text[i].
func (r rule) startsAt(text string, i int) bool {
	if !strings.HasPrefix(text[i:], r.old) {
		return false
	}
	token := nameByte
	if r.path {
		token = pathByte
	}
	if i > 0 {
		// Nothing of a longer token before: "my-NAME", "x.NAME", "xgithub.com/...".
		if c := text[i-1]; token(c) || c == '.' || c == '-' {
			return false
		}
	}
	return !continues(text, i+len(r.old), token)
}

// replacer replaces every rule's name in one pass, left to right, so that no
// new name is replaced again; at each position the kept texts come first,
// then the longest name.
type replacer struct {
	rules []rule // longest old first
	kept  []string
}

// counts is the number of replacements per kind, and "kept".
type counts map[string]int

func (rp replacer) replace(text string) (string, counts) {
	var b strings.Builder
	n := counts{}
	done := 0
	for i := 0; i < len(text); {
		if k := rp.keptAt(text, i); k != "" {
			n["kept"]++
			i += len(k)
			continue
		}
		r, ok := rp.ruleAt(text, i)
		if !ok {
			i++
			continue
		}
		b.WriteString(text[done:i])
		b.WriteString(r.new)
		n[r.kind]++
		i += len(r.old)
		done = i
	}
	if done == 0 {
		return text, n
	}
	b.WriteString(text[done:])
	return b.String(), n
}

// keptAt is the kept text at text[i] (a whole path token at its end), or "".
func (rp replacer) keptAt(text string, i int) string {
	for _, k := range rp.kept {
		if strings.HasPrefix(text[i:], k) && !continues(text, i+len(k), pathByte) {
			return k
		}
	}
	return ""
}

func (rp replacer) ruleAt(text string, i int) (rule, bool) {
	for _, r := range rp.rules {
		if r.startsAt(text, i) {
			return r, true
		}
	}
	return rule{}, false
}
