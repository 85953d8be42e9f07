package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// newTestService builds the app as the program does, with logs captured.
func newTestService(t *testing.T, env map[string]string) (*service, *bytes.Buffer) {
	t.Helper()
	cfg, err := loadConfig(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	events := slog.New(slog.NewJSONHandler(&logs, nil))
	return newService(cfg, events, newSlogAccessLog(events.Handler(), cfg.TrustedProxies)), &logs
}

func do(t *testing.T, svc *service, method, target string, header http.Header) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := svc.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestEndpoints(t *testing.T) {
	svc, _ := newTestService(t, nil)
	cases := []struct {
		method, path string
		status       int
		body         string // exact, or "" to skip
	}{
		{"GET", "/", 200, `{"key":"key","value":"value"}`},
		{"GET", "/health", 200, `{"key":"healthy","value":"healthy"}`},
		{"GET", "/livez", 200, `{"status":"live"}`},
		{"GET", "/readyz", 200, `{"status":"ready"}`},
		{"GET", "/version", 200, ""},
		{"HEAD", "/", 200, ""},
		{"HEAD", "/health", 200, ""},
		{"HEAD", "/version", 200, ""},
		{"GET", "/nope", 404, ""},
		{"HEAD", "/nope", 404, ""},
		{"POST", "/", 405, ""},
		{"DELETE", "/health", 405, ""},
		{"PUT", "/readyz", 405, ""},
		{"GET", "/debug/panic", 404, ""}, // debug routes are off by default
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := do(t, svc, tc.method, tc.path, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if resp.Header.Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID")
			}
			if tc.method == "HEAD" && body != "" {
				t.Errorf("HEAD returned a body: %q", body)
			}
			if tc.body != "" && body != tc.body {
				t.Errorf("body %s, want %s", body, tc.body)
			}
			if tc.status >= 400 && tc.method != "HEAD" {
				var e struct {
					Status    int    `json:"status"`
					Error     string `json:"error"`
					RequestID string `json:"request_id"`
				}
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Status != tc.status || e.Error != http.StatusText(tc.status) {
					t.Errorf("error body %q (%v)", body, err)
				}
				if e.RequestID != resp.Header.Get("X-Request-ID") {
					t.Errorf("body request_id %q differs from header %q", e.RequestID, resp.Header.Get("X-Request-ID"))
				}
			}
			if tc.status == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q, want %q", resp.Header.Get("Allow"), "GET, HEAD")
			}
		})
	}
}

func TestVersionReportsThisBuild(t *testing.T) {
	svc, _ := newTestService(t, nil)
	_, body := do(t, svc, "GET", "/version", nil)
	var b BuildInfo
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	if b.Arch != runtime.GOARCH || b.OS != runtime.GOOS || b.GoVersion != runtime.Version() || b.Version == "" || b.Commit == "" {
		t.Fatalf("version %+v", b)
	}
}

func TestRequestID(t *testing.T) {
	svc, _ := newTestService(t, nil)
	every := "AZaz09-_.:/+=@"
	longest := strings.Repeat(every, 10)[:maxRequestIDLen]
	for _, good := range []string{"abc-123.XYZ_7", every, "Root=1-5759e988-bd862e3fe1be46a994272793", "a", longest} {
		resp, _ := do(t, svc, "GET", "/", http.Header{"X-Request-Id": {good}})
		if got := resp.Header.Get("X-Request-ID"); got != good {
			t.Errorf("sane incoming ID %q not kept: %q", good, got)
		}
	}
	if maxRequestIDLen != 128 {
		t.Errorf("request IDs up to %d characters are kept, the README says 128", maxRequestIDLen)
	}
	seen := map[string]bool{}
	for _, bad := range []string{"has space", `quote"d`, longest + "a", "ü-non-ascii", "<script>", "a,b", "a;b", "a%b", "a\\b"} {
		resp, _ := do(t, svc, "GET", "/", http.Header{"X-Request-Id": {bad}})
		got := resp.Header.Get("X-Request-ID")
		if got == bad || !generatedRequestID.MatchString(got) || seen[got] {
			t.Fatalf("incoming %q: got %q, want a fresh generated ID", bad, got)
		}
		seen[got] = true
	}
}

