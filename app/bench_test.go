package app

import (
	"io"
	"log/slog"
	"testing"

	"github.com/valyala/fasthttp"
)

// benchmarkPath runs requests through the full middleware chain and router
// the way fasthttp calls them, without sockets, so that allocations per
// request are exactly ours and Fiber's.
func benchmarkPath(b *testing.B, accessLog, path string) {
	cfg, err := loadConfig(envOf(map[string]string{"ACCESS_LOG": accessLog}))
	if err != nil {
		b.Fatal(err)
	}
	events := slog.New(slog.NewJSONHandler(io.Discard, nil))
	access := slog.New(newAccessHandler(io.Discard)) // as in production (LOG_FORMAT=json)
	handler := newService(cfg, events, access).app.Handler()
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

func BenchmarkRoot(b *testing.B)            { benchmarkPath(b, "false", "/") }
func BenchmarkHealth(b *testing.B)          { benchmarkPath(b, "false", "/health") }
func BenchmarkRootAccessLog(b *testing.B)   { benchmarkPath(b, "true", "/") }
func BenchmarkHealthAccessLog(b *testing.B) { benchmarkPath(b, "true", "/health") }

// The incoming-ID path must not allocate either.
func BenchmarkRootWithRequestID(b *testing.B) {
	cfg, _ := loadConfig(envOf(map[string]string{"ACCESS_LOG": "false"}))
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	handler := newService(cfg, logger, logger).app.Handler()
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
