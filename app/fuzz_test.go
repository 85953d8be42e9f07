package app

// Fuzz targets. `go test` runs their seeds (f.Add plus testdata/fuzz/...);
// scripts/fuzz runs the fuzzing engine on them for a while.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// fuzzEnvNames is the argument order of FuzzLoadConfig.
var fuzzEnvNames = []string{
	"PORT", "HOST", "READ_TIMEOUT", "WRITE_TIMEOUT", "IDLE_TIMEOUT", "SHUTDOWN_TIMEOUT",
	"SHUTDOWN_DELAY", "BODY_LIMIT", "READ_BUFFER_SIZE", "MAX_CONNS", "REDUCE_MEMORY_USAGE", "LOG_LEVEL", "LOG_FORMAT",
	"ACCESS_LOG", "TRUSTED_PROXIES", "DEBUG_ROUTES", "METRICS_ADDR",
}

// FuzzLoadConfig: whatever the environment holds, loadConfig never panics;
// it either refuses with a *ConfigError naming the first bad variable (in
// the settings table's order) and its value, or returns a config whose
// every field is within its documented range.
func FuzzLoadConfig(f *testing.F) {
	if len(settings) != len(fuzzEnvNames) {
		f.Fatalf("settings has %d entries, fuzzEnvNames %d: update FuzzLoadConfig", len(settings), len(fuzzEnvNames))
	}
	for i, s := range settings {
		if s.name != fuzzEnvNames[i] {
			f.Fatalf("setting %d is %s, fuzzEnvNames says %s: update FuzzLoadConfig", i, s.name, fuzzEnvNames[i])
		}
	}
	f.Add("8080", "", "10s", "10s", "75s", "20s", "0s", "1MiB", "16KiB", "4096", "true", "info", "json", "true", "", "false", "")
	f.Add("0", "::1", "1ms", "1h", "1s", "1s", "1h", "1", "4KiB", "1", "f", "DEBUG", "TEXT", "1", "10.0.0.0/8, 127.0.0.1", "T", ":9090")
	f.Add("65536", "[::1]", "-1s", "0", "1h1s", "5", "-0s", "1GiB", "4095", "0", "no", "verbose", "xml", "yes", "10.0.0.0/33", "on", "9090")
	f.Add("-0", "bad_host!", "1e3s", "∞", "", "", "", " 1 MiB", "1MB", "1_000", " true", "warning", "Json", "", ",", "", "[::1]:65536")
	f.Add("08080", "a.-b", "9223372036854775807ns", "0.5s", "1h0m0s", "+1s", "00s", "1048576B", "1048577", "1000001", "FALSE", "error", "text", "F", "::ffff:1.2.3.4", "0", "localhost:09090")
	f.Fuzz(func(t *testing.T, port, host, readT, writeT, idleT, shutT, delay, body, rbuf, maxConns, reduceMem, level, format, access, proxies, debug, metrics string) {
		values := []string{port, host, readT, writeT, idleT, shutT, delay, body, rbuf, maxConns, reduceMem, level, format, access, proxies, debug, metrics}
		env := map[string]string{}
		for i, name := range fuzzEnvNames {
			env[name] = values[i]
		}
		cfg, err := loadConfig(envOf(env))
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *ConfigError", err, err)
			}
			want, known := env[ce.Name]
			if !known {
				t.Fatalf("error names %q, not a setting", ce.Name)
			}
			if want != "" && ce.Value != want {
				t.Fatalf("error for %s quotes value %q, want %q", ce.Name, ce.Value, want)
			}
			if !strings.Contains(err.Error(), ce.Name) {
				t.Fatalf("message %q does not name %s", err, ce.Name)
			}
			// The same variable alone is refused too, and every variable
			// before it in the table is fine on its own: the error names
			// the first bad one.
			if _, err := loadConfig(envOf(map[string]string{ce.Name: ce.Value})); err == nil {
				t.Fatalf("%s=%q alone is accepted, but refused with the others", ce.Name, ce.Value)
			}
			for _, s := range settings {
				if s.name == ce.Name {
					break
				}
				if _, err := loadConfig(envOf(map[string]string{s.name: env[s.name]})); err != nil {
					t.Fatalf("error names %s, but the earlier %s is bad too: %v", ce.Name, s.name, err)
				}
			}
			return
		}

		again, err := loadConfig(envOf(env))
		if err != nil || !reflect.DeepEqual(cfg, again) {
			t.Fatalf("not deterministic: %+v / %+v, %v", cfg, again, err)
		}
		checkConfigInvariants(t, cfg)
	})
}

