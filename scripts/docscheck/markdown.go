// Package docscheck holds README.md and docs/*.md to the repository: every
// relative link and anchor resolves, and every script path, bake target,
// bake variable, environment setting and endpoint the pages name exists (see
// check.go for the rules, repo.go for where the names come from).
//
// No Markdown library: the pages are read line by line, which is enough for
// what is checked. The scanner knows fenced code blocks (``` and ~~~), inline
// code spans (on one line), ATX headings (# ...), pipe tables, inline and
// reference links and <img src>; it does not know indented code blocks or
// setext headings (the pages use neither: a setext heading's anchor would
// be reported missing, not passed).
package docscheck

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

type lineKind int

const (
	textLine  lineKind = iota
	codeLine           // inside a fenced code block
	fenceLine          // an opening or closing fence
)

// span is an inline code span: its content and the byte offset of its
// opening backtick in the line.
type span struct {
	text  string
	start int
}

type line struct {
	num    int // 1-based
	text   string
	kind   lineKind
	spans  []span // inline code, text lines only
	masked string // text with every code span blanked, so that links and table pipes in code are not seen
}

// page is one Markdown file, by its path relative to the repository root.
type page struct {
	name  string
	lines []line
}

func parsePage(name, src string) page {
	p := page{name: name}
	var fence string // the opening fence while inside a code block
	for i, t := range strings.Split(strings.TrimSuffix(src, "\n"), "\n") {
		t = strings.TrimSuffix(t, "\r")
		l := line{num: i + 1, text: t, masked: t}
		trimmed := strings.TrimLeft(t, " \t")
		switch {
		case fence != "":
			if run := leadingRun(trimmed, fence[0]); len(run) >= len(fence) && strings.TrimSpace(trimmed[len(run):]) == "" {
				fence = ""
				l.kind = fenceLine
			} else {
				l.kind = codeLine
			}
		case isFence(trimmed):
			fence = leadingRun(trimmed, trimmed[0])
			l.kind = fenceLine
		default:
			l.spans, l.masked = codeSpans(t)
		}
		p.lines = append(p.lines, l)
	}
	return p
}

func isFence(s string) bool {
	if !strings.HasPrefix(s, "```") && !strings.HasPrefix(s, "~~~") {
		return false
	}
	// A backtick fence's info string holds no backtick (else it is inline code).
	return s[0] == '~' || !strings.Contains(s[len(leadingRun(s, '`')):], "`")
}

func leadingRun(s string, c byte) string {
	i := 0
	for i < len(s) && s[i] == c {
		i++
	}
	return s[:i]
}

// codeSpans finds the inline code of a line: a run of n backticks up to the
// next run of exactly n (CommonMark); an unclosed run is literal text.
func codeSpans(t string) ([]span, string) {
	var spans []span
	masked := []byte(t)
	for i := 0; i < len(t); {
		if t[i] != '`' {
			i++
			continue
		}
		open := leadingRun(t[i:], '`')
		j := i + len(open)
		end := -1
		for k := j; k < len(t); {
			if t[k] != '`' {
				k++
				continue
			}
			run := leadingRun(t[k:], '`')
			if len(run) == len(open) {
				end = k
				break
			}
			k += len(run)
		}
		if end < 0 {
			i = j
			continue
		}
		text := t[j:end]
		if len(text) > 2 && text[0] == ' ' && text[len(text)-1] == ' ' && strings.TrimSpace(text) != "" {
			text = text[1 : len(text)-1]
		}
		spans = append(spans, span{text: text, start: i})
		for k := i; k < end+len(open); k++ {
			masked[k] = ' '
		}
		i = end + len(open)
	}
	return spans, string(masked)
}

