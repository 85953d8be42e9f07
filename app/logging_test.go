package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The hand-written access-log encoder must write exactly what slog's
// JSONHandler writes, for every kind of value and awkward string.
func TestFlatJSONHandlerMatchesSlog(t *testing.T) {
	awkward := []string{
		"", "plain", `quote " and back\slash`, "new\nline\ttab\r", "nul\x00bell\x07del\x7f",
		"ünïcödé ✓ 日本", "bad utf8 \xff\xfe end", "truncated \xe2\x82", "</script>&amp;", "\u2028\u2029",
	}
	at := time.Date(2026, 11, 26, 21, 3, 39, 880962000, time.UTC)
	for _, s := range awkward {
		r := slog.NewRecord(at, slog.LevelInfo, "request "+s, 0)
		r.AddAttrs(
			slog.String("path", s),
			slog.String(s, "key is awkward"),
			slog.Int("status", 404),
			slog.Int("neg", -7),
			slog.Uint64("big", 1<<63),
			slog.Duration("latency", 1234567*time.Nanosecond),
			slog.Bool("ok", true),
			slog.Float64("ratio", 0.25),
		)
		var want, got bytes.Buffer
		if err := slog.NewJSONHandler(&want, nil).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if err := (&flatJSONHandler{w: &got}).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("for %q:\n got %s\nwant %s", s, got.String(), want.String())
		}
	}
}

func TestFlatJSONHandlerWithAttrsFallsBack(t *testing.T) {
	var buf bytes.Buffer
	slog.New(&flatJSONHandler{w: &buf}).With("svc", "x").WithGroup("g").Info("hi", "k", 1)
	if !strings.Contains(buf.String(), `"svc":"x","g":{"k":1}`) {
		t.Fatalf("got %s", buf.String())
	}
}
