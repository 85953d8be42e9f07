package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// The access line's string encoder must escape exactly as slog's
// JSONHandler does, for every awkward string.
func TestAppendJSONStringMatchesSlog(t *testing.T) {
	awkward := []string{
		"", "plain", `quote " and back\slash`, "new\nline\ttab\r", "nul\x00bell\x07del\x7f",
		"ünïcödé ✓ 日本", "bad utf8 \xff\xfe end", "\x80 lone continuation", "\x1f unit separator, \x20 space", "truncated \xe2\x82", "</script>&amp;", "\u2028\u2029",
	}
	for _, s := range awkward {
		var line bytes.Buffer
		slog.New(slog.NewJSONHandler(&line, nil)).Info("", "v", s)
		_, want, ok := strings.Cut(strings.TrimSuffix(line.String(), "}\n"), `"v":`)
		if !ok {
			t.Fatalf("no v in slog's line %q", line.String())
		}
		if got := string(appendJSONString(nil, s)); got != want {
			t.Errorf("for %q:\n got %s\nwant %s", s, got, want)
		}
	}
}

// The JSON access line appended from the request's bytes must say what
// slog's JSON handler says for the same fields.
func TestJSONAccessLogMatchesSlog(t *testing.T) {
	for _, env := range []map[string]string{nil, {"TRUSTED_PROXIES": "0.0.0.0/0,::/0"}} {
		cfg, err := loadConfig(envOf(env))
		if err != nil {
			t.Fatal(err)
		}
		line := func(access accessLogger, buf *bytes.Buffer) map[string]any {
			events := slog.New(slog.NewJSONHandler(io.Discard, nil))
			svc := newService(cfg, events, access)
			req := httptest.NewRequest("GET", "/nope/%22quoted%22/%E2%9C%93/%0A", nil)
			req.Header.Set("X-Request-ID", "fixed-id-1")
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
			if _, err := svc.app.Test(req, -1); err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
				t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
			}
			if lat, _ := m["latency"].(float64); lat <= 0 {
				t.Errorf("latency %v", m["latency"])
			}
			delete(m, "time")
			delete(m, "latency")
			return m
		}
		var slow, fast bytes.Buffer
		want := line(newSlogAccessLog(slog.NewJSONHandler(&slow, nil), cfg.TrustedProxies), &slow)
		got := line(newJSONAccessLog(&fast, cfg.TrustedProxies), &fast)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("TRUSTED_PROXIES=%q:\n got %v\nwant %v", env["TRUSTED_PROXIES"], got, want)
		}
		if want["path"] != "/nope/%22quoted%22/%E2%9C%93/%0A" || want["status"] != float64(404) ||
			want["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("unexpected line %v", want)
		}
	}
}

// The access line of the running server carries every field the README
// lists, with latency in nanoseconds.
func TestProcessAccessLine(t *testing.T) {
	p := startServer(t, "DEBUG_ROUTES=true")
	const slept = 100 * time.Millisecond
	_, _, body := get(t, "GET", p.url("/debug/sleep?d=100ms"), http.Header{"X-Request-Id": {"access-1"}})
	rec := p.waitLog(5*time.Second, "access line of access-1", func(r logRecord) bool {
		return r.msg() == "request" && r.str("request_id") == "access-1"
	})
	want := logRecord{"level": "INFO", "msg": "request", "request_id": "access-1", "method": "GET",
		"path": "/debug/sleep", "status": float64(200), "bytes": float64(len(body)), "client_ip": "127.0.0.1"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("access line %s = %v, want %v", k, rec[k], v)
		}
	}
	// The request took at least the 100ms it slept: 1e8 ns, not 1e5 µs.
	if lat, _ := rec.num("latency"); lat < float64(slept) || lat > float64(time.Minute) {
		t.Errorf("latency %v, want the request's duration in ns (>= %d)", rec["latency"], slept.Nanoseconds())
	}
	if _, ok := rec["time"]; !ok || len(rec) != len(want)+2 {
		t.Errorf("access line %v, want time, latency and exactly the fields %v", rec, want)
	}
}

// A panic is logged with its stack and request ID, and answered 500.
func TestProcessPanicLog(t *testing.T) {
	p := startServer(t, "DEBUG_ROUTES=true")
	code, h, _ := get(t, "GET", p.url("/debug/panic"), nil)
	if code != 500 {
		t.Fatalf("GET /debug/panic: %d", code)
	}
	rec := p.waitLog(5*time.Second, `"panic in handler"`, func(r logRecord) bool { return r.msg() == "panic in handler" })
	if rec.str("level") != "ERROR" || rec.str("request_id") != h.Get("X-Request-ID") || rec.str("panic") != "debug panic requested" ||
		rec.str("method") != "GET" || rec.str("path") != "/debug/panic" {
		t.Errorf("panic line %v", rec)
	}
	if stack := rec.str("stack"); !strings.HasPrefix(stack, "goroutine ") || !strings.Contains(stack, "debugPanic") {
		t.Errorf("panic line without the panicking handler's stack: %q", stack)
	}
}

