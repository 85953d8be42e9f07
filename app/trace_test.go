package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

const (
	validTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	validTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	validAmzn        = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	validAmznAsW3C   = "5759e988bd862e3fe1be46a994272793"
)

// TestTraceIDOf: the trace ID (hex, or "" for none) that each pair of
// headers gives.
func TestTraceIDOf(t *testing.T) {
	cases := []struct {
		name, traceparent, amzn, want string
	}{
		{"none", "", "", ""},
		{"W3C", validTraceparent, "", validTraceID},
		{"W3C, not sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "", validTraceID},
		{"X-Ray from ALB", "", "Root=1-5759e988-bd862e3fe1be46a994272793", validAmznAsW3C},
		{"X-Ray with parent", "", validAmzn, validAmznAsW3C},
		{"X-Ray, Self first (ALB on a traced request)", "", "Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793", validAmznAsW3C},
		{"X-Ray, spaces after ;", "", "Sampled=1; Root=1-5759e988-bd862e3fe1be46a994272793", validAmznAsW3C},
		{"X-Ray after an empty field", "", ";Root=1-5759e988-bd862e3fe1be46a994272793", validAmznAsW3C},
		{"X-Ray upper-case hex", "", "Root=1-5759E988-BD862E3FE1BE46A994272793", validAmznAsW3C},
		{"X-Ray with every hex digit", "", "Root=1-01234567-89abcdefABCDEF0123456789", "0123456789abcdefabcdef0123456789"},
		{"both: traceparent wins", validTraceparent, validAmzn, validTraceID},
		{"bad traceparent: X-Ray used", "00-" + strings.Repeat("0", 32) + "-00f067aa0ba902b7-01", validAmzn, validAmznAsW3C},

		{"W3C trace-id all zero", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "", ""},
		{"W3C parent-id all zero", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "", ""},
		{"W3C upper-case hex", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "", ""},
		{"W3C version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "", ""},
		{"W3C other version", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "", ""},
		{"W3C trailing data", validTraceparent + "-what", "", ""},
		{"W3C short trace-id", "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", "", ""},
		{"W3C non-hex", "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01", "", ""},
		{"W3C quotes", `00-4bf92f3577b34da6a3ce929d0e0e4"}-00f067aa0ba902b7-01`, "", ""},
		{"W3C wrong separators", "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", "", ""},
		{"W3C empty", "", "", ""},
		{"X-Ray root all zero", "", "Root=1-00000000-000000000000000000000000", ""},
		{"X-Ray version 2", "", "Root=2-5759e988-bd862e3fe1be46a994272793", ""},
		{"X-Ray short", "", "Root=1-5759e988-bd862e3fe1be46a99427279", ""},
		{"X-Ray long", "", "Root=1-5759e988-bd862e3fe1be46a9942727933", ""},
		{"X-Ray non-hex", "", "Root=1-5759e98g-bd862e3fe1be46a994272793", ""},
		{"X-Ray JSON injection", "", `Root=1-5759e988-bd862e3fe1be46a9","x":"`, ""},
		{"X-Ray no Root", "", "Self=1-5759e988-bd862e3fe1be46a994272793", ""},
		{"X-Ray lower-case key", "", "root=1-5759e988-bd862e3fe1be46a994272793", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h fasthttp.RequestHeader
			if tc.traceparent != "" {
				h.Set("traceparent", tc.traceparent)
			}
			if tc.amzn != "" {
				h.Set("X-Amzn-Trace-Id", tc.amzn)
			}
			id := traceIDOf(&h)
			got := ""
			if id != (traceID{}) {
				got = string(id.appendHex(nil))
			}
			if got != tc.want {
				t.Errorf("traceparent %q, X-Amzn-Trace-Id %q: trace ID %q, want %q", tc.traceparent, tc.amzn, got, tc.want)
			}
		})
	}
}

// accessLine waits for the access line of request id in p's log.
func accessLine(t *testing.T, p *proc, id string) map[string]any {
	t.Helper()
	var found map[string]any
	eventually(t, 5*time.Second, "access log line for "+id, func() bool {
		for _, line := range p.logLines() {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "request" && rec["request_id"] == id {
				found = rec
				return true
			}
		}
		return false
	})
	return found
}

// Through the real program: a valid trace header puts trace_id on the access
// line; a hostile one leaves no trace_id and none of its bytes in the log.
func TestProcessTraceIDInAccessLog(t *testing.T) {
	const evil = "EVIL7f3a"
	cases := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"traceparent", http.Header{"Traceparent": {validTraceparent}}, validTraceID},
		{"X-Amzn-Trace-Id", http.Header{"X-Amzn-Trace-Id": {validAmzn}}, validAmznAsW3C},
		{"both", http.Header{"Traceparent": {validTraceparent}, "X-Amzn-Trace-Id": {validAmzn}}, validTraceID},
		{"hostile traceparent, JSON", http.Header{"Traceparent": {`00-","trace_id":"` + evil + `","x":"-00f067aa0ba902b7-01`}}, ""},
		{"hostile traceparent, right length", http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce9\"" + evil + "-00f067aa0ba902b7-01"}}, ""},
		{"hostile X-Amzn-Trace-Id", http.Header{"X-Amzn-Trace-Id": {"Root=1-" + evil + "-\\\"\u2028" + strings.Repeat("a", 4000)}}, ""},
		{"hostile both", http.Header{"Traceparent": {evil + "\xff\xfe"}, "X-Amzn-Trace-Id": {"Root=" + evil}}, ""},
	}
	p := startServer(t)
	for i, tc := range cases {
		id := fmt.Sprintf("trace-case-%d", i)
		tc.header.Set("X-Request-Id", id)
		if code, _, _ := get(t, "GET", p.url("/"), tc.header); code != 200 {
			t.Fatalf("%s: status %d", tc.name, code)
		}
		line := accessLine(t, p, id)
		got, has := line["trace_id"]
		switch {
		case tc.want == "" && has:
			t.Errorf("%s: trace_id %q logged from an invalid header", tc.name, got)
		case tc.want != "" && got != tc.want:
			t.Errorf("%s: trace_id %v, want %s", tc.name, got, tc.want)
		}
	}
	if strings.Contains(p.logs(), evil) {
		t.Errorf("hostile header bytes reached the log:\n%s", p.logs())
	}
}
