// Command report turns the raw measurements that scripts/bench/run collects
// (one JSON object per line) into docs/bench-results.json and a Markdown
// report with medians, run-to-run noise and target verdicts.
//
// Usage:
//
//	report -raw RAW.jsonl -meta META.json [-prev OLD.json] -json OUT.json -md OUT.md
//
// Sections that the raw file does not contain are carried over from -prev, so
// a partial run (--only service) keeps the image and build figures of the last
// full run; each section records when and on which command it was measured.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
)

// Meta describes the machine and the invocation.
type Meta struct {
	Date      string `json:"date"`
	Command   string `json:"command"`
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	Rounds    int    `json:"rounds"`
	Duration  int    `json:"duration_s"`
	Fiber     string `json:"fiber_version,omitempty"`
	// Busy share of both CPUs over 2 s before the benchmarks, with nothing of
	// ours running, and the load average then.
	BackgroundCPU float64 `json:"background_cpu_pct"`
	LoadAvg       string  `json:"loadavg,omitempty"`
	Nice          string  `json:"nice,omitempty"`
}

// ServiceRun is one wrk run (raw line with section "service").
type ServiceRun struct {
	Round      int     `json:"round"`
	Server     string  `json:"server"`
	Conns      int     `json:"conns"`
	Path       string  `json:"path"`
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	P50US      int64   `json:"p50_us"`
	P99US      int64   `json:"p99_us"`
	P999US     int64   `json:"p999_us"`
	ErrConnect int64   `json:"err_connect"`
	ErrRead    int64   `json:"err_read"`
	ErrWrite   int64   `json:"err_write"`
	ErrStatus  int64   `json:"err_status"`
	ErrTimeout int64   `json:"err_timeout"`
	CPUTicks   int64   `json:"cpu_ticks"`
	ClkTck     int64   `json:"clk_tck"`
	RPS        float64 `json:"rps"`
	CPUPct     float64 `json:"cpu_pct"`
	CPUPerReq  float64 `json:"cpu_us_per_req"`
	CPU0Busy   float64 `json:"cpu0_busy_pct"`
	CPU1Busy   float64 `json:"cpu1_busy_pct"`
}

// MemRun is the server's memory after one round of load.
type MemRun struct {
	Round    int    `json:"round"`
	Server   string `json:"server"`
	VmHWMKiB int64  `json:"vmhwm_kib"`
	VmRSSKiB int64  `json:"vmrss_kib"`
}

// StartupRun is the startup helper's output for one server.
type StartupRun struct {
	Server     string    `json:"server"`
	Runs       int       `json:"runs"`
	StartupMS  []float64 `json:"startup_ms"`
	MedianMS   float64   `json:"median_ms"`
	MinMS      float64   `json:"min_ms"`
	MaxMS      float64   `json:"max_ms"`
	IdleRSSKiB []int64   `json:"idle_rss_kib"`
	MedianIdle int64     `json:"median_idle_rss_kib"`
}

// ImagePlatform is the size split of one platform's image.
type ImagePlatform struct {
	Platform         string `json:"platform"`
	BaseCompressed   int64  `json:"base_compressed"`
	BaseUncompressed int64  `json:"base_uncompressed"`
	AppCompressed    int64  `json:"app_compressed"`
	AppUncompressed  int64  `json:"app_uncompressed"`
	BaseLayers       int    `json:"base_layers"`
	AppLayers        int    `json:"app_layers"`
	ConfigBytes      int64  `json:"config_bytes"`
}

// BuildRun is one timed build.
type BuildRun struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Note    string  `json:"note,omitempty"`
	// LowerBound: the build was stopped after Seconds; it takes longer.
	LowerBound bool `json:"lower_bound,omitempty"`
	// Date is set on timings carried over from an earlier run.
	Date string `json:"date,omitempty"`
}