// Access lines still buffered when the process stops are written at exit.
// LOG_LEVEL=error, so that no shutdown line flushes the buffer first.
func TestProcessAccessLinesFlushedAtExit(t *testing.T) {
	port := freePort(t)
	p := startProc(t, "PORT="+port, "HOST=127.0.0.1", "LOG_LEVEL=error")
	p.addr = "127.0.0.1:" + port
	eventually(t, 5*time.Second, "the server to listen", func() bool { return !connRefused(p.addr) })
	const n = 20
	for i := range n {
		get(t, "GET", p.url("/"), http.Header{"X-Request-Id": {fmt.Sprintf("flush-%d", i)}})
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	seen := 0
	for _, r := range p.records() {
		if r.msg() == "request" && strings.HasPrefix(r.str("request_id"), "flush-") {
			seen++
		}
	}
	if seen != n {
		t.Errorf("%d of %d access lines written by exit:\n%s", seen, n, p.logs())
	}
}

// LOG_LEVEL=warn drops info lines (startup, shutdown) but not access lines,
// which only ACCESS_LOG turns off.
func TestProcessLogLevelWarn(t *testing.T) {
	port := freePort(t)
	p := startProc(t, "PORT="+port, "HOST=127.0.0.1", "LOG_LEVEL=warn", "DEBUG_ROUTES=true")
	p.waitLog(5*time.Second, "debug-routes warning", func(r logRecord) bool { return r.str("level") == "WARN" })
	p.addr = "127.0.0.1:" + port
	get(t, "GET", p.url("/"), http.Header{"X-Request-Id": {"at-warn"}})
	p.signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	access := 0
	for _, r := range p.records() {
		switch {
		case r.msg() == "request":
			access++
		case r.str("level") != "WARN" && r.str("level") != "ERROR":
			t.Errorf("LOG_LEVEL=warn logged %v", r)
		}
	}
	if access != 1 {
		t.Errorf("%d access lines, want 1:\n%s", access, p.logs())
	}
}

// LOG_LEVEL=debug shows fasthttp's own messages (here: a connection over
// MAX_CONNS), which the default level hides (see TestMaxConnsCap).
func TestProcessLogLevelDebug(t *testing.T) {
	p := startServer(t, "LOG_LEVEL=debug", "MAX_CONNS=1")
	keptAlive(t, p.addr, "/", rootBody)
	resps, raw := rawExchange(t, p.addr, nil)
	if len(resps) != 1 || resps[0].status != 503 {
		t.Fatalf("connection over MAX_CONNS=1: %q, want a 503", raw)
	}
	p.waitLog(5*time.Second, "fasthttp debug line", func(r logRecord) bool {
		return r.str("level") == "DEBUG" && r.str("source") == "fasthttp" && strings.Contains(r.msg(), "concurrent connections")
	})
}

// LOG_FORMAT=text writes slog's text lines, startup and access lines alike.
func TestProcessLogFormatText(t *testing.T) {
	port := freePort(t)
	p := startProc(t, "PORT="+port, "HOST=127.0.0.1", "LOG_FORMAT=text")
	p.addr = "127.0.0.1:" + port
	eventually(t, 5*time.Second, "the startup line", func() bool { return len(p.logLines()) > 0 })
	get(t, "GET", p.url("/nope"), http.Header{"X-Request-Id": {"text-1"}})
	p.signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := p.logLines()
	startup := regexp.MustCompile(`^time=\S+ level=INFO msg=listening addr=127\.0\.0\.1:` + port + ` version=test-1\.2\.3 commit=testcommit go=\S+ os=linux arch=\S+ pid=\d+$`)
	access := regexp.MustCompile(`^time=\S+ level=INFO msg=request request_id=text-1 method=GET path=/nope status=404 latency=\S+s bytes=\d+ client_ip=127\.0\.0\.1$`)
	if len(lines) < 2 || !startup.MatchString(lines[0]) {
		t.Errorf("startup line %q, want slog text format", lines)
	}
	found := false
	for _, l := range lines {
		found = found || access.MatchString(l)
	}
	if !found {
		t.Errorf("no text access line for text-1:\n%s", strings.Join(lines, "\n"))
	}
}

// Event lines (startup, shutdown, errors) reach the output as soon as they
// are logged; access lines wait for the buffer's flush.
func TestEventLinesAreWrittenAtOnce(t *testing.T) {
	var w lockedBuffer
	out := newLogOutput(&w)
	events, access := newLoggers(Config{LogFormat: "json", LogLevel: slog.LevelInfo}, out)
	events.Info("listening")
	if !strings.Contains(w.String(), `"msg":"listening"`) {
		t.Errorf("the event line is not written at once: %q", w.String())
	}
	app := fiber.New()
	app.Get("/", func(c *fiber.Ctx) error {
		access.logRequest(c, time.Now())
		return nil
	})
	if _, err := app.Test(httptest.NewRequest("GET", "/", nil)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(w.String(), `"msg":"request"`) {
		t.Errorf("the access line is written before the flush: %q", w.String())
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.String(), `"msg":"request"`) {
		t.Errorf("the access line is not written by Close: %q", w.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for the flusher goroutine and the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
