package workflows

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// root is the repository's root, from this package's directory.
const root = "../../.."

func load(t *testing.T, dir string) (*Set, Repo) {
	t.Helper()
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadRepo(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

// TestWorkflows: .github/workflows keeps every rule.
func TestWorkflows(t *testing.T) {
	s, r := load(t, filepath.Join(root, ".github/workflows"))
	for _, p := range Check(s, r) {
		t.Error(p)
	}
	if len(s.Workflows) < 3 {
		t.Errorf("read %d workflows, want ci.yml, release.yml and mutate.yml at least", len(s.Workflows))
	}
}

// brokenCase is a broken copy of the workflows: the real files with edits
// (each must match exactly once, so a case never silently stops applying),
// and the problem the named rule must report (every string in want, in one
// line), or none when want is empty.
type brokenCase struct {
	Name  string
	Rule  string
	Edits []struct {
		File, Replace, With string
	}
	Want []string
}

// TestBrokenCopies: each broken copy in testdata/broken.json is refused by
// its rule with a line naming the file, job and key; every rule has one.
func TestBrokenCopies(t *testing.T) {
	b, err := os.ReadFile("testdata/broken.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []brokenCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	broken := map[string]bool{}
	for _, tc := range cases {
		if len(tc.Want) > 0 {
			broken[tc.Rule] = true
		}
	}
	for _, rule := range Rules {
		if !broken[rule.Name] {
			t.Errorf("rule %s has no broken copy in testdata/broken.json", rule.Name)
		}
	}

	real := filepath.Join(root, ".github/workflows")
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			dir := t.TempDir()
			files, err := filepath.Glob(filepath.Join(real, "*.yml"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no workflows in %s: %v", real, err)
			}
			text := map[string]string{}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				text[filepath.Base(f)] = string(b)
			}
			for _, e := range tc.Edits {
				if n := strings.Count(text[e.File], e.Replace); n != 1 {
					t.Fatalf("%s: %q occurs %d times, want once: update the case to the workflow", e.File, e.Replace, n)
				}
				text[e.File] = strings.Replace(text[e.File], e.Replace, e.With, 1)
			}
			for name, content := range text {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, r := load(t, dir)
			var check func(*Set, Repo) []string
			for _, rule := range Rules {
				if rule.Name == tc.Rule {
					check = rule.Check
				}
			}
			if check == nil {
				t.Fatalf("no rule %q", tc.Rule)
			}
			problems := check(s, r)
			if len(tc.Want) == 0 {
				for _, p := range problems {
					t.Errorf("unexpected: %s", p)
				}
				return
			}
			for _, p := range problems {
				if containsAll(p, tc.Want) {
					t.Logf("refused: %s", p)
					return
				}
			}
			t.Errorf("rule %s did not report %q; it reported:\n%s", tc.Rule, tc.Want, strings.Join(problems, "\n"))
		})
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
