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

func TestAccessHandlerLogsOtherRecordsThroughSlog(t *testing.T) {
	var buf bytes.Buffer
	slog.New(newAccessHandler(&buf)).With("svc", "x").WithGroup("g").Info("hi", "k", 1)
	if !strings.Contains(buf.String(), `"msg":"hi","svc":"x","g":{"k":1}`) {
		t.Fatalf("got %s", buf.String())
	}
}

// The access line appended from the request's bytes must carry the same
// fields as the slog record it replaces.
func TestAccessLineFastPathMatchesSlogRecord(t *testing.T) {
	for _, env := range []map[string]string{nil, {"TRUSTED_PROXIES": "0.0.0.0/0,::/0"}} {
		cfg, err := loadConfig(envOf(env))
		if err != nil {
			t.Fatal(err)
		}
		line := func(access slog.Handler, buf *bytes.Buffer) map[string]any {
			events := slog.New(slog.NewJSONHandler(io.Discard, nil))
			svc := newService(cfg, events, slog.New(access))
			req := httptest.NewRequest("GET", "/nope/%22quoted%22/%E2%9C%93/%0A", nil)
			req.Header.Set("X-Request-ID", "fixed-id-1")
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
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
		want := line(slog.NewJSONHandler(&slow, nil), &slow)
		got := line(newAccessHandler(&fast), &fast)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("TRUSTED_PROXIES=%q:\n got %v\nwant %v", env["TRUSTED_PROXIES"], got, want)
		}
		if want["path"] != "/nope/%22quoted%22/%E2%9C%93/%0A" || want["status"] != float64(404) {
			t.Errorf("unexpected line %v", want)
		}
	}
}
