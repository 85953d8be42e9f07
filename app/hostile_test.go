package app

// Hostile and malformed HTTP/1.1 over raw TCP against the real binary.
// Each case writes bytes, half-closes the connection (so the server sees
// the end of input at once instead of waiting for READ_TIMEOUT), reads
// everything the server sends until it closes, and checks the responses.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// generatedRequestID is the shape of an ID the server makes itself
// (middleware.go: 16 hex digits of per-process prefix, '-', hex counter).
var generatedRequestID = regexp.MustCompile(`^[0-9a-f]{16}-[0-9a-f]+$`)

// evil marks bytes that came from the attacker: no response may carry
// them back (except the one control case that sends a valid request ID).
const evil = "EVIL"

type hostileCase struct {
	name string
	req  string
	// want lists the statuses expected, in order; empty means the server
	// must close the connection without answering.
	want []int
	// echoID: the request carries this valid X-Request-ID, which must come
	// back. Otherwise the response ID must be one the server generated.
	echoID string
}

func hostileCases() []hostileCase {
	long := func(n int) string { return strings.Repeat("a", n) }
	manyHeaders := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "X-H%d: v\r\n", i)
		}
		return b.String()
	}
	get := func(target, extra string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n"
	}
	withID := func(id string) string { return get("/", "X-Request-ID: "+id+"\r\n") }
	body2k := strings.Repeat("b", 2048)

	return []hostileCase{
		// Control cases.
		{name: "valid GET", req: get("/", ""), want: []int{200}},
		{name: "valid request ID echoed", req: withID("abc-123_x.y:z"), want: []int{200}, echoID: "abc-123_x.y:z"},

		// Size limits (READ_BUFFER_SIZE=16KiB default caps line+headers; BODY_LIMIT=1KiB here).
		{name: "request line 20KiB", req: get("/"+long(20<<10)+evil, ""), want: []int{431}},
		{name: "one header 20KiB", req: get("/", "X-Big: "+long(20<<10)+evil+"\r\n"), want: []int{431}},
		{name: "3000 headers", req: get("/", manyHeaders(3000)), want: []int{431}},
		{name: "200 headers fit", req: get("/", manyHeaders(200)), want: []int{200}},
		{name: "body at BODY_LIMIT (405: POST on /)", req: "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 1024\r\n\r\n" + body2k[:1024], want: []int{405}},
		{name: "body one byte over BODY_LIMIT", req: "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 1025\r\n\r\n" + body2k[:1025], want: []int{413}},
		{name: "body over BODY_LIMIT", req: "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 2048\r\n\r\n" + body2k, want: []int{413}},
		{name: "chunked body over BODY_LIMIT", req: "POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + body2k + "\r\n0\r\n\r\n", want: []int{413}},
		// fasthttp sends 100 Continue before it checks the length against
		// BODY_LIMIT, then refuses by the declared length alone.
		{name: "Content-Length over limit, Expect 100-continue, no body", req: "POST / HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 99999999\r\n\r\n", want: []int{100, 413}},
		{name: "Content-Length beyond int64", req: "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 99999999999999999999999\r\n\r\n", want: []int{400}},
		{name: "negative Content-Length", req: "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: -1\r\n\r\n", want: []int{400}},
		{name: "body shorter than Content-Length", req: "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n" + evil, want: []int{400}},

		// Request line.
		{name: "invalid method token", req: "G(E)T / HTTP/1.1\r\nHost: test\r\n\r\n", want: []int{400}},
		// A valid token Fiber does not know: 501 (RFC 9110), in our JSON shape.
		{name: "lower-case method", req: "get / HTTP/1.1\r\nHost: test\r\n\r\n", want: []int{501}},
		{name: "unknown method token", req: "PROPFIND / HTTP/1.1\r\nHost: test\r\n\r\n", want: []int{501}},
		{name: "TRACE not echoed", req: "TRACE / HTTP/1.1\r\nHost: test\r\nX-Secret: " + evil + "\r\n\r\n", want: []int{405}},
		{name: "CONNECT authority-form", req: "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n", want: []int{404}},
		{name: "OPTIONS asterisk-form", req: "OPTIONS * HTTP/1.1\r\nHost: test\r\n\r\n", want: []int{404}},
		// Lenient: fasthttp serves any version other than HTTP/1.1 as
		// HTTP/1.0 (no keep-alive) instead of answering 505.
		{name: "unknown HTTP version", req: "GET / HTTP/9.9\r\nHost: test\r\n\r\n", want: []int{200}},
		{name: "version garbage", req: "GET / FOO/1.1\r\nHost: test\r\n\r\n", want: []int{400}},
		{name: "no version (HTTP/0.9 style)", req: "GET /\r\n\r\n", want: []int{400}},
		{name: "TLS ClientHello to plain port", req: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + evil + "\r\n\r\n", want: []int{400}},
		{name: "missing Host on HTTP/1.1", req: "GET / HTTP/1.1\r\n\r\n", want: []int{400}},
		{name: "HTTP/1.0 without Host", req: "GET / HTTP/1.0\r\n\r\n", want: []int{200}},
		{name: "empty lines only", req: "\r\n\r\n\r\n", want: nil},

		// Header syntax.
		{name: "header without colon", req: get("/", "NoColon"+evil+"\r\n"), want: []int{400}},
		{name: "space before colon", req: get("/", "X-Bad : "+evil+"\r\n"), want: []int{400}},
		// Lenient: a space inside a field name is not a token, but fasthttp
		// keeps the field (harmless here: no route reads such a header).
		{name: "space in header name", req: get("/", "X Bad: "+evil+"\r\n"), want: []int{200}},
		// RFC 9112 5.2 allows unfolding obs-fold instead of a 400.
		{name: "obs-fold continuation line", req: get("/", "X-A: a\r\n "+evil+"\r\n"), want: []int{200}},
		{name: "NUL in header value", req: get("/", "X-A: a\x00"+evil+"\r\n"), want: []int{400}},
		{name: "control byte in header value", req: get("/", "X-A: a\x07"+evil+"\r\n"), want: []int{400}},
		{name: "bare CR in header value", req: get("/", "X-A: a\r"+evil+"\r\n"), want: []int{400}},
		{name: "NUL in path", req: get("/\x00"+evil, ""), want: []int{400}},
		{name: "control byte in path", req: get("/\x01"+evil, ""), want: []int{400}},
		{name: "space in path", req: "GET /a " + evil + " HTTP/1.1\r\nHost: test\r\n\r\n", want: []int{400}},

		// Framing conflicts (request smuggling).
		// Transfer-Encoding wins, the empty chunked body ends the request
		// (405: POST on /), and the connection is closed after it (RFC 9112
		// 6.3), so the smuggled GET /EVIL is never answered.
		{name: "Content-Length and Transfer-Encoding", req: "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /" + evil + " HTTP/1.1\r\nHost: test\r\n\r\n", want: []int{405}},
		{name: "two differing Content-Length", req: "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd", want: []int{400}},
		{name: "two equal Content-Length", req: "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd", want: []int{400}},
		{name: "Content-Length list", req: "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 4, 4\r\n\r\nabcd", want: []int{400}},
		{name: "Transfer-Encoding xchunked", req: "POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: xchunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n", want: []int{400}},
		{name: "Transfer-Encoding gzip, chunked", req: "POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n", want: []int{400}},
		{name: "chunk size not hex", req: "POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + evil + "\r\n0\r\n\r\n", want: []int{400}},
		{name: "chunk size overflow", req: "POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabcd\r\n0\r\n\r\n", want: []int{400}},
		{name: "chunk data longer than size", req: "POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n", want: []int{400}},
		// The input ends inside the body: nothing to answer, the server closes.
		{name: "chunked without last chunk", req: "POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n", want: nil},

		// Targets and paths: nothing but the listed routes is reachable.
		{name: "absolute-form target", req: get("http://"+evil+".example/", ""), want: []int{200}},
		{name: "absolute-form to unknown path", req: get("http://"+evil+".example/etc/passwd", ""), want: []int{404}},
		{name: "dot-dot traversal", req: get("/../../etc/passwd", ""), want: []int{404}},
		{name: "percent-encoded traversal", req: get("/%2e%2e/%2e%2e/etc/passwd", ""), want: []int{404}},
		{name: "encoded slash traversal", req: get("/..%2f..%2fetc%2fpasswd", ""), want: []int{404}},
		{name: "overlong UTF-8 dot", req: get("/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", ""), want: []int{404}},
		{name: "double-encoded dot-dot", req: get("/%252e%252e/etc/passwd", ""), want: []int{404}},
		{name: "backslash traversal", req: get("/..\\..\\etc\\passwd", ""), want: []int{404}},
		{name: "invalid percent escape", req: get("/%zz"+evil, ""), want: []int{404}},
		{name: "encoded NUL in path", req: get("/health%00"+evil, ""), want: []int{404}},
		{name: "invalid UTF-8 in path", req: get("/\xff\xfe"+evil, ""), want: []int{404}},
		// Fiber routes on the path as sent: dot segments are not resolved.
		{name: "dot-dot back into a route", req: get("/x/../health", ""), want: []int{404}},
		{name: "debug route off by default", req: get("/debug/panic", ""), want: []int{404}},

		// Request IDs the server must not echo.
		{name: "request ID with quotes", req: withID(`"` + evil + `"`), want: []int{200}},
		{name: "request ID with invalid UTF-8", req: withID("\xff\xfe" + evil), want: []int{200}},
		{name: "request ID with space and HTML", req: withID("<script>" + evil + " x</script>"), want: []int{200}},
		{name: "request ID with bare CR", req: withID("a\r" + evil), want: []int{400}},
		{name: "request ID of 129 bytes", req: withID(evil + long(125)), want: []int{200}},
		{name: "request ID with JSON", req: withID(`{"` + evil + `":1}`), want: []int{200}},

		// Pipelining: answered in order.
		{name: "pipelined GETs", req: get("/livez", "") + get("/readyz", "") + get("/", ""), want: []int{200, 200, 200}},
		{name: "pipelined after an error", req: "GET / HTTP/1.1\r\nHost: test\r\nNoColon\r\n\r\n" + get("/"+evil, ""), want: []int{400}},
		{name: "pipelined with Connection: close first", req: get("/", "Connection: close\r\n") + get("/"+evil, ""), want: []int{200}},
	}
}

// pipelinedBodies are the bodies expected, in order, for "pipelined GETs".
var pipelinedBodies = []string{string(liveBody), string(readyBody), string(rootBody)}

func TestHostileRequests(t *testing.T) {
	p := startServer(t, "BODY_LIMIT=1KiB")
	cases := hostileCases()
	outcomes := map[string]int{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resps, raw := rawExchange(t, p.addr, []byte(tc.req))
			var got []int
			for _, r := range resps {
				got = append(got, r.status)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("statuses %v, want %v (empty: closed without a response)\nraw: %.600q", got, tc.want, raw)
			}
			if len(got) == 0 {
				outcomes["closed"]++
			}
			for i, r := range resps {
				outcomes[fmt.Sprint(r.status)]++
				if r.status < 200 {
					continue // interim (100 Continue), written by fasthttp itself
				}
				id := r.header.Get("X-Request-ID")
				switch {
				case tc.echoID != "":
					if id != tc.echoID {
						t.Errorf("response %d: X-Request-ID %q, want the valid one sent, %q", i, id, tc.echoID)
					}
				case !generatedRequestID.MatchString(id):
					t.Errorf("response %d: X-Request-ID %q is not server-generated", i, id)
				}
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("response %d: Content-Type %q, want application/json", i, ct)
				}
				if !json.Valid(r.body) {
					t.Errorf("response %d: body is not JSON: %q", i, r.body)
				}
				if r.status >= 400 {
					var e struct {
						Status    int    `json:"status"`
						RequestID string `json:"request_id"`
					}
					if err := json.Unmarshal(r.body, &e); err != nil || e.Status != r.status || e.RequestID != id {
						t.Errorf("response %d: error body %q does not carry status %d and request_id %q", i, r.body, r.status, id)
					}
				}
				if tc.name == "pipelined GETs" && string(r.body) != pipelinedBodies[i] {
					t.Errorf("pipelined response %d: body %q, want %q (out of order?)", i, r.body, pipelinedBodies[i])
				}
			}
			if bytes.Contains(bytes.ToUpper(raw), []byte(evil)) {
				t.Errorf("the response echoes attacker bytes:\n%q", raw)
			}
		})
	}
	// The server survived all of it.
	if code, _, body := get(t, "GET", p.url("/health"), nil); code != 200 || body != string(healthyBody) {
		t.Fatalf("/health after %d hostile cases: %d %q", len(cases), code, body)
	}
	// Not just "panic": the access line of GET /debug/panic contains that.
	if strings.Contains(p.logs(), `"msg":"panic in handler"`) {
		t.Errorf("the server logged a panic:\n%s", p.logs())
	}
	t.Logf("hostile: %d cases tried; response statuses seen: %v; server still healthy", len(cases), outcomes)
}

