package app

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// The walk of X-Forwarded-For, case by case: the lines as a proxy chain
// sends them, the peer, TRUSTED_PROXIES, and the client it must give.
func TestForwardedForWalk(t *testing.T) {
	const alb, edge = "10.0.1.5", "10.0.2.9" // trusted hops in 10.0.0.0/16
	cases := []struct {
		name, trusted, peer string
		lines               []string // X-Forwarded-For lines, in the order sent
		want                string
	}{
		{"no TRUSTED_PROXIES: the peer, header ignored", "", alb, []string{"203.0.113.7"}, alb},
		{"untrusted peer: the peer, header ignored", "10.0.0.0/16", "198.51.100.1", []string{"203.0.113.7"}, "198.51.100.1"},
		{"ALB appended the client", "10.0.0.0/16", alb, []string{"203.0.113.7"}, "203.0.113.7"},
		{"forged left-most entry", "10.0.0.0/16", alb, []string{"6.6.6.6, 203.0.113.7"}, "203.0.113.7"},
		{"forged entries left of two hops", "10.0.0.0/16", alb, []string{"6.6.6.6, 7.7.7.7, 203.0.113.7, " + edge}, "203.0.113.7"},
		{"two lines: the last line's entry is right-most", "10.0.0.0/16", alb, []string{"6.6.6.6", "203.0.113.7"}, "203.0.113.7"},
		{"two lines, hops in the last", "10.0.0.0/16", alb, []string{"6.6.6.6, 203.0.113.7", edge}, "203.0.113.7"},
		{"three lines, one empty", "10.0.0.0/16", alb, []string{"6.6.6.6", "203.0.113.7", ""}, "203.0.113.7"},
		{"malformed entry right of a client: never reached", "10.0.0.0/16", alb, []string{"garbage, 203.0.113.7"}, "203.0.113.7"},
		{"malformed entry between hops: the last hop passed", "10.0.0.0/16", alb, []string{"203.0.113.7, garbage, " + edge}, edge},
		{"malformed right-most entry: the peer", "10.0.0.0/16", alb, []string{"203.0.113.7, unknown"}, alb},
		{"malformed line after a good one: the peer", "10.0.0.0/16", alb, []string{"203.0.113.7", "<script>"}, alb},
		{"hostname: malformed", "10.0.0.0/16", alb, []string{"203.0.113.7, proxy.internal"}, alb},
		{"all trusted: the left-most", "10.0.0.0/16", alb, []string{"10.0.9.9, " + edge}, "10.0.9.9"},
		{"all trusted over two lines: the left-most", "10.0.0.0/16", alb, []string{"10.0.9.9", edge}, "10.0.9.9"},
		{"empty header: the peer", "10.0.0.0/16", alb, []string{""}, alb},
		{"no header: the peer", "10.0.0.0/16", alb, nil, alb},
		{"only commas and spaces: the peer", "10.0.0.0/16", alb, []string{" , ,\t,"}, alb},
		{"empty entries are skipped", "10.0.0.0/16", alb, []string{"6.6.6.6,, 203.0.113.7 , ,"}, "203.0.113.7"},
		{"a line that starts with a comma", "10.0.0.0/16", alb, []string{",203.0.113.7"}, "203.0.113.7"},
		{"spaces and tabs around entries", "10.0.0.0/16", alb, []string{"6.6.6.6,\t203.0.113.7\t,  " + edge + "  "}, "203.0.113.7"},
		{"space inside an entry: malformed", "10.0.0.0/16", alb, []string{"203.0.113.7, 10.0. 2.9"}, alb},
		{"several trusted prefixes", "10.0.0.0/16, 192.168.0.0/24", "192.168.0.7", []string{"203.0.113.7, " + alb}, "203.0.113.7"},
		{"a trusted single address", "10.0.1.5", alb, []string{"6.6.6.6, 203.0.113.7"}, "203.0.113.7"},
		{"an address beside the trusted one is a client", "10.0.1.5", alb, []string{"203.0.113.7, 10.0.1.6"}, "10.0.1.6"},
		{"IPv4 with a port", "10.0.0.0/16", alb, []string{"6.6.6.6, 203.0.113.7:4711"}, "203.0.113.7"},
		{"bad port: malformed", "10.0.0.0/16", alb, []string{"203.0.113.7:99999"}, alb},
		{"IPv6 client", "10.0.0.0/16", alb, []string{"6.6.6.6, 2001:DB8::7"}, "2001:db8::7"},
		{"IPv6 in brackets with a port", "10.0.0.0/16", alb, []string{"[2001:db8::7]:4711"}, "2001:db8::7"},
		{"IPv6 in brackets", "10.0.0.0/16", alb, []string{"[2001:db8::7]"}, "2001:db8::7"},
		{"IPv4 in brackets: malformed", "10.0.0.0/16", alb, []string{"[203.0.113.7]"}, alb},
		{"IPv6 with a zone: malformed", "10.0.0.0/16", alb, []string{"fe80::1%eth0"}, alb},
		{"IPv6 trust and peer", "fd00::/8", "fd00::5", []string{"6.6.6.6, 2001:db8::7, fd00::9"}, "2001:db8::7"},
		{"IPv4-mapped client is unmapped", "10.0.0.0/16", alb, []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"IPv4-mapped hop is trusted", "10.0.0.0/16", alb, []string{"203.0.113.7, ::ffff:10.0.2.9"}, "203.0.113.7"},
		{"IPv4-mapped peer is trusted", "10.0.0.0/16", "::ffff:10.0.1.5", []string{"203.0.113.7"}, "203.0.113.7"},
		{"IPv4-mapped TRUSTED_PROXIES", "::ffff:10.0.0.0/112", alb, []string{"203.0.113.7"}, "203.0.113.7"},
		{"leading zeros: malformed", "10.0.0.0/16", alb, []string{"203.0.113.07"}, alb},
		{"0.0.0.0/0 trusts everyone: the left-most", "0.0.0.0/0", alb, []string{"6.6.6.6, 203.0.113.7"}, "6.6.6.6"},
	}
	for _, tc := range cases {
		cfg, err := loadConfig(envOf(map[string]string{"TRUSTED_PROXIES": tc.trusted}))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var h fasthttp.RequestHeader
		for _, l := range tc.lines {
			h.Add("X-Forwarded-For", l)
		}
		got := trustedProxies(cfg.TrustedProxies).forwardedFor(netip.MustParseAddr(tc.peer).Unmap(), &h)
		if got != netip.MustParseAddr(tc.want) {
			t.Errorf("%s: TRUSTED_PROXIES=%q, peer %s, X-Forwarded-For %q: client %v, want %s",
				tc.name, tc.trusted, tc.peer, tc.lines, got, tc.want)
		}
	}
}