func checkConfigInvariants(t *testing.T, c Config) {
	t.Helper()
	inRange := func(name string, d time.Duration, lo time.Duration) {
		if d < lo || d > time.Hour {
			t.Errorf("%s = %v, outside [%v, 1h]", name, d, lo)
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		t.Errorf("Port = %d", c.Port)
	}
	if c.Host != "" {
		if strings.ContainsAny(c.Host, "[]") {
			t.Errorf("Host %q keeps brackets", c.Host)
		}
		if _, err := netip.ParseAddr(c.Host); err != nil && !isHostname(c.Host) {
			t.Errorf("Host %q is neither an IP nor a host name", c.Host)
		}
		if _, _, err := net.SplitHostPort(net.JoinHostPort(c.Host, "80")); err != nil {
			t.Errorf("Host %q does not make a listen address: %v", c.Host, err)
		}
	}
	inRange("ReadTimeout", c.ReadTimeout, time.Nanosecond)
	inRange("WriteTimeout", c.WriteTimeout, time.Nanosecond)
	inRange("IdleTimeout", c.IdleTimeout, time.Nanosecond)
	inRange("ShutdownTimeout", c.ShutdownTimeout, time.Nanosecond)
	inRange("ShutdownDelay", c.ShutdownDelay, 0)
	if c.BodyLimit < 1 || c.BodyLimit > 1<<30 {
		t.Errorf("BodyLimit = %d", c.BodyLimit)
	}
	if c.ReadBufferSize < 4<<10 || c.ReadBufferSize > 1<<20 {
		t.Errorf("ReadBufferSize = %d", c.ReadBufferSize)
	}
	if c.MaxConns < 1 || c.MaxConns > 1_000_000 {
		t.Errorf("MaxConns = %d", c.MaxConns)
	}
	switch c.LogLevel {
	case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
	default:
		t.Errorf("LogLevel = %v", c.LogLevel)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		t.Errorf("LogFormat = %q", c.LogFormat)
	}
	// Trusted prefixes are what forwardedFor matches unmapped addresses
	// against: valid, masked, never IPv4-mapped.
	for _, p := range c.TrustedProxies {
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Errorf("TrustedProxies entry %v is not a masked, unmapped prefix", p)
		}
	}
	if c.MetricsAddr != "" {
		host, port, err := net.SplitHostPort(c.MetricsAddr)
		n, perr := strconv.Atoi(port)
		_, aerr := netip.ParseAddr(host)
		if err != nil || perr != nil || n < 0 || n > 65535 || host != "" && aerr != nil && !isHostname(host) {
			t.Errorf("MetricsAddr %q is not host:port", c.MetricsAddr)
		}
	}
}

// fuzzConn is the server side of one connection: it reads the fuzz input,
// then EOF (as after a client's half-close, so the server never waits for
// more), and records what the server writes.
type fuzzConn struct {
	r   *bytes.Reader
	mu  sync.Mutex
	out bytes.Buffer
}