// ServiceSummary aggregates the rounds of one (server, conns, path).
type ServiceSummary struct {
	Server string  `json:"server"`
	Conns  int     `json:"conns"`
	Path   string  `json:"path"`
	Rounds int     `json:"rounds"`
	RPS    float64 `json:"rps_median"`
	RPSMin float64 `json:"rps_min"`
	RPSMax float64 `json:"rps_max"`
	RPSCV  float64 `json:"rps_cv_pct"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p999_ms"`
	Errors int64   `json:"errors"`
	CPUPct float64 `json:"server_cpu_pct"`
	CPU0   float64 `json:"cpu0_busy_pct"`
	CPU1   float64 `json:"cpu1_busy_pct"`
	// Server CPU time per request: what a request costs the server whether
	// or not the load generator could saturate it.
	CPUPerReq float64 `json:"cpu_us_per_req"`
}

// MemSummary is the median memory of one server across rounds.
type MemSummary struct {
	Server       string  `json:"server"`
	IdleRSSMiB   float64 `json:"idle_rss_mib,omitempty"`
	AfterLoadMiB float64 `json:"rss_after_load_mib"`
	PeakRSSMiB   float64 `json:"peak_rss_mib"`
}

// Section wraps one section's data with when and how it was measured.
type Section[T any] struct {
	Date    string `json:"date"`
	Command string `json:"command"`
	Data    T      `json:"data"`
}

// ServiceData holds the service section.
type ServiceData struct {
	Rounds   int              `json:"rounds"`
	Duration int              `json:"duration_s"`
	Summary  []ServiceSummary `json:"summary"`
	Memory   []MemSummary     `json:"memory"`
	Runs     []ServiceRun     `json:"runs"`
	MemRuns  []MemRun         `json:"memory_runs"`
}

// Target is one evaluated goal.
type Target struct {
	Name   string `json:"name"`
	Figure string `json:"figure"`
	Met    *bool  `json:"met"` // nil: not measured
}

// Results is docs/bench-results.json.
type Results struct {
	Meta    Meta                      `json:"meta"`
	Servers map[string]string         `json:"servers"`
	Service *Section[ServiceData]     `json:"service,omitempty"`
	Startup *Section[[]StartupRun]    `json:"startup,omitempty"`
	Image   *Section[[]ImagePlatform] `json:"image,omitempty"`
	Build   *Section[[]BuildRun]      `json:"build,omitempty"`
	Targets []Target                  `json:"targets"`
}

var serverNames = map[string]string{
	"a": "service (ACCESS_LOG on)",
	"b": "service (ACCESS_LOG=false)",
	"c": "minimal Fiber v2",
	"d": "net/http (stdlib)",
	"e": "service (metrics on, ACCESS_LOG on)",
}

