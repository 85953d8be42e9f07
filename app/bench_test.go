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

func benchmarkPath(b *testing.B, path string, env map[string]string) {
	handler := inProcessHandler(b, env)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI(path)
	ctx.Request.Header.SetHost("localhost")
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		handler(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("status %d", ctx.Response.StatusCode())
		}
	}
}

var (
	accessLogOff = map[string]string{"ACCESS_LOG": "false"}
	accessLogOn  = map[string]string{"ACCESS_LOG": "true"}
	// What scripts/bench/run calls (e): metrics on, access log on.
	metricsOn = map[string]string{"ACCESS_LOG": "true", "METRICS_ADDR": "127.0.0.1:0"}
)

func BenchmarkRoot(b *testing.B)                 { benchmarkPath(b, "/", accessLogOff) }
func BenchmarkHealth(b *testing.B)               { benchmarkPath(b, "/health", accessLogOff) }
func BenchmarkRootAccessLog(b *testing.B)        { benchmarkPath(b, "/", accessLogOn) }
func BenchmarkHealthAccessLog(b *testing.B)      { benchmarkPath(b, "/health", accessLogOn) }
func BenchmarkRootMetricsAccessLog(b *testing.B) { benchmarkPath(b, "/", metricsOn) }

// The incoming-ID path must not allocate either.
func BenchmarkRootWithRequestID(b *testing.B) {
	handler := inProcessHandler(b, accessLogOff)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI("/")
	ctx.Request.Header.Set("X-Request-ID", "0f8fad5b-d9cb-469f-a165-70867728950e")
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		handler(&ctx)
	}
}