var atxHeading = regexp.MustCompile(`^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)

// anchors lists the anchors of the page's headings as GitHub makes them.
func (p page) anchors() map[string]bool {
	var s slugger
	out := map[string]bool{}
	for _, l := range p.lines {
		if l.kind != textLine {
			continue
		}
		if m := atxHeading.FindStringSubmatch(l.text); m != nil {
			out[s.slug(m[1])] = true
		}
	}
	return out
}

var (
	linkMarkup = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTag    = regexp.MustCompile(`<[^>]+>`)
)

// slugger makes heading anchors as GitHub does (github-slugger): lower
// case; everything but letters, digits, spaces, '-' and '_' dropped; each
// space a '-'; a repeated anchor gets -1, -2, ...
type slugger struct{ seen map[string]int }

func (s *slugger) slug(heading string) string {
	heading = linkMarkup.ReplaceAllString(heading, "$1")
	heading = htmlTag.ReplaceAllString(heading, "")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), unicode.IsMark(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	if s.seen == nil {
		s.seen = map[string]int{}
	}
	base, slug := b.String(), b.String()
	for {
		if _, taken := s.seen[slug]; !taken {
			break
		}
		s.seen[base]++
		slug = base + "-" + strconv.Itoa(s.seen[base])
	}
	s.seen[slug] = 0
	return slug
}

// table is a pipe table: its header cells (lower case, without markup) and
// its rows.
type table struct {
	header []string
	rows   []row
}

type row struct {
	line  line
	cells [][]span // the inline code of each cell
}

var tableSeparator = regexp.MustCompile(`^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$`)

func (p page) tables() []table {
	var out []table
	for i := 0; i+1 < len(p.lines); i++ {
		h, sep := p.lines[i], p.lines[i+1]
		if h.kind != textLine || !strings.HasPrefix(strings.TrimSpace(h.text), "|") || sep.kind != textLine || !tableSeparator.MatchString(sep.text) {
			continue
		}
		var t table
		for _, c := range cellBounds(h.masked) {
			t.header = append(t.header, strings.ToLower(strings.Trim(strings.TrimSpace(h.text[c[0]:c[1]]), "`*_")))
		}
		i += 2
		for ; i < len(p.lines) && p.lines[i].kind == textLine && strings.HasPrefix(strings.TrimSpace(p.lines[i].text), "|"); i++ {
			l := p.lines[i]
			r := row{line: l}
			for _, c := range cellBounds(l.masked) {
				var cell []span
				for _, s := range l.spans {
					if s.start >= c[0] && s.start < c[1] {
						cell = append(cell, s)
					}
				}
				r.cells = append(r.cells, cell)
			}
			t.rows = append(t.rows, r)
		}
		out = append(out, t)
	}
	return out
}

// cellBounds splits a table line (code already blanked) at its unescaped
// pipes, leaving out the outer ones.
func cellBounds(masked string) [][2]int {
	var pipes []int
	for i := 0; i < len(masked); i++ {
		if masked[i] == '\\' {
			i++
			continue
		}
		if masked[i] == '|' {
			pipes = append(pipes, i)
		}
	}
	var out [][2]int
	start := 0
	if len(pipes) > 0 && strings.TrimSpace(masked[:pipes[0]]) == "" {
		start, pipes = pipes[0]+1, pipes[1:]
	}
	for _, p := range pipes {
		out = append(out, [2]int{start, p})
		start = p + 1
	}
	if strings.TrimSpace(masked[start:]) != "" {
		out = append(out, [2]int{start, len(masked)})
	}
	return out
}

// link is a link target named on a line.
type link struct {
	line   int
	target string
}

var (
	inlineLink = regexp.MustCompile(`\[[^\]]*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)`)
	refDef     = regexp.MustCompile(`^ {0,3}\[([^\]]+)\]:\s*(\S+)`)
	refUse     = regexp.MustCompile(`\[([^\]]+)\]\[([^\]]*)\]`)
	imgSrc     = regexp.MustCompile(`(?i)<img\s[^>]*\bsrc\s*=\s*"([^"]*)"`)
)

// links lists every link target of the page (inline links and images,
// reference definitions, <img src>), outside code, and the reference
// links whose label has no definition.
func (p page) links() (links []link, undefined []link) {
	defs := map[string]bool{}
	for _, l := range p.lines {
		if l.kind != textLine {
			continue
		}
		if m := refDef.FindStringSubmatch(l.masked); m != nil {
			defs[strings.ToLower(m[1])] = true
			links = append(links, link{l.num, m[2]})
			continue
		}
		for _, m := range inlineLink.FindAllStringSubmatch(l.masked, -1) {
			links = append(links, link{l.num, strings.Trim(m[1], "<>")})
		}
		for _, m := range imgSrc.FindAllStringSubmatch(l.masked, -1) {
			links = append(links, link{l.num, m[1]})
		}
	}
	for _, l := range p.lines {
		if l.kind != textLine || refDef.MatchString(l.masked) {
			continue
		}
		for _, m := range refUse.FindAllStringSubmatch(l.masked, -1) {
			label := m[2]
			if label == "" {
				label = m[1]
			}
			if !defs[strings.ToLower(label)] {
				undefined = append(undefined, link{l.num, label})
			}
		}
	}
	return links, undefined
}

// unit is a piece of code the pages show: one inline code span, or one
// line of a code block (with its \ continuation lines joined).
type unit struct {
	line   int
	text   string
	inline bool
	span   span // the inline span (inline units)
}

func (p page) units() []unit {
	var out []unit
	for i := 0; i < len(p.lines); i++ {
		l := p.lines[i]
		switch l.kind {
		case textLine:
			for _, s := range l.spans {
				out = append(out, unit{line: l.num, text: s.text, inline: true, span: s})
			}
		case codeLine:
			text := l.text
			for strings.HasSuffix(text, "\\") && i+1 < len(p.lines) && p.lines[i+1].kind == codeLine {
				i++
				text = strings.TrimSuffix(text, "\\") + " " + p.lines[i].text
			}
			out = append(out, unit{line: l.num, text: text})
		}
	}
	return out
}