// accessLogIP waits for the access-log line of request id and returns its
// client_ip.
func accessLogIP(t *testing.T, p *proc, id string) string {
	t.Helper()
	var ip string
	eventually(t, 5*time.Second, "access log line for "+id, func() bool {
		for _, line := range p.logLines() {
			var rec struct {
				Msg       string `json:"msg"`
				RequestID string `json:"request_id"`
				ClientIP  string `json:"client_ip"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "request" && rec.RequestID == id {
				ip = rec.ClientIP
				return true
			}
		}
		return false
	})
	return ip
}

// TestForwardedForTrust: X-Forwarded-For decides the logged client IP only
// when the peer is in TRUSTED_PROXIES.
func TestForwardedForTrust(t *testing.T) {
	cases := []struct {
		name, trusted, xff, want string
	}{
		{"untrusted peer, spoofed XFF", "", "203.0.113.7", "127.0.0.1"},
		{"untrusted peer, list", "", "203.0.113.7, 10.0.0.1", "127.0.0.1"},
		{"other proxy trusted, spoofed XFF", "10.0.0.0/8", "203.0.113.7", "127.0.0.1"},
		{"trusted peer", "127.0.0.1", "203.0.113.7", "203.0.113.7"},
		{"trusted CIDR", "127.0.0.0/8", "203.0.113.8", "203.0.113.8"},
		{"trusted peer, garbage XFF", "127.0.0.1", "not-an-ip, <script>", "127.0.0.1"},
	}
	servers := map[string]*proc{}
	for _, tc := range cases {
		if servers[tc.trusted] == nil {
			servers[tc.trusted] = startServer(t, "TRUSTED_PROXIES="+tc.trusted)
		}
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := servers[tc.trusted]
			id := fmt.Sprintf("xff-case-%d", i)
			code, h, _ := get(t, "GET", p.url("/"), http.Header{"X-Forwarded-For": {tc.xff}, "X-Request-Id": {id}})
			if code != 200 || h.Get("X-Request-ID") != id {
				t.Fatalf("status %d, X-Request-ID %q", code, h.Get("X-Request-ID"))
			}
			if got := accessLogIP(t, p, id); got != tc.want {
				t.Errorf("client_ip %q, want %q (TRUSTED_PROXIES=%q, X-Forwarded-For %q)", got, tc.want, tc.trusted, tc.xff)
			}
		})
	}
}

// TestForwardedForHostile: through the running binary over raw TCP, the
// logged client_ip is the right-most X-Forwarded-For address that is not a
// trusted proxy, never an entry left of it, which is what a client behind
// an appending load balancer chooses.
func TestForwardedForHostile(t *testing.T) {
	servers := map[string]*proc{
		"one":   startServer(t, "TRUSTED_PROXIES=127.0.0.1"),
		"cidr":  startServer(t, "TRUSTED_PROXIES=127.0.0.0/8"),
		"other": startServer(t, "TRUSTED_PROXIES=10.0.0.0/8"),
		"ipv6":  startServer(t, "HOST=::1", "TRUSTED_PROXIES=::1"),
		// Every interface, as shipped: IPv4 peers arrive IPv4-mapped on
		// the dual-stack socket (dialled at 127.0.0.1 below).
		"dual": startServer(t, "HOST=", "TRUSTED_PROXIES=127.0.0.1"),
	}
	addr := func(server string) string {
		if server == "dual" {
			_, port, _ := net.SplitHostPort(servers[server].addr)
			return net.JoinHostPort("127.0.0.1", port)
		}
		return servers[server].addr
	}
	cases := []struct {
		name, server string
		xff          []string // X-Forwarded-For lines, in order
		want         string
	}{
		{"no header: the peer", "one", nil, "127.0.0.1"},
		{"forged left-most entry (the issue's example)", "one", []string{"6.6.6.6, 203.0.113.7"}, "203.0.113.7"},
		{"forged entries left of trusted hops", "one", []string{"6.6.6.6, 7.7.7.7, 203.0.113.7, 127.0.0.1, 127.0.0.1"}, "203.0.113.7"},
		{"two lines", "one", []string{"6.6.6.6", "203.0.113.7, 127.0.0.1"}, "203.0.113.7"},
		{"two lines, forged one last from a trusted peer", "one", []string{"203.0.113.7", "6.6.6.6"}, "6.6.6.6"},
		{"malformed entry in the middle: the last trusted hop", "one", []string{"203.0.113.7, <script>, 127.0.0.1"}, "127.0.0.1"},
		{"malformed entry left of the client: never reached", "one", []string{"6.6.6.6, not-an-ip, 203.0.113.7"}, "203.0.113.7"},
		{"malformed line last: the peer", "one", []string{"203.0.113.7", "unknown"}, "127.0.0.1"},
		{"empty entries and tabs", "one", []string{"6.6.6.6,,\t203.0.113.7\t, ,127.0.0.1"}, "203.0.113.7"},
		{"port on the client's entry", "one", []string{"6.6.6.6, 203.0.113.7:4711"}, "203.0.113.7"},
		{"untrusted peer sending the header", "other", []string{"203.0.113.7"}, "127.0.0.1"},
		{"untrusted peer, trusted-looking header", "other", []string{"6.6.6.6, 10.0.0.1"}, "127.0.0.1"},
		{"CIDR trust", "cidr", []string{"6.6.6.6, 203.0.113.7, 127.0.0.9, 127.8.0.1"}, "203.0.113.7"},
		{"all trusted: the left-most", "cidr", []string{"127.0.0.5, 127.0.0.6", "127.0.0.7"}, "127.0.0.5"},
		{"IPv6 peer and client", "ipv6", []string{"6.6.6.6, 2001:db8::7, ::1"}, "2001:db8::7"},
		{"IPv6 client in brackets with a port", "ipv6", []string{"6.6.6.6", "[2001:DB8::8]:4711"}, "2001:db8::8"},
		{"IPv4-mapped client", "ipv6", []string{"6.6.6.6, ::ffff:203.0.113.9"}, "203.0.113.9"},
		{"zone: malformed, the peer", "ipv6", []string{"203.0.113.7, fe80::1%eth0"}, "::1"},
		{"IPv4 peer on a dual-stack socket", "dual", []string{"6.6.6.6, 203.0.113.7, 127.0.0.1"}, "203.0.113.7"},
		{"IPv4 peer on a dual-stack socket, no header", "dual", nil, "127.0.0.1"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := servers[tc.server]
			id := fmt.Sprintf("xff-hostile-%d", i)
			var req strings.Builder
			req.WriteString("GET / HTTP/1.1\r\nHost: test\r\nX-Request-ID: " + id + "\r\n")
			for _, l := range tc.xff {
				req.WriteString("X-Forwarded-For: " + l + "\r\n")
			}
			req.WriteString("\r\n")
			resps, raw := rawExchange(t, addr(tc.server), []byte(req.String()))
			if len(resps) != 1 || resps[0].status != 200 {
				t.Fatalf("want one 200, got %q", raw)
			}
			if got := accessLogIP(t, p, id); got != tc.want {
				t.Errorf("client_ip %q, want %q (X-Forwarded-For %q)", got, tc.want, tc.xff)
			}
		})
	}

	// The walk takes the last X-Forwarded-For line as the last proxy's:
	// none may come after the header section. fasthttp refuses it as a
	// trailer of a chunked body, and announced as one.
	for _, req := range []string{
		"POST / HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 203.0.113.7\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: test\r\nX-Forwarded-For: 203.0.113.7\r\nTrailer: X-Forwarded-For\r\n\r\n",
	} {
		resps, raw := rawExchange(t, servers["one"].addr, []byte(req))
		if len(resps) != 1 || resps[0].status != 400 {
			t.Errorf("X-Forwarded-For as a trailer: want one 400, got %q", raw)
		}
	}
}