func main() {
	raw := flag.String("raw", "", "raw measurements, one JSON object per line")
	metaPath := flag.String("meta", "", "machine and command description (JSON)")
	prev := flag.String("prev", "", "previous results to carry sections over from (optional)")
	outJSON := flag.String("json", "", "write results JSON here")
	outMD := flag.String("md", "", "write the Markdown report here (it is also printed)")
	flag.Parse()
	if *raw == "" || *metaPath == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*raw, *metaPath, *prev, *outJSON, *outMD, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(rawPath, metaPath, prevPath, outJSON, outMD string, stdout io.Writer) error {
	var meta Meta
	if err := readJSON(metaPath, &meta); err != nil {
		return err
	}
	res := Results{Meta: meta, Servers: serverNames}
	if prevPath != "" {
		var old Results
		if err := readJSON(prevPath, &old); err == nil {
			res.Service, res.Startup, res.Image, res.Build = old.Service, old.Startup, old.Image, old.Build
		}
	}
	var (
		svc     []ServiceRun
		mem     []MemRun
		startup []StartupRun
		image   []ImagePlatform
		build   []BuildRun
	)
	f, err := os.Open(rawPath)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var head struct {
			Section string `json:"section"`
		}
		if err := json.Unmarshal(line, &head); err != nil {
			return fmt.Errorf("raw line %q: %w", line, err)
		}
		var dst any
		switch head.Section {
		case "service":
			svc = append(svc, ServiceRun{})
			dst = &svc[len(svc)-1]
		case "memory":
			mem = append(mem, MemRun{})
			dst = &mem[len(mem)-1]
		case "startup":
			startup = append(startup, StartupRun{})
			dst = &startup[len(startup)-1]
		case "image":
			image = append(image, ImagePlatform{})
			dst = &image[len(image)-1]
		case "build":
			build = append(build, BuildRun{})
			dst = &build[len(build)-1]
		default:
			return fmt.Errorf("raw line with unknown section %q", head.Section)
		}
		if err := json.Unmarshal(line, dst); err != nil {
			return fmt.Errorf("raw line %q: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(svc) > 0 {
		for i := range svc {
			r := &svc[i]
			secs := float64(r.DurationUS) / 1e6
			r.RPS = round(float64(r.Requests)/secs, 1)
			if r.ClkTck > 0 {
				r.CPUPct = round(float64(r.CPUTicks)/float64(r.ClkTck)/secs*100, 1)
				if r.Requests > 0 {
					r.CPUPerReq = round(float64(r.CPUTicks)/float64(r.ClkTck)*1e6/float64(r.Requests), 2)
				}
			}
		}
		res.Service = &Section[ServiceData]{Date: meta.Date, Command: meta.Command, Data: ServiceData{
			Rounds: meta.Rounds, Duration: meta.Duration,
			Summary: summarizeService(svc), Memory: summarizeMem(mem), Runs: svc, MemRuns: mem,
		}}
	}
	if len(startup) > 0 {
		res.Startup = &Section[[]StartupRun]{Date: meta.Date, Command: meta.Command, Data: startup}
	}
	if len(image) > 0 {
		res.Image = &Section[[]ImagePlatform]{Date: meta.Date, Command: meta.Command, Data: image}
	}
	if len(build) > 0 {
		// Timings not redone this time (e.g. --only emulated) are kept.
		if res.Build != nil {
			redone := map[string]bool{}
			for _, b := range build {
				redone[b.Name] = true
			}
			var kept []BuildRun
			for _, b := range res.Build.Data {
				if !redone[b.Name] {
					if b.Date == "" {
						b.Date = res.Build.Date
					}
					kept = append(kept, b)
				}
			}
			build = append(kept, build...)
		}
		res.Build = &Section[[]BuildRun]{Date: meta.Date, Command: meta.Command, Data: build}
	}
	// Idle RSS comes from the startup section; show it beside the load figures.
	if res.Service != nil && res.Startup != nil {
		for i, m := range res.Service.Data.Memory {
			for _, s := range res.Startup.Data {
				if s.Server == m.Server {
					res.Service.Data.Memory[i].IdleRSSMiB = round(float64(s.MedianIdle)/1024, 1)
				}
			}
		}
	}
	res.Targets = evaluate(&res)

	md := markdown(&res)
	if _, err := io.WriteString(stdout, md); err != nil {
		return err
	}
	if outMD != "" {
		if err := os.WriteFile(outMD, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if outJSON != "" {
		b, err := json.MarshalIndent(res, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(outJSON, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// cv is the coefficient of variation (sample stddev / mean) in percent.
func cv(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss/float64(len(xs)-1)) / mean * 100
}

func summarizeService(runs []ServiceRun) []ServiceSummary {
	type key struct {
		server string
		conns  int
		path   string
	}
	groups := map[key][]ServiceRun{}
	var keys []key
	for _, r := range runs {
		k := key{r.Server, r.Conns, r.Path}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.path != b.path {
			return a.path < b.path
		}
		if a.conns != b.conns {
			return a.conns < b.conns
		}
		return a.server < b.server
	})
	var out []ServiceSummary
	for _, k := range keys {
		g := groups[k]
		var rps, p50, p99, p999, cpu, cpu0, cpu1, cpr []float64
		var errs int64
		for _, r := range g {
			rps = append(rps, r.RPS)
			p50 = append(p50, float64(r.P50US)/1000)
			p99 = append(p99, float64(r.P99US)/1000)
			p999 = append(p999, float64(r.P999US)/1000)
			cpu = append(cpu, r.CPUPct)
			cpu0 = append(cpu0, r.CPU0Busy)
			cpr = append(cpr, r.CPUPerReq)
			cpu1 = append(cpu1, r.CPU1Busy)
			errs += r.ErrConnect + r.ErrRead + r.ErrWrite + r.ErrStatus + r.ErrTimeout
		}
		out = append(out, ServiceSummary{
			Server: k.server, Conns: k.conns, Path: k.path, Rounds: len(g),
			RPS: round(median(rps), 0), RPSMin: slices.Min(rps), RPSMax: slices.Max(rps), RPSCV: round(cv(rps), 1),
			P50MS: round(median(p50), 3), P99MS: round(median(p99), 3), P999MS: round(median(p999), 3),
			Errors: errs, CPUPct: round(median(cpu), 0), CPU0: round(median(cpu0), 0), CPU1: round(median(cpu1), 0), CPUPerReq: round(median(cpr), 2),
		})
	}
	return out
}

func summarizeMem(runs []MemRun) []MemSummary {
	by := map[string][]MemRun{}
	var servers []string
	for _, r := range runs {
		if _, ok := by[r.Server]; !ok {
			servers = append(servers, r.Server)
		}
		by[r.Server] = append(by[r.Server], r)
	}
	sort.Strings(servers)
	var out []MemSummary
	for _, s := range servers {
		var hwm, rss []float64
		for _, r := range by[s] {
			hwm = append(hwm, float64(r.VmHWMKiB)/1024)
			rss = append(rss, float64(r.VmRSSKiB)/1024)
		}
		out = append(out, MemSummary{Server: s, AfterLoadMiB: round(median(rss), 1), PeakRSSMiB: round(median(hwm), 1)})
	}
	return out
}

func findSvc(res *Results, server string, conns int, path string) *ServiceSummary {
	if res.Service == nil {
		return nil
	}
	for i, s := range res.Service.Data.Summary {
		if s.Server == server && s.Conns == conns && s.Path == path {
			return &res.Service.Data.Summary[i]
		}
	}
	return nil
}

// combos lists the (conns, path) pairs that every server was measured at.
func combos(res *Results) [][2]any {
	var out [][2]any
	if res.Service == nil {
		return out
	}
	seen := map[[2]any]bool{}
	for _, s := range res.Service.Data.Summary {
		k := [2]any{s.Conns, s.Path}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// worstRatio is min over all (conns, path) of rps(x)/rps(y), with where it happened.
func worstRatio(res *Results, x, y string) (float64, string, bool) {
	worst, where, ok := math.Inf(1), "", false
	for _, k := range combos(res) {
		sx, sy := findSvc(res, x, k[0].(int), k[1].(string)), findSvc(res, y, k[0].(int), k[1].(string))
		if sx == nil || sy == nil || sy.RPS == 0 {
			continue
		}
		ok = true
		if r := sx.RPS / sy.RPS; r < worst {
			worst, where = r, fmt.Sprintf("%d conns GET %s", k[0].(int), k[1].(string))
		}
	}
	return worst, where, ok
}

func boolp(b bool) *bool { return &b }

// cpuNote compares server CPU time per request of x and y (worst case), a
// figure that holds even when the load generator is the bottleneck.
func cpuNote(res *Results, x, y string) string {
	worst := 0.0
	for _, k := range combos(res) {
		sx, sy := findSvc(res, x, k[0].(int), k[1].(string)), findSvc(res, y, k[0].(int), k[1].(string))
		if sx != nil && sy != nil && sy.CPUPerReq > 0 {
			worst = math.Max(worst, sx.CPUPerReq/sy.CPUPerReq)
		}
	}
	if worst == 0 {
		return ""
	}
	return fmt.Sprintf("; server CPU per request up to %.2f× (%s)'s", worst, y)
}

func evaluate(res *Results) []Target {
	var ts []Target
	ratioTarget := func(name, x, y string, min float64) {
		r, where, ok := worstRatio(res, x, y)
		t := Target{Name: name}
		if ok {
			t.Figure = fmt.Sprintf("%.2f× (worst case: %s)%s", r, where, cpuNote(res, x, y))
			t.Met = boolp(r >= min)
		} else {
			t.Figure = "not measured"
		}
		ts = append(ts, t)
	}
	ratioTarget("(b) ≥ 0.9× req/s of (c)", "b", "c", 0.9)
	ratioTarget("(a) ≥ 0.7× req/s of (c)", "a", "c", 0.7)
	ratioTarget("(e) ≥ 0.9× req/s of (c)", "e", "c", 0.9)
	{
		r, where, ok := worstRatio(res, "b", "d")
		t := Target{Name: "(b) ≥ 2× req/s of (d), p99 no worse", Figure: "not measured"}
		if ok {
			p99ok := true
			var worse []string
			for _, k := range combos(res) {
				sb, sd := findSvc(res, "b", k[0].(int), k[1].(string)), findSvc(res, "d", k[0].(int), k[1].(string))
				if sb != nil && sd != nil && sb.P99MS > sd.P99MS {
					p99ok = false
					worse = append(worse, fmt.Sprintf("%d conns GET %s: %.2f vs %.2f ms", k[0].(int), k[1].(string), sb.P99MS, sd.P99MS))
				}
			}
			t.Figure = fmt.Sprintf("%.2f× (worst case: %s)%s; p99 ", r, where, cpuNote(res, "b", "d"))
			if p99ok {
				t.Figure += "no worse in every case"
			} else {
				t.Figure += "worse in " + strings.Join(worse, "; ")
			}
			t.Met = boolp(r >= 2 && p99ok)
		}
		ts = append(ts, t)
	}
	var svcStart *StartupRun
	if res.Startup != nil {
		for i, s := range res.Startup.Data {
			if s.Server == "a" {
				svcStart = &res.Startup.Data[i]
			}
		}
	}
	if svcStart != nil {
		mib := float64(svcStart.MedianIdle) / 1024
		ts = append(ts, Target{Name: "idle RSS ≤ 12 MiB", Figure: fmt.Sprintf("%.1f MiB (service, median of %d starts)", mib, svcStart.Runs), Met: boolp(mib <= 12)})
		ts = append(ts, Target{Name: "startup to first 200 ≤ 20 ms", Figure: fmt.Sprintf("%.1f ms (service, median of %d starts)", svcStart.MedianMS, svcStart.Runs), Met: boolp(svcStart.MedianMS <= 20)})
	} else {
		ts = append(ts, Target{Name: "idle RSS ≤ 12 MiB", Figure: "not measured"}, Target{Name: "startup to first 200 ≤ 20 ms", Figure: "not measured"})
	}
	if res.Image != nil && len(res.Image.Data) > 0 {
		var figs []string
		met := true
		for _, p := range res.Image.Data {
			u := float64(p.BaseUncompressed+p.AppUncompressed) / 1e6
			c := float64(p.BaseCompressed+p.AppCompressed) / 1e6
			figs = append(figs, fmt.Sprintf("%s %.2f MB / %.2f MB", p.Platform, u, c))
			met = met && u <= 15 && c <= 7
		}
		ts = append(ts, Target{Name: "image ≤ 15 MB uncompressed and ≤ 7 MB compressed per platform", Figure: strings.Join(figs, "; ") + " (uncompressed / compressed)", Met: boolp(met)})
	} else {
		ts = append(ts, Target{Name: "image ≤ 15 MB uncompressed and ≤ 7 MB compressed per platform", Figure: "not measured"})
	}
	builds := map[string]float64{}
	lower := map[string]bool{}
	if res.Build != nil {
		for _, b := range res.Build.Data {
			builds[b.Name] = b.Seconds
			lower[b.Name] = b.LowerBound
		}
	}
	if s, ok := builds["warm"]; ok {
		ts = append(ts, Target{Name: "warm rebuild of both platforms ≤ 10 s", Figure: fmt.Sprintf("%.1f s", s), Met: boolp(s <= 10)})
	} else {
		ts = append(ts, Target{Name: "warm rebuild of both platforms ≤ 10 s", Figure: "not measured"})
	}
	em, ok1 := builds["emulated-arm64"]
	cr, ok2 := builds["cross-arm64"]
	if ok1 && ok2 && cr > 0 {
		r := em / cr
		ge, gt := "", ""
		if lower["emulated-arm64"] {
			ge, gt = "≥ ", "> "
		}
		t := Target{Name: "cross-compiled arm64 ≥ 10× faster than emulated", Figure: fmt.Sprintf("%s%.1f× (%.1f s vs %s%.1f s)", ge, r, cr, gt, em)}
		if r >= 10 || !lower["emulated-arm64"] {
			t.Met = boolp(r >= 10)
		}
		ts = append(ts, t)
	} else {
		ts = append(ts, Target{Name: "cross-compiled arm64 ≥ 10× faster than emulated", Figure: "not measured"})
	}
	return ts
}

func niceNote(n string) string {
	if n == "" {
		return ""
	}
	return "Server, log pipe, wrk and the startup probe run under `" + n + "` to shield them from other work. "
}

func mb(b int64) string { return fmt.Sprintf("%.2f", float64(b)/1e6) }

func markdown(res *Results) string {
	var b strings.Builder
	m := res.Meta
	fmt.Fprintf(&b, "# Benchmark results\n\n")
	fmt.Fprintf(&b, "Generated by `scripts/bench/run` on %s. Reproduce with:\n\n```sh\n%s\n```\n\n", m.Date, m.Command)
	fmt.Fprintf(&b, "Machine: %s, %d cores, Linux %s, %s", m.CPU, m.Cores, m.Kernel, m.GoVersion)
	if m.Fiber != "" {
		fmt.Fprintf(&b, ", Fiber %s", m.Fiber)
	}
	b.WriteString(".")
	if m.LoadAvg != "" {
		fmt.Fprintf(&b, " Before the run the machine was %.0f%% busy with other work (load average %s)", m.BackgroundCPU, m.LoadAvg)
		if m.BackgroundCPU > 10 {
			b.WriteString(": **figures are noisy**")
		}
		b.WriteString(".")
	}
	b.WriteString("\n\n")
	b.WriteString("Servers: (a) the service as shipped (`go build -trimpath -ldflags=\"-s -w\"`, defaults, access log on, stdout drained through a pipe); " +
		"(b) the same with `ACCESS_LOG=false`; (c) a minimal Fiber v2 program with the same two routes and bodies (`scripts/bench/fiberminimal`); " +
		"(d) the same with the standard library's net/http (`scripts/bench/nethttp`); " +
		"(e) the service with metrics on (`METRICS_ADDR`, not scraped during the run) and the access log on.\n\n")

	note := func(date, cmd string) {
		if date != m.Date {
			fmt.Fprintf(&b, "_Carried over from an earlier run on %s (`%s`)._\n\n", date, cmd)
		}
	}

	b.WriteString("## Targets\n\n| target | measured | verdict |\n| --- | --- | --- |\n")
	for _, t := range res.Targets {
		v := "not measured"
		if t.Figure != "not measured" {
			v = "undetermined"
		}
		if t.Met != nil {
			v = "**met**"
			if !*t.Met {
				v = "**not met**"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", t.Name, t.Figure, v)
	}
	b.WriteString("\n")

	if s := res.Service; s != nil {
		d := s.Data
		fmt.Fprintf(&b, "## Service throughput and latency\n\n")
		note(s.Date, s.Command)
		fmt.Fprintf(&b, "wrk 4.1 on loopback, keep-alive, 1 wrk thread pinned to CPU 1, server pinned to CPU 0 (GOMAXPROCS follows: 1). "+
			"%sMedian of %d rounds × %d s (servers interleaved, fresh process per round); min–max and CV show run-to-run noise. "+
			"Latencies in ms. Errors = socket errors + HTTP ≥ 400, summed over all rounds. Server CPU = utime+stime of the server process per wall second (100%% = the one core it has); "+
			"CPU0 / CPU1 = how busy each core was in total (server + its log pipe on CPU 0, wrk on CPU 1, plus anything else running): "+
			"CPU 1 near 100%% means wrk, not the server, was the limit. CPU µs/req = server CPU time per request, which compares the servers' cost even when none is saturated.\n\n", niceNote(m.Nice), d.Rounds, d.Duration)
		b.WriteString("| server | conns | path | req/s | min – max | CV | p50 | p99 | p99.9 | errors | server CPU | CPU µs/req | CPU0 / CPU1 |\n")
		b.WriteString("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, x := range d.Summary {
			fmt.Fprintf(&b, "| (%s) %s | %d | `%s` | %.0f | %.0f – %.0f | %.1f%% | %.2f | %.2f | %.2f | %d | %.0f%% | %.1f | %.0f%% / %.0f%% |\n",
				x.Server, serverNames[x.Server], x.Conns, x.Path, x.RPS, x.RPSMin, x.RPSMax, x.RPSCV, x.P50MS, x.P99MS, x.P999MS, x.Errors, x.CPUPct, x.CPUPerReq, x.CPU0, x.CPU1)
		}
		b.WriteString("\n")
		if len(d.Memory) > 0 {
			b.WriteString("### Memory\n\nIdle RSS: VmRSS 300 ms after the first 200 (median of the startup runs). After load: VmRSS when a round's load ends; peak: VmHWM (medians over rounds).\n\n")
			b.WriteString("| server | idle RSS | RSS after load | peak RSS |\n| --- | ---: | ---: | ---: |\n")
			for _, x := range d.Memory {
				idle := "–"
				if x.IdleRSSMiB > 0 {
					idle = fmt.Sprintf("%.1f MiB", x.IdleRSSMiB)
				}
				fmt.Fprintf(&b, "| (%s) %s | %s | %.1f MiB | %.1f MiB |\n", x.Server, serverNames[x.Server], idle, x.AfterLoadMiB, x.PeakRSSMiB)
			}
			b.WriteString("\n")
		}
	}
	if s := res.Startup; s != nil {
		b.WriteString("## Startup\n\n")
		note(s.Date, s.Command)
		b.WriteString("From fork/exec to the first HTTP 200 on `GET /health` (probe: new TCP connection every 0.1 ms, pinned to CPU 1; server on CPU 0).\n\n")
		b.WriteString("| server | starts | median | min – max | idle RSS |\n| --- | ---: | ---: | ---: | ---: |\n")
		for _, x := range s.Data {
			fmt.Fprintf(&b, "| (%s) %s | %d | %.2f ms | %.2f – %.2f ms | %.1f MiB |\n", x.Server, serverNames[x.Server], x.Runs, x.MedianMS, x.MinMS, x.MaxMS, float64(x.MedianIdle)/1024)
		}
		b.WriteString("\n")
	}
	if s := res.Image; s != nil {
		b.WriteString("## Image size\n\n")
		note(s.Date, s.Command)
		b.WriteString("Built from `docker-bake.hcl` (target `image`), split per platform. MB = 10⁶ bytes. Compressed = gzip layer blobs as pushed; uncompressed = layer tars. " +
			"No registry is reachable here, so the base layer is the local stand-in for `alpine` built from the official Alpine minirootfs in `../shared/alpine` (3.20.3); the published `alpine:3.23` layer is about the same size.\n\n")
		b.WriteString("| platform | base layers (compressed / uncompressed) | our layer (compressed / uncompressed) | total compressed | total uncompressed |\n")
		b.WriteString("| --- | ---: | ---: | ---: | ---: |\n")
		for _, p := range s.Data {
			fmt.Fprintf(&b, "| %s | %s / %s MB (%d) | %s / %s MB (%d) | %s MB | %s MB |\n", p.Platform,
				mb(p.BaseCompressed), mb(p.BaseUncompressed), p.BaseLayers, mb(p.AppCompressed), mb(p.AppUncompressed), p.AppLayers,
				mb(p.BaseCompressed+p.AppCompressed), mb(p.BaseUncompressed+p.AppUncompressed))
		}
		b.WriteString("\n")
	}
	if s := res.Build; s != nil {
		b.WriteString("## Build time\n\n")
		note(s.Date, s.Command)
		b.WriteString("Local BuildKit (buildkitd + buildx bake, OCI worker), base images as local stand-ins.\n\n")
		b.WriteString("| build | seconds | what |\n| --- | ---: | --- |\n")
		for _, x := range s.Data {
			gt := ""
			if x.LowerBound {
				gt = "> "
			}
			note := x.Note
			if x.Date != "" {
				note += " (measured " + x.Date + ")"
			}
			fmt.Fprintf(&b, "| %s | %s%.1f | %s |\n", x.Name, gt, x.Seconds, note)
		}
		b.WriteString("\n")
	}
	return b.String()
}
