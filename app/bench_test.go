package app

import (
	"io"
	"log/slog"
	"testing"

	"github.com/valyala/fasthttp"
)

// inProcessHandler is the service's whole request path (middleware, router,
// handlers) as fasthttp calls it, without sockets, so that allocations per
// request are exactly ours and Fiber's. Access lines go to io.Discard through
// the JSON access logger, as in production (LOG_FORMAT=json).
func inProcessHandler(tb testing.TB, env map[string]string) fasthttp.RequestHandler {
	tb.Helper()
	cfg, err := loadConfig(envOf(env))
	if err != nil {
		tb.Fatal(err)
	}
	events := slog.New(slog.NewJSONHandler(io.Discard, nil))
	return newService(cfg, events, newJSONAccessLog(io.Discard, cfg.behindProxies())).app.Handler()
}

// requestPath returns a function that serves one GET of path (with an
// incoming X-Request-ID when requestID is set) through inProcessHandler.
func requestPath(tb testing.TB, env map[string]string, path, requestID string) func() {
	handler := inProcessHandler(tb, env)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI(path)
	ctx.Request.Header.SetHost("localhost")
	if requestID != "" {
		ctx.Request.Header.Set("X-Request-ID", requestID)
	}
	return func() {
		ctx.Response.Reset()
		handler(&ctx)
		if ctx.Response.StatusCode() != 200 {
			tb.Fatalf("%s: status %d", path, ctx.Response.StatusCode())
		}
	}
}

var (
	accessLogOff = map[string]string{"ACCESS_LOG": "false"}
	accessLogOn  = map[string]string{"ACCESS_LOG": "true"}
	// What scripts/bench/run calls (e): metrics on, access log on.
	metricsOn = map[string]string{"ACCESS_LOG": "true", "METRICS_ADDR": "127.0.0.1:0"}
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
	}{
		{"root", accessLogOff, "/", ""},
		{"health", accessLogOff, "/health", ""},
		{"root, access log", accessLogOn, "/", ""},
		{"health, access log", accessLogOn, "/health", ""},
		{"root, incoming ID", accessLogOff, "/", incomingID},
		{"root, incoming ID, access log", accessLogOn, "/", incomingID},
		{"root, metrics and access log", metricsOn, "/", ""},
	} {
		serve := requestPath(t, tc.env, tc.path, tc.id)
		serve() // the first request of a metrics series creates it
		if n := testing.AllocsPerRun(1000, serve); n != 0 {
			t.Errorf("%s: %v allocations per request, want 0", tc.name, n)
		}
	}
}

func benchmarkPath(b *testing.B, env map[string]string, path, id string) {
	serve := requestPath(b, env, path, id)
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
