package app

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// The access line's string encoder must escape exactly as slog's
// JSONHandler does, for every awkward string.
func TestAppendJSONStringMatchesSlog(t *testing.T) {
	awkward := []string{
		"", "plain", `quote " and back\slash`, "new\nline\ttab\r", "nul\x00bell\x07del\x7f",
		"ünïcödé ✓ 日本", "bad utf8 \xff\xfe end", "truncated \xe2\x82", "</script>&amp;", "\u2028\u2029",
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
		want := line(newSlogAccessLog(slog.NewJSONHandler(&slow, nil), cfg.behindProxies()), &slow)
		got := line(newJSONAccessLog(&fast, cfg.behindProxies()), &fast)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("TRUSTED_PROXIES=%q:\n got %v\nwant %v", env["TRUSTED_PROXIES"], got, want)
		}
		if want["path"] != "/nope/%22quoted%22/%E2%9C%93/%0A" || want["status"] != float64(404) ||
			want["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("unexpected line %v", want)
		}
	}
}
