package docscheck

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestPages holds README.md and docs/*.md to the repository.
func TestPages(t *testing.T) {
	r, err := loadRepo("../..")
	if err != nil {
		t.Fatal(err)
	}
	total := map[string]int{}
	for _, name := range r.pages() {
		src, err := r.read(name)
		if err != nil {
			t.Fatal(err)
		}
		problems, counts := check(parsePage(name, src), r)
		for _, p := range problems {
			t.Error(p)
		}
		for k, n := range counts {
			total[k] += n
		}
	}
	t.Logf("checked in %v: %v", r.pages(), total)
	// A kind of name the pages never mention would pass unseen: each must
	// have been checked at least once, and the settings table must exist.
	for _, kind := range []string{"links", "anchors", "paths", "bake targets", "bake variables", "environment variables", "endpoints", "settings tables"} {
		if total[kind] == 0 {
			t.Errorf("no %s found in %v: the pages should name some (or the scanner lost them)", kind, r.pages())
		}
	}
}

// testRepo is a small repository in memory.
func testRepo() *repo {
	files := map[string]string{
		"README.md":           "# Top\n",
		"Dockerfile":          "FROM scratch\n",
		"docs/a.md":           "# A page\n\n## Intro\n\n## Offline build (no Docker engine)\n",
		"docs/chart.svg":      "<svg/>",
		"scripts/test":        "#!/usr/bin/env bash\n",
		"scripts/bench/run":   "#!/usr/bin/env bash\n",
		"scripts/build-image": "#!/usr/bin/env bash\n",
		"go.mod":              "module x\n",
		"app/routes.go":       "package app\n",
	}
	r := &repo{
		files: map[string]bool{}, dirs: map[string]bool{}, top: map[string]bool{},
		read: func(name string) (string, error) {
			if s, ok := files[name]; ok {
				return s, nil
			}
			return "", os.ErrNotExist
		},
		targets:       []string{"default", "_common", "image", "image-local", "image-digest"},
		matrixTargets: []string{"image-digest"},
		bakeVars:      []string{"REGISTRY", "TAG", "PLATFORMS"},
		settings:      []string{"PORT", "HOST", "READ_TIMEOUT"},
		toolVars:      map[string]string{"FIBER_CACHE_DIR": "scripts/test"},
		routes:        []string{"/", "/health", "/debug/sleep", metricsPath},
	}
	for name := range files {
		r.addFile(name)
	}
	return r
}

// Every check, failing and passing, on small pages.
func TestChecks(t *testing.T) {
	fence := "```"
	cases := []struct {
		name string
		page string // README.md when empty
		md   string
		want []string // one substring per expected problem, by line, then message
	}{
		{name: "links that resolve", md: "[a](docs/a.md) [d](scripts/) [s](scripts/test) [web](https://example.com/x) [m](mailto:a@b.c)\n![c](docs/chart.svg)\n<img src=\"docs/chart.svg\">"},
		{name: "link to a missing file", md: "see [the page](docs/missing.md)", want: []string{`README.md:1: link "docs/missing.md": docs/missing.md does not exist in the repository (docs/ holds: a.md, chart.svg)`}},
		{name: "link to a file as a directory", md: "[t](scripts/test/)", want: []string{"scripts/test is not a directory"}},
		{name: "link out of the repository", md: "[x](../elsewhere.md)", want: []string{"leaves the repository"}},
		{name: "link from docs/, relative to the page", page: "docs/b.md", md: "[t](../scripts/test) [i](a.md#intro) [r](../README.md#top) [bad](scripts/test)", want: []string{"docs/scripts/test does not exist"}},
		{name: "missing anchor", md: "[x](docs/a.md#setup)", want: []string{`docs/a.md has no heading with anchor #setup`}},
		{name: "anchor slugged as GitHub does", md: "[x](docs/a.md#offline-build-no-docker-engine)"},
		{name: "anchor with the heading's case", md: "[x](docs/a.md#Intro)", want: []string{`no heading with anchor #Intro: did you mean "intro"?`}},
		{name: "duplicate headings: -1 resolves, -2 does not", md: "## Setup\n## Setup\n[one](#setup-1) [two](#setup-2)", want: []string{"no heading with anchor #setup-2"}},
		{name: "anchor on a file that is not Markdown", md: "[r](app/routes.go#L10) [r](app/routes.go#routes)", want: []string{"anchor #routes on app/routes.go, which is not a Markdown page"}},
		{name: "links in a code block and inline code are not links", md: fence + "\n[x](missing.md)\n" + fence + "\n`[y](missing.md)` and ~~~ in text\n~~~\n[z](missing.md)\n~~~"},
		{name: "reference links", md: "[a][ok] [b][gone] [c][]\n\n[ok]: docs/a.md\n[c]: docs/nope.md", want: []string{"[gone] has no definition", "docs/nope.md does not exist"}},
		{name: "img src", md: `<img src="docs/nope.svg" alt="x">`, want: []string{"docs/nope.svg does not exist"}},

		{name: "script paths that exist", md: "`scripts/bench/run --only connections`, `scripts/bench/`, `./scripts/test.`, `Dockerfile`, `app/testdata/fuzz/<Target>/`, `docs/task-*.json`, `…/app.version`, `go.mod/Dockerfile`, `github.com/x/scripts/nope`, `docs`\n" + fence + "sh\nsudo scripts/test --quick # scripts/bench/run in a comment\n" + fence},
		{name: "missing script, inline", md: "run `scripts/bench/runn --only scale`", want: []string{`path "scripts/bench/runn" does not exist in the repository (scripts/bench/ holds: run)`}},
		{name: "missing script, code block", md: fence + "sh\nFOO=1 scripts/tset -h\n" + fence, want: []string{`README.md:2: path "scripts/tset" does not exist`}},
		{name: "missing script, link text", md: "[`scripts/nope`](scripts/test)", want: []string{`path "scripts/nope"`}},
		{name: "a file named as a directory", md: "`scripts/test/`", want: []string{`path "scripts/test/" is not a directory`}},
		{name: "other top-level paths", md: "`app/nope.go` and `docs/a.md` and `--template-file=docs/b.md` and `Dockerfile/go.sum`", want: []string{`"app/nope.go"`, `"docs/b.md"`, `"go.sum"`}},

		{name: "bake targets that exist", md: fence + "sh\ndocker buildx bake\ndocker buildx bake --set image.output=type=oci,dest=x.tar -f other.hcl --print image --push\nPLATFORMS=linux/arm64 docker buildx bake --builder b --metadata-file m.json image-digest image-digest-linux-arm64\n" + fence + "\n`buildx bake image-local` and `bake nope`"},
		{name: "missing bake target", md: "x\n\n" + fence + "sh\ndocker buildx bake image-lcoal --push\n" + fence, want: []string{`README.md:4: bake target "image-lcoal" is not in docker-bake.hcl: did you mean "image-local"? (targets and groups: default, image, image-local, image-digest)`}},
		{name: "missing bake target, inline", md: "`docker buildx bake validate`", want: []string{`bake target "validate"`}},
		{name: "missing bake target in --set", md: "`docker buildx bake --set imag.output=type=oci --set *.platform=linux/arm64 image`", want: []string{`bake target "imag" is not in docker-bake.hcl: did you mean "image"?`}},
		{name: "bake target table", md: "| target | what |\n|---|---|\n| `image` (default) | x |\n| group `ci` | y |", want: []string{`bake target "ci"`}},
		{name: "variables on a bake line", md: fence + "sh\nREGISTRY=r TAGG=1 docker buildx bake\nPORT=1 docker buildx bake image\n" + fence, want: []string{`"TAGG" is not a variable of docker-bake.hcl: did you mean "TAG"?`, `"PORT" is not a variable of docker-bake.hcl`}},
		{name: "variables on a build-image line", md: "`FIBER_CACHE_DIR=/x TAG=1 scripts/build-image -- --push` and `PORT=1 scripts/build-image`", want: []string{`"PORT" is neither a variable of docker-bake.hcl nor one a script reads`}},
		{name: "bake variable table", md: "| variable | default |\n| --- | --- |\n| `REGISTRY`, `TAGS` | |\n| `PLATFORMS` | |", want: []string{`bake variable "TAGS" is not in docker-bake.hcl: did you mean "TAG"?`}},

		{name: "environment variables that exist", md: "`READ_TIMEOUT`, `FIBER_CACHE_DIR`, `PLATFORMS=linux/s390x`, `HOST=127.0.0.2`, `CAPABILITY_IAM`, `PORT`, `Architecture=ARM64`\n" + fence + "sh\nURL=$(aws x)\nexport TAG=1\n" + fence},
		{name: "unknown environment variable", md: "set `READ_TIMEOUTS` or `LOG_LEVEL=debug`", want: []string{`"LOG_LEVEL"`, `environment variable "READ_TIMEOUTS" is not a setting of ` + "`server help`" + `, a variable of docker-bake.hcl or one a script reads: did you mean "READ_TIMEOUT"?`}},
		{name: "variables named by $NAME in inline code", md: "`$FIBER_CACHE_DIR/bin`, `${REGISTRY}/x:${TAG}`, `$(git log)`, `${FIBER_CACHE:-/var/cache}`\n" + fence + "sh\ncurl \"$URL/\"\n" + fence, want: []string{`"FIBER_CACHE" is not a setting of ` + "`server help`" + `, a variable of docker-bake.hcl or one a script reads: did you mean "FIBER_CACHE_DIR"?`}},
		{name: "unknown exported variable", md: fence + "sh\nexport TAG=1 NOPE_X=2\n" + fence, want: []string{`"NOPE_X"`}},
		{name: "settings table as server help", md: "| variable | default |\n|---|---|\n| `PORT` | 8080 |\n| `HOST` | |\n| `READ_TIMEOUT` | 10s |"},
		{name: "settings table with a variable missing", md: "| variable | default |\n|---|---|\n| `PORT` | 8080 |\n| `READ_TIMEOUT` | 10s |", want: []string{"README.md:1: settings table: HOST is missing (`server help` lists it after PORT)"}},
		{name: "settings table with one extra", md: "| variable | default |\n|---|---|\n| `PORT` | 8080 |\n| `HOST` | |\n| `READ_TIMEOUT` | 10s |\n| `WRITE_TIMEOUT` | 10s |", want: []string{`README.md:6: settings table: "WRITE_TIMEOUT" is not a setting`}},
		{name: "settings table out of order", md: "| variable | default |\n|---|---|\n| `HOST` | |\n| `PORT` | 8080 |\n| `READ_TIMEOUT` | 10s |", want: []string{"README.md:3: settings table: HOST is out of order: `server help` lists PORT here"}},

		{name: "endpoints that exist", md: "`GET /health`, `GET /debug/sleep?d=2s`, `/health`, `/`, `/metrics`, `/proc/1/status`, `/tmp`, `/users/:id`, `http://HOST:PORT/health`, GET /nope in prose\n" + fence + "sh\ncurl -H 'X: /nope' http://127.0.0.1:8080/health   # GET /: 200\ndocker run -p 127.0.0.1:8080:8080 image\n" + fence + "\n| method | path | answer |\n|---|---|---|\n| GET, HEAD | `/` | 200 |\n| any | unknown path | 404 |"},
		{name: "missing route after a method", md: "`GET /healthz`", want: []string{`endpoint "/healthz" is not a route of the service: did you mean "/health"?`}},
		{name: "missing route in curl", md: fence + "sh\ncurl http://127.0.0.1:8080/nope\ncurl \"$URL/version\"\n" + fence, want: []string{`README.md:2: endpoint "/nope"`, `README.md:3: endpoint "/version"`}},
		{name: "missing route in an endpoints table", md: "| method | path |\n|---|---|\n| GET | `/livez` |", want: []string{`endpoint "/livez"`}},
		{name: "missing route, inline path starting like a route", md: "`/debug/nap` and `/health/deep` and `/healthz`, `/metric`", want: []string{`endpoint "/debug/nap"`, `endpoint "/health/deep"`, `endpoint "/healthz"`, `endpoint "/metric"`}},
		{name: "the same problem twice on a line is one", md: "`GET /nope` and `curl localhost:8080/nope`", want: []string{`endpoint "/nope"`}},
		{name: "missing route on the service's port", md: "`http://HOST:PORT/livez`", want: []string{`endpoint "/livez"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.page
			if name == "" {
				name = "README.md"
			}
			r := testRepo()
			problems, _ := check(parsePage(name, tc.md), r)
			var got []string
			for _, p := range problems {
				got = append(got, p.String())
			}
			ok := len(got) == len(tc.want)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.Contains(got[i], tc.want[i])
			}
			if !ok {
				t.Errorf("got %d problems:\n%s\nwant %d, containing:\n%s", len(got), strings.Join(got, "\n"), len(tc.want), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// The scanner's pieces the checks rely on.
func TestScanner(t *testing.T) {
	spans, masked := codeSpans("a `b` c ``d ` e`` `unclosed")
	if fmt.Sprint(spans) != "[{b 2} {d ` e 8}]" || masked != "a     c           `unclosed" {
		t.Errorf("codeSpans: %v %q", spans, masked)
	}
	if got := shellWords(`A=1 B="$(git log -1 --format=%ct)" docker 'x y' | jq -r .a && echo "#no" # comment`); !slices.Equal(got, []string{"A=1", "B=$(git log -1 --format=%ct)", "docker", "x y", "|", "jq", "-r", ".a", "&&", "echo", "#no"}) {
		t.Errorf("shellWords: %q", got)
	}
	var s slugger
	for _, c := range [][2]string{{"Offline build (no Docker engine, no public registry)", "offline-build-no-docker-engine-no-public-registry"}, {"`server help` & [links](x.md)", "server-help--links"}, {"Offline build (no Docker engine, no public registry)", "offline-build-no-docker-engine-no-public-registry-1"}} {
		if got := s.slug(c[0]); got != c[1] {
			t.Errorf("slug(%q) = %q, want %q", c[0], got, c[1])
		}
	}
}
