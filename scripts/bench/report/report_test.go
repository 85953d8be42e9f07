package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	if res.Connections != nil && res.Connections.Date == now {
		for _, r := range res.Connections.Data.RSSRuns {
			add("connections_rss", r)
		}
		for _, r := range res.Connections.Data.Runs {
			add("connections_rps", r)
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

// The connections section has the shape deploy/ reads (connections.data:
// max_conns, rss[] with reduce_memory_usage, conns, rss_mib; throughput[]
// with reduce_memory_usage, conns, path, rps, p99_ms), medians over rounds,
// and what each connection adds to the RSS at 0.
func TestConnectionsSection(t *testing.T) {
	var raw bytes.Buffer
	// RSS in KiB: 12,000 (off) or 11,800 (on) at rest plus per connection
	// 17 KiB (off) or 6 KiB (on), plus 100 × the round, so that the median is round 2's. Few
	// connections, so that a wrong divisor shows after rounding.
	for round := 1; round <= 3; round++ {
		for _, reduce := range []bool{true, false} {
			base, perConn := map[bool]int{false: 12000, true: 11800}[reduce], map[bool]int{false: 17, true: 6}[reduce]
			for _, n := range []int{64, 0, 16} { // in no particular order
				fmt.Fprintf(&raw, `{"section":"connections_rss","round":%d,"reduce_memory_usage":%t,"conns":%d,"max_conns":64,"vmrss_kib":%d,"vmhwm_kib":%d,"server_fds":%d,"open_ms":5}`+"\n",
					round, reduce, n, base+n*perConn+round*100, base+1000+n*perConn, n+10)
			}
			for _, conns := range []int{64, 256} {
				rps := map[bool]int{false: 100000, true: 90000}[reduce] + round*1000
				fmt.Fprintf(&raw, `{"section":"connections_rps","round":%d,"server":"a","reduce_memory_usage":%t,"conns":%d,"path":"/","requests":%d,"duration_us":5000000,"p50_us":400,"p99_us":%d,"p999_us":3000,"cpu_ticks":500,"clk_tck":100}`+"\n",
					round, reduce, conns, rps*5, 1000+round*100)
			}
		}
	}
	meta := readCommitted(t).Meta
	meta.Date, meta.Command, meta.Rounds, meta.Duration = "2030-01-01T00:00:00Z", "scripts/bench/run --only connections", 3, 5
	md, js := runReport(t, raw.Bytes(), meta, committedJSON)

	var doc struct {
		Connections struct {
			Command string `json:"command"`
			Date    string `json:"date"`
			Data    struct {
				MaxConns int `json:"max_conns"`
				RSS      []struct {
					Reduce *bool    `json:"reduce_memory_usage"`
					Conns  *int     `json:"conns"`
					RSSMiB *float64 `json:"rss_mib"`
					PerKiB float64  `json:"kib_per_conn"`
				} `json:"rss"`
				Throughput []struct {
					Reduce *bool    `json:"reduce_memory_usage"`
					Conns  *int     `json:"conns"`
					Path   *string  `json:"path"`
					RPS    *float64 `json:"rps"`
					P99MS  *float64 `json:"p99_ms"`
				} `json:"throughput"`
			} `json:"data"`
		} `json:"connections"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	c := doc.Connections
	if c.Command != meta.Command || c.Date != meta.Date || c.Data.MaxConns != 64 {
		t.Errorf("connections: command %q, date %q, max_conns %d", c.Command, c.Date, c.Data.MaxConns)
	}
	var rss []string
	for _, r := range c.Data.RSS {
		if r.Reduce == nil || r.Conns == nil || r.RSSMiB == nil {
			t.Fatalf("rss entry without reduce_memory_usage, conns or rss_mib: %s", js)
		}
		rss = append(rss, fmt.Sprintf("%t/%d: %.1f MiB, %.1f KiB", *r.Reduce, *r.Conns, *r.RSSMiB, r.PerKiB))
	}
	// Round 2's figures: (at rest + n × per connection + 200) KiB.
	want := []string{
		"false/0: 11.9 MiB, 0.0 KiB", "false/16: 12.2 MiB, 17.0 KiB", "false/64: 13.0 MiB, 17.0 KiB",
		"true/0: 11.7 MiB, 0.0 KiB", "true/16: 11.8 MiB, 6.0 KiB", "true/64: 12.1 MiB, 6.0 KiB",
	}
	if !slices.Equal(rss, want) {
		t.Errorf("rss:\n got %q\nwant %q", rss, want)
	}
	var tp []string
	for _, r := range c.Data.Throughput {
		if r.Reduce == nil || r.Conns == nil || r.Path == nil || r.RPS == nil || r.P99MS == nil {
			t.Fatalf("throughput entry without reduce_memory_usage, conns, path, rps or p99_ms: %s", js)
		}
		tp = append(tp, fmt.Sprintf("%t/%d %s: %.0f req/s, p99 %.1f ms", *r.Reduce, *r.Conns, *r.Path, *r.RPS, *r.P99MS))
	}
	wantTP := []string{
		"false/64 /: 102000 req/s, p99 1.2 ms", "false/256 /: 102000 req/s, p99 1.2 ms",
		"true/64 /: 92000 req/s, p99 1.2 ms", "true/256 /: 92000 req/s, p99 1.2 ms",
	}
	if !slices.Equal(tp, wantTP) {
		t.Errorf("throughput:\n got %q\nwant %q", tp, wantTP)
	}
	for _, row := range []string{"| false | 64 | 13.0 MiB | 12.9 – 13.1 MiB | 17.0 KiB |", "| true | 256 | `/` | 92000 | 91000 – 93000 |"} {
		if !strings.Contains(md, row) {
			t.Errorf("report has no row %q:\n%s", row, md)
		}
	}
}
