// Package results defines docs/bench-results.json, which scripts/bench/report
// writes and scripts/bench/chart draws, and the servers the benchmark compares.
package results

import (
	"encoding/json"
	"os"
)

// Server is one program the service benchmark measures.
type Server struct {
	ID    string // letter scripts/bench/run tags its measurements with
	Name  string // name in the report's tables and in results.json "servers"
	About string // what it is, for the report's "Servers:" line
	Label string // chart legend (after the "(ID) ")
	Color string // chart bar colour
}

// Servers lists the servers in report and chart order. Adding one to the
// benchmark is one line here (and its start command in scripts/bench/run).
var Servers = []Server{
	{"a", "service (ACCESS_LOG on)", "the service as shipped (`go build -trimpath -ldflags=\"-s -w\"`, defaults, access log on, stdout drained through a pipe)", "service, access log on", "#4e79a7"},
	{"b", "service (ACCESS_LOG=false)", "the same with `ACCESS_LOG=false`", "service, ACCESS_LOG=false", "#59a14f"},
	{"c", "minimal Fiber v2", "a minimal Fiber v2 program with the same two routes and bodies (`scripts/bench/fiberminimal`)", "minimal Fiber v2", "#f28e2b"},
	{"d", "net/http (stdlib)", "the same with the standard library's net/http (`scripts/bench/nethttp`)", "net/http", "#9c9c9c"},
	{"e", "service (metrics on, ACCESS_LOG on)", "the service with metrics on (`METRICS_ADDR`, not scraped during the run) and the access log on", "service, metrics and access log on", "#b07aa1"},
}

// ServerByID returns the Servers entry of id (zero Server if there is none).
func ServerByID(id string) Server {
	for _, s := range Servers {
		if s.ID == id {
			return s
		}
	}
	return Server{}
}

// ServerNames maps each server's ID to its Name (results.json "servers").
func ServerNames() map[string]string {
	m := make(map[string]string, len(Servers))
	for _, s := range Servers {
		m[s.ID] = s.Name
	}
	return m
}

// Results is docs/bench-results.json.
type Results struct {
	Meta        Meta                      `json:"meta"`
	Servers     map[string]string         `json:"servers"`
	Service     *Section[ServiceData]     `json:"service,omitempty"`
	Connections *Section[ConnectionsData] `json:"connections,omitempty"`
	Startup     *Section[[]StartupRun]    `json:"startup,omitempty"`
	Image       *Section[[]ImagePlatform] `json:"image,omitempty"`
	Build       *Section[[]BuildRun]      `json:"build,omitempty"`
	Targets     []Target                  `json:"targets"`
}

// Read decodes a results file.
func Read(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

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

// Load is one load shape: wrk's connection count and the path it requests.
type Load struct {
	Conns int
	Path  string
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

// Errors is the run's socket errors plus HTTP responses ≥ 400.
func (r ServiceRun) Errors() int64 {
	return r.ErrConnect + r.ErrRead + r.ErrWrite + r.ErrStatus + r.ErrTimeout
}

// MemRun is the server's memory after one round of load.
type MemRun struct {
	Round    int    `json:"round"`
	Server   string `json:"server"`
	VmHWMKiB int64  `json:"vmhwm_kib"`
	VmRSSKiB int64  `json:"vmrss_kib"`
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

// Load is the load shape the summary was measured at.
func (s ServiceSummary) Load() Load { return Load{s.Conns, s.Path} }

// MemSummary is the median memory of one server across rounds.
type MemSummary struct {
	Server       string  `json:"server"`
	IdleRSSMiB   float64 `json:"idle_rss_mib,omitempty"`
	AfterLoadMiB float64 `json:"rss_after_load_mib"`
	PeakRSSMiB   float64 `json:"peak_rss_mib"`
}

// ConnectionsData holds the connections section: the service as shipped
// with fasthttp's ReduceMemoryUsage off and on (REDUCE_MEMORY_USAGE), its
// memory holding idle keep-alive connections and its throughput. deploy/
// reads RSS at the MAX_CONNS its manifests set from RSS.
type ConnectionsData struct {
	MaxConns   int              `json:"max_conns"` // the service's default MAX_CONNS
	Rounds     int              `json:"rounds"`
	Duration   int              `json:"duration_s"`
	RSS        []ConnRSS        `json:"rss"`
	Throughput []ConnThroughput `json:"throughput"`
	RSSRuns    []ConnRSSRun     `json:"rss_runs"`
	Runs       []ConnRun        `json:"runs"`
}

// ConnRSSRun is the server's memory in one round while holdconns held Conns
// idle keep-alive connections (raw line with section "connections_rss").
type ConnRSSRun struct {
	Round             int   `json:"round"`
	ReduceMemoryUsage bool  `json:"reduce_memory_usage"`
	Conns             int   `json:"conns"`
	MaxConns          int   `json:"max_conns"`
	VmRSSKiB          int64 `json:"vmrss_kib"`
	VmHWMKiB          int64 `json:"vmhwm_kib"`
	ServerFDs         int   `json:"server_fds"`
	OpenMS            int64 `json:"open_ms"`
}

// ConnRun is one wrk run of the connections section (raw line with section
// "connections_rps").
type ConnRun struct {
	ReduceMemoryUsage bool `json:"reduce_memory_usage"`
	ServiceRun
}

// ConnRSS is the median RSS over rounds holding Conns connections.
type ConnRSS struct {
	ReduceMemoryUsage bool    `json:"reduce_memory_usage"`
	Conns             int     `json:"conns"`
	RSSMiB            float64 `json:"rss_mib"`
	RSSMinMiB         float64 `json:"rss_min_mib"`
	RSSMaxMiB         float64 `json:"rss_max_mib"`
	Rounds            int     `json:"rounds"`
	// What each connection adds: (RSS - RSS at 0 connections) / Conns.
	KiBPerConn float64 `json:"kib_per_conn,omitempty"`
}

// ConnThroughput is the median requests/s and p99 over rounds under one load.
type ConnThroughput struct {
	ReduceMemoryUsage bool    `json:"reduce_memory_usage"`
	Conns             int     `json:"conns"`
	Path              string  `json:"path"`
	RPS               float64 `json:"rps"`
	P99MS             float64 `json:"p99_ms"`
	RPSMin            float64 `json:"rps_min"`
	RPSMax            float64 `json:"rps_max"`
	RPSCV             float64 `json:"rps_cv_pct"`
	P50MS             float64 `json:"p50_ms"`
	Errors            int64   `json:"errors"`
	CPUPerReq         float64 `json:"cpu_us_per_req"`
	Rounds            int     `json:"rounds"`
}

// StartupRun is the startup measurement of one server: scripts/bench/startup
// prints it without Server, which scripts/bench/run adds.
type StartupRun struct {
	Server     string    `json:"server,omitempty"`
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

// Builds indexes the build section by name (empty when it is missing).
func (r *Results) Builds() map[string]BuildRun {
	m := map[string]BuildRun{}
	if r.Build != nil {
		for _, b := range r.Build.Data {
			m[b.Name] = b
		}
	}
	return m
}

// Target is one evaluated goal.
type Target struct {
	Name   string `json:"name"`
	Figure string `json:"figure"`
	Met    *bool  `json:"met"` // nil: not measured
}
