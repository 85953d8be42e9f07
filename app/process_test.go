package app

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary built by TestMain.

func TestProcessServesEveryEndpoint(t *testing.T) {
	p := startServer(t, "DEBUG_ROUTES=true")
	cases := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/", 200, `{"key":"key","value":"value"}`},
		{"GET", "/health", 200, `{"key":"healthy","value":"healthy"}`},
		{"GET", "/livez", 200, `{"status":"live"}`},
		{"GET", "/readyz", 200, `{"status":"ready"}`},
		{"HEAD", "/health", 200, ""},
		{"GET", "/missing", 404, ""},
		{"POST", "/health", 405, ""},
		{"GET", "/debug/panic", 500, ""},
		{"GET", "/health", 200, `{"key":"healthy","value":"healthy"}`}, // still serving after the panic
	}
	for _, tc := range cases {
		status, h, body := get(t, tc.method, p.url(tc.path), nil)
		if status != tc.status || tc.body != "" && body != tc.body {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, status, body, tc.status, tc.body)
		}
		if h.Get("Content-Type") != "application/json" || h.Get("X-Request-ID") == "" {
			t.Errorf("%s %s: headers %v", tc.method, tc.path, h)
		}
		if tc.status == 405 && h.Get("Allow") != "GET, HEAD" {
			t.Errorf("405 without Allow: %v", h)
		}
	}

	_, _, body := get(t, "GET", p.url("/version"), nil)
	var b BuildInfo
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	// TestMain set these with -ldflags -X, as the Dockerfile does.
	if b.Version != "test-1.2.3" || b.Commit != "testcommit" || b.Arch != runtime.GOARCH || b.OS != "linux" {
		t.Fatalf("/version = %+v", b)
	}
	if !strings.Contains(p.logs(), "panic in handler") {
		t.Fatalf("panic not logged:\n%s", p.logs())
	}
}

func TestProcessRequestIDPropagation(t *testing.T) {
	p := startServer(t)
	_, h, _ := get(t, "GET", p.url("/"), http.Header{"X-Request-Id": {"upstream-id-1"}})
	if h.Get("X-Request-ID") != "upstream-id-1" {
		t.Fatalf("incoming ID not kept: %q", h.Get("X-Request-ID"))
	}
	_, h1, _ := get(t, "GET", p.url("/"), nil)
	_, h2, _ := get(t, "GET", p.url("/"), nil)
	if h1.Get("X-Request-ID") == "" || h1.Get("X-Request-ID") == h2.Get("X-Request-ID") {
		t.Fatalf("generated IDs %q and %q must be present and distinct", h1.Get("X-Request-ID"), h2.Get("X-Request-ID"))
	}
	// The access log carries the ID (it is flushed within 100ms).
	eventually(t, 5*time.Second, "access log line with upstream-id-1", func() bool {
		return strings.Contains(p.logs(), `"request_id":"upstream-id-1"`)
	})
}

func TestProcessStartupLog(t *testing.T) {
	p := startServer(t)
	first := p.logLines()[0]
	var rec map[string]any
	if err := json.Unmarshal([]byte(first), &rec); err != nil {
		t.Fatalf("first log line is not JSON: %q", first)
	}
	if rec["msg"] != "listening" || rec["arch"] != runtime.GOARCH || rec["version"] != "test-1.2.3" || rec["addr"] == "" {
		t.Fatalf("startup line %v", rec)
	}
}

func TestProcessBadConfigExits2BeforeBinding(t *testing.T) {
	// A port we hold ourselves: if the process bound before validating, it
	// would fail differently (exit 1, "address already in use").
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	cases := [][2]string{
		{"PORT", "abc"}, {"PORT", "70000"}, {"SHUTDOWN_TIMEOUT", "-3s"}, {"LOG_LEVEL", "loud"},
		{"TRUSTED_PROXIES", "10.0.0.0/99"}, {"READ_TIMEOUT", "forever"}, {"ACCESS_LOG", "maybe"},
		{"BODY_LIMIT", "huge"}, {"LOG_FORMAT", "yaml"}, {"HOST", "bad host"}, {"METRICS_ADDR", "9090"},
	}
	for _, kv := range cases {
		cmd := exec.Command(serverBin)
		cmd.Env = append(os.Environ(), "PORT="+port, kv[0]+"="+kv[1])
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 2 {
			t.Errorf("%s=%s: exit %d (%v), want 2; stderr %q", kv[0], kv[1], code, err, stderr.String())
			continue
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], kv[0]) || !strings.Contains(lines[0], kv[1]) {
			t.Errorf("%s=%s: stderr must be one line naming both, got %q", kv[0], kv[1], stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%s=%s: wrote to stdout (started?): %q", kv[0], kv[1], stdout.String())
		}
	}
}

