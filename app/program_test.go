package app

// The program as it ships (the binary built by TestMain): endpoints over
// real sockets, subcommands, exit codes, the startup line, HOST.

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestProcessServesEveryEndpoint(t *testing.T) {
	t.Parallel() // /debug/sleep's default second
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
		{"GET", "/debug/sleep?d=1ms", 200, `{"slept":"1ms"}`},
		{"GET", "/debug/sleep?d=0s", 200, `{"slept":"0s"}`},
		{"GET", "/debug/sleep", 200, `{"slept":"1s"}`},
		{"GET", "/debug/sleep?d=2m", 400, ""},
		{"GET", "/debug/sleep?d=-1ms", 400, ""},
		{"GET", "/debug/sleep?d=soon", 400, ""},
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
	var b map[string]string
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	// TestMain set version and commit with -ldflags -X, as the Dockerfile does.
	want := map[string]string{"version": "test-1.2.3", "commit": "testcommit", "go_version": runtime.Version(),
		"os": "linux", "arch": runtime.GOARCH}
	for k, v := range want {
		if b[k] != v {
			t.Errorf("/version %s = %q, want %q (%s)", k, b[k], v, body)
		}
	}
	if b["build_time"] == "" || len(b) != 6 {
		t.Errorf("/version = %s, want exactly version, commit, build_time, go_version, os, arch", body)
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
	// The access line carries the ID; it is flushed within 100ms, while
	// the server keeps running.
	p.waitLog(5e9, "access line with upstream-id-1", func(r logRecord) bool {
		return r.msg() == "request" && r.str("request_id") == "upstream-id-1"
	})
}

// The first line on stdout is the startup line (no Fiber banner) with
// every field the README lists.
func TestProcessStartupLog(t *testing.T) {
	p := startServer(t)
	rec, ok := parseJSONLog(p.logLines()[0])
	if !ok {
		t.Fatalf("first log line is not JSON: %q", p.logLines()[0])
	}
	want := map[string]any{
		"level": "INFO", "msg": "listening", "addr": p.addr, "version": "test-1.2.3", "commit": "testcommit",
		"go": runtime.Version(), "os": "linux", "arch": runtime.GOARCH, "pid": float64(p.pid()),
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("startup line %s = %v, want %v", k, rec[k], v)
		}
	}
	if _, ok := rec["time"]; !ok || len(rec) != len(want)+1 {
		t.Errorf("startup line %v, want time and exactly %d more fields", rec, len(want))
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
		code, stdout, stderr := runServer(t, []string{"PORT=" + port, kv[0] + "=" + kv[1]})
		if code != 2 {
			t.Errorf("%s=%s: exit %d, want 2; stderr %q", kv[0], kv[1], code, stderr)
			continue
		}
		want := "server: invalid " + kv[0] + "=" + strconv.Quote(kv[1]) + ": "
		if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, want) {
			t.Errorf("%s=%s: stderr must be one line starting %q, got %q", kv[0], kv[1], want, stderr)
		}
		if stdout != "" {
			t.Errorf("%s=%s: wrote to stdout (started?): %q", kv[0], kv[1], stdout)
		}
	}
}

// A port that cannot be bound is a failure (1), not a bad setting (2).
func TestProcessPortTakenExits1(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	code, stdout, _ := runServer(t, []string{"HOST=127.0.0.1", "PORT=" + port})
	rec, _ := parseJSONLog(strings.TrimSpace(stdout))
	if code != 1 || rec.msg() != "cannot listen" || !strings.Contains(rec.str("err"), "address already in use") {
		t.Errorf("port taken: exit %d, stdout %q; want 1 and a \"cannot listen\" line", code, stdout)
	}
}

// runServer runs the binary to completion and returns its exit code and output.
func runServer(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := serverCmd(env, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	_ = cmd.Run()
	if cmd.ProcessState == nil {
		t.Fatalf("server %v did not run", args)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

func TestProcessSubcommands(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		code, out, _ := runServer(t, nil, arg)
		if code != 0 || !strings.HasPrefix(out, "Usage: server [command]") {
			t.Errorf("server %s: exit %d, output %q", arg, code, out)
		}
		// Every variable with its default, as the README table has them.
		for _, s := range settings {
			def := s.def
			if def == "" {
				def = `""`
			}
			if !regexp.MustCompile(`(?m)^  ` + s.name + ` +` + regexp.QuoteMeta(def) + ` +\S`).MatchString(out) {
				t.Errorf("server %s does not list %s with its default %s:\n%s", arg, s.name, def, out)
			}
		}
	}

	// The test server is built with version and commit set, no build time
	// and no VCS stamp (-buildvcs=false, see TestMain).
	code, out, _ := runServer(t, nil, "version")
	want := "test-1.2.3 commit=testcommit built=unknown " + runtime.Version() + " linux/" + runtime.GOARCH + "\n"
	if code != 0 || out != want {
		t.Errorf("server version: exit %d, %q, want %q", code, out, want)
	}

	// An empty command is the server: here it stops at the bad setting.
	if code, _, errOut := runServer(t, []string{"PORT=x"}, ""); code != 2 || !strings.HasPrefix(errOut, `server: invalid PORT="x"`) {
		t.Errorf(`server "": exit %d, stderr %q; want the server's own check of PORT`, code, errOut)
	}
	for _, args := range [][]string{{"frobnicate"}, {"", "extra"}} {
		code, out, errOut := runServer(t, nil, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "Usage: server [command]") && args[0] != "" || errOut == "" {
			t.Errorf("server %q: exit %d, stdout %q, stderr %q; want 2 and a reason", args, code, out, errOut)
		}
	}
}

// HOST empty binds every interface, IPv4 and IPv6; a specific HOST binds
// only that address.
func TestProcessHost(t *testing.T) {
	p := startServer(t, "HOST=")
	_, port, _ := net.SplitHostPort(p.addr)
	if p.addr != "[::]:"+port {
		t.Errorf("HOST empty: listening on %s, want [::]:%s", p.addr, port)
	}
	if code, _, _ := get(t, "GET", "http://127.0.0.1:"+port+"/livez", nil); code != 200 {
		t.Errorf("HOST empty: 127.0.0.1 answered %d", code)
	}
	t.Run("IPv6", func(t *testing.T) {
		ln, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			unavailable(t, "this machine has no IPv6 loopback (%v): HOST empty is not checked to answer on ::1", err)
		}
		ln.Close()
		if code, _, _ := get(t, "GET", "http://[::1]:"+port+"/livez", nil); code != 200 {
			t.Errorf("HOST empty: ::1 answered %d", code)
		}
	})

	p = startServer(t, "HOST=127.0.0.2")
	_, port, _ = net.SplitHostPort(p.addr)
	if p.addr != "127.0.0.2:"+port {
		t.Errorf("HOST=127.0.0.2: listening on %s", p.addr)
	}
	if !connRefused("127.0.0.1:" + port) {
		t.Errorf("HOST=127.0.0.2: 127.0.0.1:%s accepts connections too", port)
	}
	if code, _, _ := get(t, "GET", p.url("/livez"), nil); code != 200 {
		t.Errorf("HOST=127.0.0.2: answered %d", code)
	}
}

func init() {
	// The process tests want the server's own defaults, not the caller's.
	for _, s := range settings {
		os.Unsetenv(s.name)
	}
}
