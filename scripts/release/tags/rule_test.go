package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRule: which tags a release moves, for tag sets a repository goes
// through, whatever order its releases finish in.
func TestRule(t *testing.T) {
	for _, tc := range []struct {
		name     string
		version  string
		repoTags string // the repository's tags, space-separated
		want     string // the tags moved, space-separated
	}{
		{"first release", "v1.0.0", "v1.0.0", "1.0.0 1.0 latest"},
		{"first release, not yet among the tags", "v1.0.0", "", "1.0.0 1.0 latest"},
		{"a newer patch", "v1.2.4", "v1.2.3 v1.2.4 v1.1.0", "1.2.4 1.2 latest"},
		{"a newer minor", "v1.3.0", "v1.2.4 v1.3.0", "1.3.0 1.3 latest"},
		{"backport to 1.2 after 1.3.0: 1.2 moves, latest does not", "v1.2.5", "v1.2.4 v1.3.0 v1.2.5", "1.2.5 1.2"},
		{"backport to 1.1 after 1.2 and 2.0", "v1.1.9", "v1.1.8 v1.2.0 v2.0.0 v1.1.9", "1.1.9 1.1"},
		{"an older tag released again (re-run): moves nothing floating", "v1.2.3", "v1.2.3 v1.2.4", "1.2.3"},
		{"two at once, the lower finishing last: it moves nothing floating", "v1.3.0", "v1.3.0 v1.3.1", "1.3.0"},
		{"two at once, the higher", "v1.3.1", "v1.3.0 v1.3.1", "1.3.1 1.3 latest"},
		{"10 above 9 (numeric, not text, order)", "v1.10.0", "v1.9.0 v1.10.0", "1.10.0 1.10 latest"},
		{"a new major", "v2.0.0", "v1.9.9 v2.0.0", "2.0.0 2.0 latest"},
		{"a pre-release moves neither", "v2.0.0-rc.1", "v1.9.9 v2.0.0-rc.1", "2.0.0-rc.1"},
		{"a pre-release above every release moves neither", "v3.0.0-beta.2", "v2.0.0 v3.0.0-beta.1 v3.0.0-beta.2", "3.0.0-beta.2"},
		{"pre-releases do not count as higher", "v1.4.0", "v1.4.0 v1.5.0-rc.1 v2.0.0-alpha", "1.4.0 1.4 latest"},
		{"the release after its own pre-release", "v2.0.0", "v2.0.0-rc.1 v2.0.0-rc.2 v2.0.0 v1.9.9", "2.0.0 2.0 latest"},
		{"tags that are not versions are ignored", "v1.0.1", "v1 v1.0 vnext v1.0.0 v9.0.0+build release v1.0.1", "1.0.1 1.0 latest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Rule(tc.version, strings.Fields(tc.repoTags))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(m.Tags(), " "); got != tc.want {
				t.Errorf("Rule(%s, [%s]) moves %q, want %q (%s)", tc.version, tc.repoTags, got, tc.want, strings.Join(m.Why, "; "))
			}
		})
	}
}

func TestRuleRefusesWhatIsNotAVersion(t *testing.T) {
	for _, v := range []string{"", "1.2.3", "v1.2", "v1", "v1.2.3+build.5", "main", "v01.2.3"} {
		if _, err := Rule(v, nil); err == nil || !strings.Contains(err.Error(), "not a release tag") {
			t.Errorf("Rule(%q): error %v, want one saying it is not a release tag", v, err)
		}
	}
}

// TestCommand: what release.yml runs, end to end: tags on stdin, image
// references on stdout, the reasons on stderr, bad input refused with exit 2.
func TestCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-image", "ghcr.io/acme/svc", "-version", "v1.2.5", "-sha", strings.Repeat("ab", 20)},
		strings.NewReader("v1.2.4\nv1.3.0\nv1.2.5\n"), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if want := "ghcr.io/acme/svc:1.2.5\nghcr.io/acme/svc:1.2\nghcr.io/acme/svc:sha-abababa\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
	if !strings.Contains(errOut.String(), "latest stays: 1.3.0 is higher") {
		t.Errorf("stderr does not say why latest stays: %q", errOut.String())
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-image", "r", "-version", "1.2.5"}, `"1.2.5" is not a release tag`},
		{[]string{"-version", "v1.2.5"}, "-image REPOSITORY"},
		{[]string{"-image", "r", "-version", "v1.2.5", "-sha", "abc"}, `-sha "abc"`},
		{[]string{"-image", "r", "-version", "v1.2.5", "extra"}, "no arguments"},
	} {
		out.Reset()
		errOut.Reset()
		if code := run(tc.args, strings.NewReader(""), &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tc.want) || out.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 2 naming %q and nothing on stdout", tc.args, code, errOut.String(), out.String(), tc.want)
		}
	}
}