func TestProcessSubcommands(t *testing.T) {
	out, err := exec.Command(serverBin, "help").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if !bytes.Contains(out, []byte(s.name)) {
			t.Errorf("help does not list %s", s.name)
		}
	}
	out, err = exec.Command(serverBin, "version").Output()
	if err != nil || !bytes.Contains(out, []byte("test-1.2.3")) || !bytes.Contains(out, []byte(runtime.GOARCH)) {
		t.Fatalf("version: %q %v", out, err)
	}
	cmd := exec.Command(serverBin, "frobnicate")
	if err := cmd.Run(); cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("unknown command: %v, want exit 2", err)
	}
}

func TestProcessHealthcheck(t *testing.T) {
	p := startServer(t)
	_, port, _ := net.SplitHostPort(p.addr)

	hc := func(port string) (int, string) {
		cmd := exec.Command(serverBin, "healthcheck")
		cmd.Env = append(os.Environ(), "PORT="+port)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		_ = cmd.Run()
		return cmd.ProcessState.ExitCode(), stderr.String()
	}
	if code, msg := hc(port); code != 0 {
		t.Fatalf("healthcheck against a live server: exit %d %s", code, msg)
	}

	p.signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if code, msg := hc(port); code != 1 || msg == "" {
		t.Fatalf("healthcheck against a dead server: exit %d %q, want 1 and a reason", code, msg)
	}
}

// A slow request is in flight when SIGTERM arrives: it must complete with
// 200, /readyz must turn 503, new connections must be refused, exit 0.
func TestProcessGracefulShutdown(t *testing.T) {
	p := startServer(t, "DEBUG_ROUTES=true", "SHUTDOWN_DELAY=300ms", "SHUTDOWN_TIMEOUT=10s")

	// A keep-alive connection opened before the signal, to ask /readyz on
	// while the listener stays open for SHUTDOWN_DELAY.
	probe, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	probeR := bufio.NewReader(probe)
	ask := func(path string) int {
		fmt.Fprintf(probe, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
		resp, err := http.ReadResponse(probeR, nil)
		if err != nil {
			t.Fatalf("probe %s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := ask("/readyz"); s != 200 {
		t.Fatalf("/readyz before shutdown: %d", s)
	}

	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get(p.url("/debug/sleep?d=1500ms"))
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{resp.StatusCode, string(b), err}
	}()
	// The slow request is in flight once the server has counted it.
	eventually(t, 5*time.Second, "slow request to reach the handler", func() bool {
		return connCount(t, p) >= 2 // probe + slow request
	})

	p.signal(syscall.SIGTERM)
	eventually(t, 5*time.Second, "shutdown to begin", func() bool {
		return strings.Contains(p.logs(), `"msg":"shutting down"`)
	})
	if s := ask("/readyz"); s != 503 {
		t.Fatalf("/readyz after SIGTERM: %d, want 503", s)
	}
	eventually(t, 5*time.Second, "new connections to be refused", func() bool { return connRefused(p.addr) })

	r := <-slow
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, `"slept":"1.5s"`) {
		t.Fatalf("in-flight request: %d %q %v", r.status, r.body, r.err)
	}
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0\n%s", code, p.logs())
	}
	if !strings.Contains(p.logs(), `"msg":"stopped"`) {
		t.Fatalf("no 'stopped' line:\n%s", p.logs())
	}
}

// A second signal during the drain exits at once with 128+signal.
func TestProcessSecondSignalExitsAtOnce(t *testing.T) {
	p := startServer(t, "DEBUG_ROUTES=true", "SHUTDOWN_TIMEOUT=30s")
	go func() {
		if resp, err := http.Get(p.url("/debug/sleep?d=25s")); err == nil {
			resp.Body.Close()
		}
	}()
	eventually(t, 5*time.Second, "slow request to be open", func() bool { return connCount(t, p) >= 1 })
	p.signal(syscall.SIGTERM)
	eventually(t, 5*time.Second, "shutdown to begin", func() bool {
		return strings.Contains(p.logs(), `"msg":"shutting down"`)
	})
	p.signal(syscall.SIGINT)
	if code := p.wait(5 * time.Second); code != 128+int(syscall.SIGINT) {
		t.Fatalf("exit %d, want %d", code, 128+int(syscall.SIGINT))
	}
}

// connCount counts the server's established TCP connections from
// /proc/PID/fd, which is what the kernel says the process holds.
func connCount(t testing.TB, p *proc) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p.cmd.Process.Pid, fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n - 1 // minus the listener
}
