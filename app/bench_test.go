package app

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// inProcessHandler is the service's whole request path (middleware, router,
// handlers) as fasthttp calls it, without sockets, so that allocations per
// request are exactly ours and Fiber's. Access lines go to access through
// the JSON access logger, as in production (LOG_FORMAT=json).
func inProcessHandler(tb testing.TB, env map[string]string, access io.Writer) fasthttp.RequestHandler {
	tb.Helper()
	cfg, err := loadConfig(envOf(env))
	if err != nil {
		tb.Fatal(err)
	}
	events := slog.New(slog.NewJSONHandler(io.Discard, nil))
	return newService(cfg, events, newJSONAccessLog(access, cfg.TrustedProxies)).app.Handler()
}

// lastLine keeps the last access line written, in a buffer it reuses.
type lastLine struct{ b []byte }

func (l *lastLine) Write(p []byte) (int, error) {
	l.b = append(l.b[:0], p...)
	return len(p), nil
}

// clientIP is the line's client_ip ("" without one).
func (l *lastLine) clientIP() string {
	var rec struct {
		ClientIP string `json:"client_ip"`
	}
	_ = json.Unmarshal(l.b, &rec)
	return rec.ClientIP
}

// requestPath returns a function that serves one GET of path (with an
// incoming X-Request-ID when requestID is set) through inProcessHandler,
// and where its access line goes. With X-Forwarded-For lines, the request
// comes from albPeer.
func requestPath(tb testing.TB, env map[string]string, path, requestID string, forwardedFor ...string) (func(), *lastLine) {
	access := new(lastLine)
	handler := inProcessHandler(tb, env, access)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI(path)
	ctx.Request.Header.SetHost("localhost")
	if requestID != "" {
		ctx.Request.Header.Set("X-Request-ID", requestID)
	}
	if len(forwardedFor) > 0 {
		ctx.SetRemoteAddr(albPeer)
		for _, v := range forwardedFor {
			ctx.Request.Header.Add("X-Forwarded-For", v)
		}
	}
	return func() {
		ctx.Response.Reset()
		handler(&ctx)
		if ctx.Response.StatusCode() != 200 {
			tb.Fatalf("%s: status %d", path, ctx.Response.StatusCode())
		}
	}, access
}

var (
	accessLogOff = map[string]string{"ACCESS_LOG": "false"}
	accessLogOn  = map[string]string{"ACCESS_LOG": "true"}
	// What scripts/bench/run calls (e): metrics on, access log on.
	metricsOn = map[string]string{"ACCESS_LOG": "true", "METRICS_ADDR": "127.0.0.1:0"}
	// Behind a load balancer in 10.0.0.0/16, which albPeer is.
	behindALB        = map[string]string{"ACCESS_LOG": "true", "TRUSTED_PROXIES": "10.0.0.0/16"}
	metricsBehindALB = map[string]string{"ACCESS_LOG": "true", "METRICS_ADDR": "127.0.0.1:0", "TRUSTED_PROXIES": "10.0.0.0/16"}
	albPeer          = &net.TCPAddr{IP: net.IPv4(10, 0, 1, 5), Port: 40000}
	// X-Forwarded-For as a chain of proxies sends it, forged entries first:
	// three lines, IPv6 and ports, the walk ending at 203.0.113.7.
	forwardedChain = []string{"6.6.6.6, 198.51.100.9", "[2001:db8::7]:4711, 203.0.113.7:5000", "10.0.2.9,\t10.0.3.1"}
	// A malformed entry between trusted hops stops the walk there.
	forwardedMalformed = []string{"203.0.113.7", "unknown, 10.0.2.9"}
)

const incomingID = "0f8fad5b-d9cb-469f-a165-70867728950e"

// TestRequestPathAllocs: the README's "0 allocs/op" claim, with and
// without the access log, with a generated and with an incoming request
// ID. The race detector makes sync.Pool drop items on purpose, so this
// needs a build without -race (scripts/test runs it so).
func TestRequestPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are not measurable under -race")
	}
	for _, tc := range []struct {
		name     string
		env      map[string]string
		path, id string
		xff      []string
		client   string // the access line's client_ip ("" without an access log)
	}{
		{"root", accessLogOff, "/", "", nil, ""},
		{"health", accessLogOff, "/health", "", nil, ""},
		{"root, access log", accessLogOn, "/", "", nil, "0.0.0.0"},
		{"health, access log", accessLogOn, "/health", "", nil, "0.0.0.0"},
		{"root, incoming ID", accessLogOff, "/", incomingID, nil, ""},
		{"root, incoming ID, access log", accessLogOn, "/", incomingID, nil, "0.0.0.0"},
		{"root, metrics and access log", metricsOn, "/", "", nil, "0.0.0.0"},
		{"root, access log, TRUSTED_PROXIES, three X-Forwarded-For lines", behindALB, "/", "", forwardedChain, "203.0.113.7"},
		{"root, access log, TRUSTED_PROXIES, a malformed X-Forwarded-For entry", behindALB, "/", "", forwardedMalformed, "10.0.2.9"},
		{"root, access log, incoming ID, TRUSTED_PROXIES, X-Forwarded-For", behindALB, "/", incomingID, forwardedChain, "203.0.113.7"},
	} {
		serve, access := requestPath(t, tc.env, tc.path, tc.id, tc.xff...)
		serve() // the first request of a metrics series creates it
		if n := testing.AllocsPerRun(1000, serve); n != 0 {
			t.Errorf("%s: %v allocations per request, want 0", tc.name, n)
		}
		if got := access.clientIP(); got != tc.client {
			t.Errorf("%s: client_ip %q, want %q", tc.name, got, tc.client)
		}
	}
}

func benchmarkPath(b *testing.B, env map[string]string, path, id string, forwardedFor ...string) {
	serve, _ := requestPath(b, env, path, id, forwardedFor...)
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}

func BenchmarkRoot(b *testing.B)                 { benchmarkPath(b, accessLogOff, "/", "") }
func BenchmarkHealth(b *testing.B)               { benchmarkPath(b, accessLogOff, "/health", "") }
func BenchmarkRootAccessLog(b *testing.B)        { benchmarkPath(b, accessLogOn, "/", "") }
func BenchmarkHealthAccessLog(b *testing.B)      { benchmarkPath(b, accessLogOn, "/health", "") }
func BenchmarkRootMetricsAccessLog(b *testing.B) { benchmarkPath(b, metricsOn, "/", "") }
func BenchmarkRootWithRequestID(b *testing.B)    { benchmarkPath(b, accessLogOff, "/", incomingID) }
func BenchmarkRootBehindALB(b *testing.B) {
	benchmarkPath(b, behindALB, "/", "", forwardedChain...)
}