// Each form an X-Forwarded-For entry may take, and what it gives.
func TestParseForwardedAddr(t *testing.T) {
	accepted := map[string]string{
		"203.0.113.7": "203.0.113.7", "0.0.0.0": "0.0.0.0", "255.255.255.255": "255.255.255.255",
		"203.0.113.7:0": "203.0.113.7", "203.0.113.7:65535": "203.0.113.7", "203.0.113.7:9090": "203.0.113.7",
		"2001:db8::7": "2001:db8::7", "2001:DB8:0:0:0:0:0:7": "2001:db8::7", "::": "::", "::1": "::1",
		"1::": "1::", "1:2:3:4:5:6:7:8": "1:2:3:4:5:6:7:8", "1:2:3:4:5:6::8": "1:2:3:4:5:6:0:8",
		"[2001:db8::7]": "2001:db8::7", "[2001:db8::7]:443": "2001:db8::7", "[::1]:1": "::1", "[::1]:9": "::1",
		"::ffff:203.0.113.7": "203.0.113.7", "[::ffff:203.0.113.7]:80": "203.0.113.7",
		"::ffff:cb00:7107": "203.0.113.7", "64:ff9b::203.0.113.7": "64:ff9b::cb00:7107",
		"1:2:3:4:5:6:1.2.3.4": "1:2:3:4:5:6:102:304",
	}
	for in, want := range accepted {
		got, ok := parseForwardedAddr([]byte(in))
		if !ok || got != netip.MustParseAddr(want) {
			t.Errorf("%q: %v, %v; want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{
		"", "unknown", "proxy.internal", "_hidden", "203.0.113", "203.0.113.7.1", "203.0.113.256", "203.0.113.07",
		"203.0.113.7.", ".203.0.113.7", "203..113.7", "203.0.113.7:", "203.0.113.7:65536", "203.0.113.7:123456",
		"203.0.113.7:-1", "203.0.113.7:8o", "203.0.113.7 ", " 203.0.113.7", "[203.0.113.7]", "[203.0.113.7]:80",
		"fe80::1%eth0", "[fe80::1%eth0]:80", "2001:db8::7:", ":2001:db8::7", "2001:db8:::7", "2001::db8::7",
		"1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", "::1::2", "::1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8::", "12345::", "g::", "[2001:db8::7", "2001:db8::7]",
		"[2001:db8::7]443", "[2001:db8::7]:", "[2001:db8::7]:65536", "[]", "[]:80", "::1.2.3", "1:2:3:4:5:6:7:1.2.3.4",
		"1.2.3.4::", "::1.2.3.4:5", "::ffff:1.2.3.4.5", "\x00", "1.2.3.4\r", "1.2.3.4\n",
	} {
		if got, ok := parseForwardedAddr([]byte(in)); ok {
			t.Errorf("%q accepted as %v", in, got)
		}
	}
}

// FuzzForwardedAddr holds the parser to net/netip: any entry it accepts is
// an address netip reads the same way (after the brackets and the port it
// strips), and every address netip reads without a zone it accepts.
func FuzzForwardedAddr(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "2001:db8::7", "::ffff:1.2.3.4", "[::1]:80", "1.2.3.4:80", "1:2:3:4:5:6:1.2.3.4", "::", "fe80::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseForwardedAddr([]byte(s))
		want, err := netip.ParseAddr(s)
		if err == nil && want.Zone() == "" {
			if !ok || got != want.Unmap() {
				t.Fatalf("%q: %v, %v; netip reads %v", s, got, ok, want)
			}
			return
		}
		if !ok {
			return
		}
		// Accepted though netip refuses it as it stands: it must be a port
		// or brackets around what netip reads.
		addr := s
		if strings.HasPrefix(addr, "[") {
			addr = addr[1:strings.IndexByte(addr, ']')]
		} else {
			addr = addr[:strings.LastIndexByte(addr, ':')]
		}
		want, err = netip.ParseAddr(addr)
		if err != nil || want.Zone() != "" || got != want.Unmap() {
			t.Fatalf("%q accepted as %v; netip reads %q as %v, %v", s, got, addr, want, err)
		}
	})
}