func TestDrainingTurnsReadinessAndHealthTo503(t *testing.T) {
	svc, _ := newTestService(t, nil)
	svc.draining.Store(true)
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/readyz", 503, `{"status":"shutting down"}`},
		{"/health", 503, `{"key":"unhealthy","value":"shutting down"}`},
		{"/livez", 200, `{"status":"live"}`},
		{"/", 200, `{"key":"key","value":"value"}`},
	} {
		resp, body := do(t, svc, "GET", tc.path, nil)
		if resp.StatusCode != tc.status || body != tc.body {
			t.Errorf("%s while draining: %d %s, want %d %s", tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
		if !resp.Close {
			t.Errorf("%s while draining: want Connection: close", tc.path)
		}
	}
}

func TestPanicIsRecovered(t *testing.T) {
	svc, logs := newTestService(t, map[string]string{"DEBUG_ROUTES": "true"})
	resp, body := do(t, svc, "GET", "/debug/panic", nil)
	if resp.StatusCode != 500 || !strings.Contains(body, `"status":500`) {
		t.Fatalf("panic: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(logs.String(), "panic in handler") || !strings.Contains(logs.String(), resp.Header.Get("X-Request-ID")) {
		t.Fatalf("panic not logged with its request ID:\n%s", logs.String())
	}
	if resp, _ := do(t, svc, "GET", "/health", nil); resp.StatusCode != 200 {
		t.Fatalf("after a panic /health answered %d", resp.StatusCode)
	}
}

func TestAccessLogLine(t *testing.T) {
	svc, logs := newTestService(t, nil)
	resp, _ := do(t, svc, "GET", "/nope?x=1", http.Header{"X-Request-Id": {"req-42"}})
	if resp.StatusCode != 404 {
		t.Fatal(resp.StatusCode)
	}
	var line struct {
		Msg       string `json:"msg"`
		RequestID string `json:"request_id"`
		Method    string `json:"method"`
		Path      string `json:"path"`
		ClientIP  string `json:"client_ip"`
		Status    int    `json:"status"`
		Bytes     int    `json:"bytes"`
		Latency   int64  `json:"latency"`
	}
	for l := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(l, `"msg":"request"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line.Msg != "request" || line.RequestID != "req-42" || line.Method != "GET" || line.Path != "/nope" ||
		line.Status != 404 || line.Bytes == 0 || line.Latency <= 0 || line.ClientIP == "" {
		t.Fatalf("access line %+v from logs:\n%s", line, logs.String())
	}
}

func TestAccessLogOff(t *testing.T) {
	svc, logs := newTestService(t, map[string]string{"ACCESS_LOG": "false"})
	do(t, svc, "GET", "/", nil)
	if strings.Contains(logs.String(), `"msg":"request"`) {
		t.Fatalf("ACCESS_LOG=false still logged:\n%s", logs.String())
	}
}

// /debug/sleep's ?d= takes 0 to 1m (default 1s); the ends are checked here
// rather than by sleeping a minute.
func TestDebugSleepFor(t *testing.T) {
	for q, want := range map[string]time.Duration{"": time.Second, "0s": 0, "1ms": time.Millisecond, "1m": time.Minute} {
		if d, err := debugSleepFor(q); err != nil || d != want {
			t.Errorf("d=%q: %v, %v; want %v", q, d, err, want)
		}
	}
	for _, q := range []string{"-1ns", "1m0.000000001s", "2m", "soon", "1"} {
		d, err := debugSleepFor(q)
		var fe *fiber.Error
		if !errors.As(err, &fe) || fe.Code != 400 || fe.Message != "d must be a duration from 0 to 1m0s" {
			t.Errorf("d=%q: %v, %v; want a 400 naming the range", q, d, err)
		}
	}
}
