package app

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/valyala/fasthttp"
)

// withMetrics is added to startServer's environment: a free port for the
// metrics listener, which the "listening" line reports.
const withMetrics = "METRICS_ADDR=127.0.0.1:0"

// metricsAddr returns where p serves /metrics, from its "listening" line.
func metricsAddr(t *testing.T, p *proc) string {
	t.Helper()
	for _, line := range p.logLines() {
		var rec struct {
			Msg         string
			MetricsAddr string `json:"metrics_addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" && rec.MetricsAddr != "" {
			return rec.MetricsAddr
		}
	}
	t.Fatalf("no metrics_addr in the listening line:\n%s", p.logs())
	return ""
}

// scrape GETs /metrics as Prometheus does and parses it.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	code, h, body := get(t, "GET", "http://"+addr+"/metrics", nil)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %q\n%s", code, h.Get("Content-Type"), body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// series lists the label sets of a family with their value (a counter's or
// gauge's value, a histogram's count).
func series(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range fams[name].GetMetric() {
		v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		out[seriesKey(labelsOf(m))] = v
	}
	return out
}

// seriesKey is a stable name for a label set: method route status.
func seriesKey(l map[string]string) string {
	return strings.TrimSpace(l["method"] + " " + l["route"] + " " + l["status"])
}

func gauge(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	ms := fams[name].GetMetric()
	if len(ms) != 1 {
		t.Fatalf("%s: %d series, want 1", name, len(ms))
	}
	return ms[0].GetGauge().GetValue()
}

// The request path stays allocation-free with metrics and the access log on,
// for every kind of answer that is not an error, with trace headers too, and
// behind trusted proxies with X-Forwarded-For lines to walk.
func TestMetricsRequestPathDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	access := new(lastLine)
	handler := inProcessHandler(t, metricsBehindALB, access)
	requests := []struct {
		method, path, header, value string
		xff                         []string
		client                      string
	}{
		{"GET", "/", "", "", nil, "10.0.1.5"},
		{"HEAD", "/health", "", "", forwardedChain, "203.0.113.7"},
		{"GET", "/livez", "traceparent", validTraceparent, forwardedChain, "203.0.113.7"},
		{"GET", "/readyz", "X-Amzn-Trace-Id", validAmzn, forwardedMalformed, "10.0.2.9"},
		{"GET", "/version", "X-Request-ID", "upstream-1", []string{"2001:db8::7"}, "2001:db8::7"},
	}
	for _, r := range requests {
		var ctx fasthttp.RequestCtx
		ctx.SetRemoteAddr(albPeer)
		ctx.Request.Header.SetMethod(r.method)
		ctx.Request.SetRequestURI(r.path)
		if r.header != "" {
			ctx.Request.Header.Set(r.header, r.value)
		}
		for _, v := range r.xff {
			ctx.Request.Header.Add("X-Forwarded-For", v)
		}
		serve := func() {
			ctx.Response.Reset()
			handler(&ctx)
		}
		serve() // the first request of a series creates it
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("%s %s: %d", r.method, r.path, ctx.Response.StatusCode())
		}
		if n := testing.AllocsPerRun(200, serve); n != 0 {
			t.Errorf("%s %s with %s and X-Forwarded-For %q: %.1f allocations per request, want 0", r.method, r.path, r.header, r.xff, n)
		}
		if got := access.clientIP(); got != r.client {
			t.Errorf("%s %s, X-Forwarded-For %q: client_ip %q, want %q", r.method, r.path, r.xff, got, r.client)
		}
	}
}

// Every request the program answers is counted once, under its route
// pattern, method and final status; routed ones are timed too.
func TestProcessMetricsCountEveryRequest(t *testing.T) {
	p := startServer(t, withMetrics, "DEBUG_ROUTES=true", "BODY_LIMIT=1KiB", "READ_BUFFER_SIZE=4KiB")
	maddr := metricsAddr(t, p)

	raw := func(req string) func() int {
		return func() int {
			resps, data := rawExchange(t, p.addr, []byte(req))
			if len(resps) != 1 {
				t.Fatalf("want one response, got %q", data)
			}
			return resps[0].status
		}
	}
	std := func(method, path string) func() int {
		return func() int {
			code, _, _ := get(t, method, p.url(path), nil)
			return code
		}
	}
	kinds := []struct {
		send   func() int
		series string // method route status
		timed  bool   // went through the router
	}{
		{std("GET", "/"), "GET / 200", true},
		{std("HEAD", "/health"), "HEAD /health 200", true},
		{std("GET", "/version"), "GET /version 200", true},
		{std("GET", "/nope/"+strconv.Itoa(rand.Int())), "GET unmatched 404", true},
		{std("HEAD", "/nope"), "HEAD unmatched 404", true},
		{std("POST", "/health"), "POST /health 405", true},
		{std("DELETE", "/"), "DELETE / 405", true},
		{std("GET", "/debug/sleep?d=forever"), "GET /debug/sleep 400", true},
		{std("GET", "/debug/panic"), "GET /debug/panic 500", true},
		{std("PROPFIND", "/"), "_OTHER unmatched 501", false},
		{raw("get / HTTP/1.1\r\nHost: x\r\n\r\n"), "_OTHER unmatched 501", false},
		{raw("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n"), "POST unmatched 413", false},
		{raw("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\n\r\n"), "GET unmatched 431", false},
	}
	// A random number of each, in random order.
	var plan []int
	for i := range kinds {
		for range 1 + rand.IntN(4) {
			plan = append(plan, i)
		}
	}
	rand.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	want := map[string]float64{}
	wantTimed := map[string]float64{}
	for _, i := range plan {
		k := kinds[i]
		wantStatus := k.series[strings.LastIndexByte(k.series, ' ')+1:]
		if got := k.send(); strconv.Itoa(got) != wantStatus {
			t.Fatalf("%s: status %d", k.series, got)
		}
		want[k.series]++
		if k.timed {
			wantTimed[k.series[:strings.LastIndexByte(k.series, ' ')]]++
		}
	}

	// A slow request shows in flight, then counts like the others.
	slow := slowRequest(p.url("/debug/sleep?d=1s"))
	eventually(t, 5*time.Second, "http_requests_in_flight to be 1", func() bool {
		return gauge(t, scrape(t, maddr), "http_requests_in_flight") == 1
	})
	if code := <-slow; code != 200 {
		t.Fatalf("slow request: %d", code)
	}
	want["GET /debug/sleep 200"]++
	wantTimed["GET /debug/sleep"]++

	fams := scrape(t, maddr)
	if got := series(fams, "http_requests_total"); !mapsEqual(got, want) {
		t.Errorf("http_requests_total:\n got %v\nwant %v", got, want)
	}
	if got := series(fams, "http_request_duration_seconds"); !mapsEqual(got, wantTimed) {
		t.Errorf("http_request_duration_seconds counts:\n got %v\nwant %v", got, wantTimed)
	}
	if n := gauge(t, fams, "http_requests_in_flight"); n != 0 {
		t.Errorf("http_requests_in_flight %v after every request finished", n)
	}
	if n := gauge(t, fams, "http_server_draining"); n != 0 {
		t.Errorf("http_server_draining %v before SIGTERM", n)
	}
	b := fams["build_info"].GetMetric()
	if len(b) != 1 || b[0].GetGauge().GetValue() != 1 || !mapsEqual(labelsOf(b[0]),
		map[string]string{"version": "test-1.2.3", "commit": "testcommit", "goarch": runtime.GOARCH}) {
		t.Errorf("build_info: %v", b)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if fams[name] == nil {
			t.Errorf("no %s: Go and process collectors missing", name)
		}
	}
	// The public port does not serve metrics.
	if code, _, _ := get(t, "GET", p.url("/metrics"), nil); code != 404 {
		t.Errorf("GET /metrics on the service port: %d, want 404", code)
	}
}

// slowRequest GETs url in the background and sends its status, or 0 if it
// failed.
func slowRequest(url string) <-chan int {
	status := make(chan int, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			status <- 0
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	return status
}

func mapsEqual[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// A scanner's random paths and made-up methods add no series: every
// unmatched path counts under route="unmatched", every unknown method under
// method="_OTHER". The route and method labels only ever take values from
// the route table and Fiber's method list.
func TestProcessMetricsSeriesBounded(t *testing.T) {
	p := startServer(t, withMetrics, "ACCESS_LOG=false")
	maddr := metricsAddr(t, p)
	k := &keepAlive{t: t, addr: p.addr}
	defer k.close()
	known := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
	made := 0
	// Warm-up: every known method on a path that does not exist, one made-up
	// method, and the routes. From here on, the series must stay as they are.
	for _, m := range known {
		k.do(m, "/warm-up")
		made++
	}
	k.do("BREW", "/")
	made++
	for _, path := range []string{"/", "/health", "/livez", "/readyz", "/version"} {
		k.do("GET", path)
		made++
	}
	before := scrape(t, maddr)

	for i := range 10_000 {
		path := fmt.Sprintf("/%x/%d?q=%d", rand.Uint64(), i, rand.Int())
		if i%3 == 0 {
			path = "/health/" + strconv.Itoa(i) // under a real route, still no match
		}
		if code := k.do(known[rand.IntN(len(known))], path); code != 404 {
			t.Fatalf("%s: %d, want 404", path, code)
		}
		made++
	}
	for range 20 {
		var m strings.Builder
		for range 3 + rand.IntN(10) {
			m.WriteByte(byte('A' + rand.IntN(26)))
		}
		if code := k.do(m.String(), "/"+strconv.Itoa(rand.Int())); code != 501 {
			t.Fatalf("method %s: %d, want 501", m.String(), code)
		}
		made++
	}
	after := scrape(t, maddr)

	for _, name := range []string{"http_requests_total", "http_request_duration_seconds"} {
		b, a := series(before, name), series(after, name)
		if len(a) != len(b) {
			t.Errorf("%s: %d series before 10,000 random paths and 20 made-up methods, %d after", name, len(b), len(a))
		}
		for key := range a {
			fields := strings.Fields(key)
			if !slices.Contains(append(known, "_OTHER"), fields[0]) ||
				!slices.Contains([]string{"/", "/health", "/livez", "/readyz", "/version", "unmatched"}, fields[1]) {
				t.Errorf("%s has a series %q outside the route table and method list", name, key)
			}
		}
	}
	total := 0.0
	for _, v := range series(after, "http_requests_total") {
		total += v
	}
	if int(total) != made {
		t.Errorf("http_requests_total sums to %v, %d requests were made", total, made)
	}
	t.Logf("series: %d counters, %d histograms, for %d requests", len(series(after, "http_requests_total")),
		len(series(after, "http_request_duration_seconds")), made)
}

// With MAX_CONNS connections taken, the service port answers 503 and
// closes; the metrics listener, with connections of its own, still answers.
func TestProcessMetricsWhileSaturated(t *testing.T) {
	const n = 2
	p := startServer(t, withMetrics, "MAX_CONNS="+strconv.Itoa(n))
	maddr := metricsAddr(t, p)
	for range n {
		k := &keepAlive{t: t, addr: p.addr}
		defer k.close()
		if code := k.do("GET", "/"); code != 200 {
			t.Fatalf("held connection: %d", code)
		}
	}
	extra := &keepAlive{t: t, addr: p.addr}
	defer extra.close()
	if code := extra.do("GET", "/"); code != 503 {
		t.Fatalf("connection %d with MAX_CONNS=%d: %d, want 503 (not saturated?)", n+1, n, code)
	}
	fams := scrape(t, maddr)
	if got := series(fams, "http_requests_total")["GET / 200"]; got != n {
		t.Errorf(`http_requests_total{GET,/,200} = %v, want %d`, got, n)
	}
}

// During the drain, with the service port closed, the metrics listener
// says so (http_server_draining 1) and shows the request still in flight,
// until the process exits.
func TestProcessMetricsWhileDraining(t *testing.T) {
	p := startServer(t, withMetrics, "DEBUG_ROUTES=true", "SHUTDOWN_TIMEOUT=10s")
	maddr := metricsAddr(t, p)
	slow := slowRequest(p.url("/debug/sleep?d=2s"))
	eventually(t, 5*time.Second, "the slow request to be in flight", func() bool {
		return gauge(t, scrape(t, maddr), "http_requests_in_flight") == 1
	})
	p.signal(syscall.SIGTERM)
	eventually(t, 5*time.Second, "the service port to close", func() bool { return connRefused(p.addr) })
	fams := scrape(t, maddr)
	if d, f := gauge(t, fams, "http_server_draining"), gauge(t, fams, "http_requests_in_flight"); d != 1 || f != 1 {
		t.Errorf("while draining: http_server_draining %v, http_requests_in_flight %v, want 1 and 1", d, f)
	}
	if code := <-slow; code != 200 {
		t.Errorf("slow request: %d", code)
	}
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.logs())
	}
	if !connRefused(maddr) {
		t.Errorf("metrics listener still open after exit")
	}
}

// A metrics port that is taken stops the program before it serves.
func TestProcessMetricsPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(serverBin)
	cmd.Env = append(os.Environ(), "PORT=0", "HOST=127.0.0.1", "METRICS_ADDR="+ln.Addr().String())
	out, _ := cmd.Output()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), "cannot listen for metrics") {
		t.Fatalf("exit %d, output %q; want 1 and a 'cannot listen for metrics' line", code, out)
	}
}