func (c *fuzzConn) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *fuzzConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}
func (c *fuzzConn) Close() error        { return nil }
func (c *fuzzConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080} }
func (c *fuzzConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzRequest: raw bytes from a client never crash the service or wedge it,
// and whatever it answers is well-formed HTTP/1.1 carrying X-Request-ID.
//
// The service is the real one (newService, every route and middleware,
// loggers writing JSON to io.Discard), served by Fiber on an in-memory
// listener. Each input goes through the same fasthttp Server on a
// connection that reads the input then EOF (Server.ServeConn), so an
// incomplete request ends at once instead of after READ_TIMEOUT; after each
// input a normal request over the in-memory listener must get 200.
func FuzzRequest(f *testing.F) {
	cfg, err := loadConfig(envOf(map[string]string{
		"BODY_LIMIT": "4KiB", "READ_BUFFER_SIZE": "4KiB", "TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8",
		"READ_TIMEOUT": "2s", "WRITE_TIMEOUT": "2s",
	}))
	if err != nil {
		f.Fatal(err)
	}
	discard := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := newService(cfg, discard, newJSONAccessLog(io.Discard, cfg.TrustedProxies))
	ln := fasthttputil.NewInmemoryListener()
	served := make(chan error, 1)
	go func() { served <- svc.app.Listener(ln) }()
	f.Cleanup(func() {
		_ = svc.app.ShutdownWithTimeout(5 * time.Second)
		_ = ln.Close()
		<-served
	})

	healthy := func(t testing.TB) {
		t.Helper()
		c, err := ln.Dial()
		if err != nil {
			t.Fatalf("dial in-memory listener: %v", err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /health HTTP/1.1\r\nHost: fuzz\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("server no longer answers: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !bytes.Equal(body, healthyBody) {
			t.Fatalf("GET /health afterwards: %d %q", resp.StatusCode, body)
		}
	}

	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /health HTTP/1.1\r\nHost: a\r\nX-Request-ID: abc\r\n\r\nGET /version HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET /%2e%2e/%00 HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4, ::1, garbage\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-Request-ID: \xff\"\r\n\r\n",
		"DELETE /readyz HTTP/1.0\r\n\r\n",
		"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nHEAD /nope HTTP/1.1\r\nHost: a\r\n\r\nGET /livez HTTP/1.1\r\nHost: a\r\n\r\n",
		"HEAD /health HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nabPOST /version HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://x/livez HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
	} {
		f.Add([]byte(s))
	}
	// Fiber builds its routing tree in Listener, before serving: wait for a
	// first answer over the listener before calling ServeConn directly.
	healthy(f)

	f.Fuzz(func(t *testing.T, data []byte) {
		conn := &fuzzConn{r: bytes.NewReader(data)}
		done := make(chan error, 1)
		go func() { done <- svc.app.Server().ServeConn(conn) }()
		select {
		case <-done: // errors are the client's fault; the answer is what counts
		case <-time.After(10 * time.Second):
			t.Fatalf("ServeConn still busy 10s after its input ended")
		}
		conn.mu.Lock()
		out := append([]byte(nil), conn.out.Bytes()...)
		conn.mu.Unlock()

		// A HEAD answer has a Content-Length but no body: the responses
		// are framed by the methods of the requests the server read.
		resps, err := parseResponses(out, requestMethods(data, cfg.BodyLimit, cfg.ReadBufferSize))
		if err != nil {
			t.Fatalf("%v\ninput %q\noutput %q", err, data, out)
		}
		for i, r := range resps {
			if r.status < 200 {
				continue // 100 Continue, written by fasthttp itself
			}
			if id := r.header.Get("X-Request-ID"); !validRequestID([]byte(id)) {
				t.Fatalf("response %d (%d): X-Request-ID %q\n%q", i, r.status, id, out)
			}
		}
		healthy(t)
	})
}

// requestMethods reads data as the server does (fasthttp's parser, the
// same limits) and returns each request's method, in order, up to the
// first request it cannot read.
func requestMethods(data []byte, bodyLimit, readBufferSize int) []string {
	br := bufio.NewReaderSize(bytes.NewReader(data), readBufferSize)
	var methods []string
	for len(methods) < 100 {
		var req fasthttp.Request
		if err := req.ReadLimitBody(br, bodyLimit); err != nil {
			break
		}
		methods = append(methods, string(req.Header.Method()))
	}
	return methods
}
