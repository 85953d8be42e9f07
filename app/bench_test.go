package app

import (
	"io"
	"log/slog"
	"testing"

	"github.com/valyala/fasthttp"
)

// requestPath returns a function that serves one request through the full
// middleware chain and router the way fasthttp calls them, without
// sockets, so that allocations per request are exactly ours and Fiber's.
// The access logger is the production one for LOG_FORMAT=json, writing to
// io.Discard.
func requestPath(tb testing.TB, env map[string]string, path, requestID string) func() {
	cfg, err := loadConfig(envOf(env))
	if err != nil {
		tb.Fatal(err)
	}
	events := slog.New(slog.NewJSONHandler(io.Discard, nil))
	access := slog.New(newAccessHandler(io.Discard))
	handler := newService(cfg, events, access).app.Handler()
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

// TestRequestPathAllocs: the README's "0 allocs/op" claim, with and
// without the access log, with a generated and with an incoming request
// ID. The race detector makes sync.Pool drop items on purpose, so this
// needs a build without -race (scripts/test runs it so).
func TestRequestPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are not measurable under -race")
	}
	for _, tc := range []struct {
		name, accessLog, path, id string
	}{
		{"root", "false", "/", ""},
		{"health", "false", "/health", ""},
		{"root, access log", "true", "/", ""},
		{"health, access log", "true", "/health", ""},
		{"root, incoming ID", "false", "/", "0f8fad5b-d9cb-469f-a165-70867728950e"},
		{"root, incoming ID, access log", "true", "/", "0f8fad5b-d9cb-469f-a165-70867728950e"},
	} {
		serve := requestPath(t, map[string]string{"ACCESS_LOG": tc.accessLog}, tc.path, tc.id)
		if n := testing.AllocsPerRun(1000, serve); n != 0 {
			t.Errorf("%s: %v allocations per request, want 0", tc.name, n)
		}
	}
}

func benchmarkPath(b *testing.B, accessLog, path, id string) {
	serve := requestPath(b, map[string]string{"ACCESS_LOG": accessLog}, path, id)
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}

func BenchmarkRoot(b *testing.B)            { benchmarkPath(b, "false", "/", "") }
func BenchmarkHealth(b *testing.B)          { benchmarkPath(b, "false", "/health", "") }
func BenchmarkRootAccessLog(b *testing.B)   { benchmarkPath(b, "true", "/", "") }
func BenchmarkHealthAccessLog(b *testing.B) { benchmarkPath(b, "true", "/health", "") }
func BenchmarkRootWithRequestID(b *testing.B) {
	benchmarkPath(b, "false", "/", "0f8fad5b-d9cb-469f-a165-70867728950e")
}
