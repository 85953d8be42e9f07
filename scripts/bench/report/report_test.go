package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/example/fiber-service/scripts/bench/results"
)

// The committed figures, written by scripts/bench/run through this command.
const (
	committedJSON = "../../../docs/bench-results.json"
	committedMD   = "../../../docs/bench-results.md"
)

func readCommitted(t *testing.T) *results.Results {
	t.Helper()
	res, err := results.Read(committedJSON)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rawLines turns the runs that committed results measured in their own run
// (not carried over from an earlier one) back into the raw lines
// scripts/bench/run wrote for them.
func rawLines(t *testing.T, res *results.Results) []byte {
	t.Helper()
	var buf bytes.Buffer
	add := func(section string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString(`{"section":"` + section + `",`)
		buf.Write(b[1:])
		buf.WriteByte('\n')
	}
	now := res.Meta.Date
	if res.Service != nil && res.Service.Date == now {
		for _, r := range res.Service.Data.Runs {
			add("service", r)
		}
		for _, r := range res.Service.Data.MemRuns {
			add("memory", r)
		}
	}
	if res.Startup != nil && res.Startup.Date == now {
		for _, r := range res.Startup.Data {
			add("startup", r)
		}
	}
	if res.Image != nil && res.Image.Date == now {
		for _, r := range res.Image.Data {
			add("image", r)
		}
	}
	if res.Build != nil && res.Build.Date == now {
		for _, r := range res.Build.Data {
			if r.Date == "" { // a build timing of an earlier run has its date
				add("build", r)
			}
		}
	}
	return buf.Bytes()
}

// runReport runs the command's run with raw lines, meta and optional prev
// results, and returns what it printed and the JSON it wrote.
func runReport(t *testing.T, raw []byte, meta results.Meta, prev string) (md string, js []byte) {
	t.Helper()
	dir := t.TempDir()
	rawPath, metaPath, out := filepath.Join(dir, "raw.jsonl"), filepath.Join(dir, "meta.json"), filepath.Join(dir, "out.json")
	if err := os.WriteFile(rawPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, metaPath, meta)
	var stdout strings.Builder
	if err := run(rawPath, metaPath, prev, out, "", &stdout); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), js
}

// The committed results are what the report computes from their own runs
// (and the sections they carried over): summaries, verdicts and Markdown.
func TestCommittedResultsFromTheirRuns(t *testing.T) {
	res := readCommitted(t)
	md, js := runReport(t, rawLines(t, res), res.Meta, committedJSON)
	wantJS, err := os.ReadFile(committedJSON)
	if err != nil {
		t.Fatal(err)
	}
	if d := firstDiff(string(js), string(wantJS)); d != "" {
		t.Errorf("results recomputed from the committed runs differ from %s: %s", committedJSON, d)
	}
	wantMD, err := os.ReadFile(committedMD)
	if err != nil {
		t.Fatal(err)
	}
	if d := firstDiff(md, string(wantMD)); d != "" {
		t.Errorf("report recomputed from the committed runs differs from %s: %s", committedMD, d)
	}
}

// firstDiff describes the first line where got and want differ ("" if equal).
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl || i >= len(g) || i >= len(w) {
			return fmt.Sprintf("line %d is\n\t%q\nwant\n\t%q", i+1, gl, wl)
		}
	}
	return ""
}

// A partial run replaces what it measured and carries the rest over, marked
// with when it was measured.
func TestPartialRunCarriesOver(t *testing.T) {
	old := readCommitted(t)
	meta := old.Meta
	meta.Date, meta.Command = "2030-01-01T00:00:00Z", "scripts/bench/run --only emulated"
	raw := []byte(`{"section":"build","name":"emulated-arm64","seconds":400,"note":"stopped","lower_bound":true}` + "\n")
	md, js := runReport(t, raw, meta, committedJSON)
	var res results.Results
	if err := json.Unmarshal(js, &res); err != nil {
		t.Fatal(err)
	}
	if res.Service == nil || res.Service.Date != old.Service.Date || len(res.Service.Data.Summary) != len(old.Service.Data.Summary) {
		t.Errorf("service section not carried over: %+v", res.Service)
	}
	if !strings.Contains(md, "_Carried over from an earlier run on "+old.Service.Date) {
		t.Error("carried-over sections are not marked as such")
	}
	builds := res.Builds()
	if len(builds) != len(old.Build.Data) {
		t.Errorf("builds %v, want the %d old ones with emulated-arm64 replaced", builds, len(old.Build.Data))
	}
	if b := builds["emulated-arm64"]; b.Seconds != 400 || !b.LowerBound || b.Date != "" {
		t.Errorf("emulated-arm64 = %+v, want this run's stopped build", b)
	}
	// A kept build says when it was measured: its own date when it was
	// already carried over into the old results, else the old section's.
	want := old.Builds()["cross-arm64"].Date
	if want == "" {
		want = old.Build.Date
	}
	if b := builds["cross-arm64"]; b.Date != want {
		t.Errorf("kept cross-arm64 build says it was measured %q, want %q", b.Date, want)
	}
}

// Every server of the benchmark has a row in the report.
func TestEveryServerReported(t *testing.T) {
	md, _ := runReport(t, rawLines(t, readCommitted(t)), readCommitted(t).Meta, committedJSON)
	for _, s := range results.Servers {
		if !strings.Contains(md, "| ("+s.ID+") "+s.Name+" |") {
			t.Errorf("no row for server %s (%s)", s.ID, s.Name)
		}
	}
}
