package docscheck

import (
	"regexp"
	"strings"
)

// command is one simple command of a unit of code: the names of its
// leading NAME=value assignments and its words.
type command struct {
	export  bool // export NAME=value ...
	assigns []string
	args    []string
}

var shellName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// commands splits a line of shell at |, ||, &&, ;, & and parentheses.
func commands(text string) []command {
	var out []command
	var words []string
	end := func() {
		if len(words) > 0 {
			out = append(out, newCommand(words))
		}
		words = nil
	}
	for _, w := range shellWords(text) {
		switch w {
		case "|", "||", "&", "&&", ";", "(", ")":
			end()
		default:
			words = append(words, w)
		}
	}
	end()
	return out
}

func newCommand(words []string) command {
	var c command
	if len(words) > 0 && words[0] == "export" {
		c.export, words = true, words[1:]
	}
	for len(words) > 0 {
		name, _, ok := strings.Cut(words[0], "=")
		if !ok || !shellName.MatchString(name) {
			break
		}
		c.assigns, words = append(c.assigns, name), words[1:]
	}
	c.args = words
	return c
}

// shellWords splits a line as the shell would, well enough for the pages'
// commands: quotes removed, $( ... ) kept whole in its word, operators as
// words of their own, a # at the start of a word ending the line.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
		}
		cur.Reset()
		inWord = false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '#' && !inWord:
			flush()
			return words
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				j = len(s) - i - 1
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '$' && i+1 < len(s) && s[i+1] == '(':
			depth, j := 0, i+1
			for ; j < len(s); j++ {
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			cur.WriteString(s[i:min(j+1, len(s))])
			inWord = true
			i = j
		case strings.IndexByte("|;&()", c) >= 0:
			flush()
			op := string(c)
			if (c == '|' || c == '&') && i+1 < len(s) && s[i+1] == c {
				op += op
				i++
			}
			words = append(words, op)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words
}