// What Fiber's own proxy handling does in this service: c.IP() is always
// the peer (Fiber would take the client's left-most X-Forwarded-For entry),
// and c.Protocol() and c.Hostname() believe X-Forwarded-Proto and
// X-Forwarded-Host from TRUSTED_PROXIES only; without it, from no one (by
// default Fiber believes them from anyone).
func TestFiberProxySettings(t *testing.T) {
	for _, tc := range []struct {
		trusted, peer        string
		proto, hostname, cIP string
	}{
		{"", "203.0.113.1", "http", "service.example", "203.0.113.1"},
		{"10.0.0.0/8", "203.0.113.1", "http", "service.example", "203.0.113.1"},
		{"10.0.0.0/8", "10.0.1.5", "https", "public.example", "10.0.1.5"},
		{"10.0.1.5", "10.0.1.5", "https", "public.example", "10.0.1.5"},
	} {
		cfg, err := loadConfig(envOf(map[string]string{"TRUSTED_PROXIES": tc.trusted}))
		if err != nil {
			t.Fatal(err)
		}
		svc := newService(cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), nil)
		var fctx fasthttp.RequestCtx
		fctx.SetRemoteAddr(&net.TCPAddr{IP: net.ParseIP(tc.peer), Port: 40000})
		fctx.Request.SetRequestURI("/")
		fctx.Request.Header.SetHost("service.example")
		fctx.Request.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.7")
		fctx.Request.Header.Set("X-Forwarded-Proto", "https")
		fctx.Request.Header.Set("X-Forwarded-Host", "public.example")
		c := svc.app.AcquireCtx(&fctx)
		got := []string{c.Protocol(), c.Hostname(), c.IP()}
		svc.app.ReleaseCtx(c)
		if want := []string{tc.proto, tc.hostname, tc.cIP}; !slices.Equal(got, want) {
			t.Errorf("TRUSTED_PROXIES=%q, peer %s: Protocol, Hostname, IP = %q, want %q", tc.trusted, tc.peer, got, want)
		}
	}
}
