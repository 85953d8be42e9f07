package app

import (
	"errors"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Port: 8080, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		IdleTimeout: 75 * time.Second, ShutdownTimeout: 20 * time.Second,
		BodyLimit: 1 << 20, ReadBufferSize: 16 << 10, MaxConns: 4096, ReduceMemoryUsage: true,
		LogLevel: slog.LevelInfo, LogFormat: "json", AccessLog: true,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if c.ShutdownTimeout >= 30*time.Second {
		t.Fatalf("SHUTDOWN_TIMEOUT default %v must stay below the 30s grace period of ECS and Kubernetes", c.ShutdownTimeout)
	}
}

func TestLoadConfigValues(t *testing.T) {
	c, err := loadConfig(envOf(map[string]string{
		"PORT": "9000", "HOST": "[::1]", "READ_TIMEOUT": "2s", "SHUTDOWN_DELAY": "5s",
		"BODY_LIMIT": "4MiB", "READ_BUFFER_SIZE": "32768", "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "text",
		"ACCESS_LOG": "false", "TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1,fd00::/8", "MAX_CONNS": "10",
		"REDUCE_MEMORY_USAGE": "false",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 9000 || c.Host != "::1" || c.ReadTimeout != 2*time.Second || c.ShutdownDelay != 5*time.Second ||
		c.BodyLimit != 4<<20 || c.ReadBufferSize != 32768 || c.LogLevel != slog.LevelDebug ||
		c.LogFormat != "text" || c.AccessLog || c.MaxConns != 10 || c.ReduceMemoryUsage ||
		!reflect.DeepEqual(c.TrustedProxies, []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32"), netip.MustParsePrefix("fd00::/8")}) {
		t.Fatalf("parsed wrongly: %+v", c)
	}
}

// Each bad value must be refused with an error naming the variable and value.
func TestLoadConfigRejects(t *testing.T) {
	cases := []struct{ name, value string }{
		{"PORT", "abc"}, {"PORT", "70000"}, {"PORT", "-1"}, {"PORT", "80.5"},
		{"HOST", "not a host"}, {"HOST", "-bad-.example"},
		{"READ_TIMEOUT", "10"}, {"READ_TIMEOUT", "0s"}, {"WRITE_TIMEOUT", "soon"},
		{"IDLE_TIMEOUT", "2h"}, {"SHUTDOWN_TIMEOUT", "-3s"}, {"SHUTDOWN_DELAY", "-1s"},
		{"BODY_LIMIT", "lots"}, {"BODY_LIMIT", "2GiB"}, {"BODY_LIMIT", "-5"},
		{"READ_BUFFER_SIZE", "1KiB"}, {"READ_BUFFER_SIZE", "9MiB"},
		{"MAX_CONNS", "0"}, {"REDUCE_MEMORY_USAGE", "on"}, {"LOG_LEVEL", "loud"}, {"LOG_FORMAT", "xml"},
		{"ACCESS_LOG", "sometimes"}, {"DEBUG_ROUTES", "yes please"},
		{"TRUSTED_PROXIES", "10.0.0.0/33"}, {"TRUSTED_PROXIES", "10.0.0.1,,"}, {"TRUSTED_PROXIES", "proxy.local"},
		{"METRICS_ADDR", "9090"}, {"METRICS_ADDR", ":99999"}, {"METRICS_ADDR", "bad host:9090"}, {"METRICS_ADDR", "::1:9090"},
	}
	for _, tc := range cases {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			_, err := loadConfig(envOf(map[string]string{tc.name: tc.value}))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want *ConfigError, got %v", err)
			}
			if ce.Name != tc.name || ce.Value != tc.value {
				t.Fatalf("error names %s=%q, want %s=%q", ce.Name, ce.Value, tc.name, tc.value)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.name) || !strings.Contains(msg, tc.value) {
				t.Fatalf("message %q must name %s and %q", msg, tc.name, tc.value)
			}
		})
	}
}

func TestEverySettingIsDocumented(t *testing.T) {
	var b strings.Builder
	printUsage(&b)
	for _, s := range settings {
		if !strings.Contains(b.String(), s.name) {
			t.Errorf("help does not list %s", s.name)
		}
		if s.help == "" {
			t.Errorf("%s has no help text", s.name)
		}
		// The default itself must parse, or the program could not start.
		var c Config
		if err := s.parse(&c, s.def); err != nil {
			t.Errorf("default of %s (%q) is invalid: %v", s.name, s.def, err)
		}
	}
}

// Every range the README gives: the ends are accepted, one step beyond
// each is refused.
func TestLoadConfigRanges(t *testing.T) {
	cases := []struct {
		name     string
		accepted []string
		refused  []string
	}{
		{"PORT", []string{"0", "65535"}, []string{"-1", "65536"}},
		{"READ_TIMEOUT", []string{"1ns", "1h"}, []string{"0s", "1h0m0.000000001s"}},
		{"WRITE_TIMEOUT", []string{"1ns", "1h"}, []string{"0s", "1h0m0.000000001s"}},
		{"IDLE_TIMEOUT", []string{"1ns", "1h"}, []string{"0s", "1h0m0.000000001s"}},
		{"SHUTDOWN_TIMEOUT", []string{"1ns", "1h"}, []string{"0s", "1h0m0.000000001s"}},
		{"SHUTDOWN_DELAY", []string{"0s", "1h"}, []string{"-1ns", "1h0m0.000000001s"}},
		{"BODY_LIMIT", []string{"1", "1GiB", "1048576KiB"}, []string{"0", "1073741825", "1025MiB"}},
		{"READ_BUFFER_SIZE", []string{"4KiB", "4096", "1MiB", "1048576B"}, []string{"4095", "1048577", "2MiB", "3KiB"}},
		{"MAX_CONNS", []string{"1", "1000000"}, []string{"0", "1000001"}},
	}
	for _, tc := range cases {
		for _, v := range tc.accepted {
			if _, err := loadConfig(envOf(map[string]string{tc.name: v})); err != nil {
				t.Errorf("%s=%s refused: %v", tc.name, v, err)
			}
		}
		for _, v := range tc.refused {
			if _, err := loadConfig(envOf(map[string]string{tc.name: v})); err == nil {
				t.Errorf("%s=%s accepted", tc.name, v)
			}
		}
	}
}

// HOST takes an IP address (IPv6 with or without brackets) or an RFC 1123
// host name: labels of 1 to 63 letters, digits and inner hyphens, 253
// characters in all.
func TestParseHost(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	name253 := label63 + "." + label63 + "." + label63 + "." + strings.Repeat("b", 61)
	accepted := map[string]string{
		"127.0.0.1": "127.0.0.1", "::1": "::1", "[::1]": "::1", "[fe80::1%eth0]": "fe80::1%eth0",
		"localhost": "localhost", "api.internal": "api.internal", "azAZ09-x.y-0": "azAZ09-x.y-0",
		label63: label63, name253: name253, "a": "a",
	}
	for v, want := range accepted {
		if got, err := parseHost(v); err != nil || got != want {
			t.Errorf("HOST=%q: %q, %v; want %q", v, got, err, want)
		}
	}
	refused := []string{
		name253 + "b", label63 + "a", "-a", "a-", "a..b", ".a", "a.", "a b", "a_b",
		"a`b", "a{b", "a@b", "a[b", "a/b", "a:b", "ü", "::1]x",
	}
	for _, v := range refused {
		if got, err := parseHost(v); err == nil {
			t.Errorf("HOST=%q accepted as %q", v, got)
		}
	}
}

// Each refusal says what the value must be.
func TestLoadConfigMessages(t *testing.T) {
	for _, tc := range []struct{ name, value, msg string }{
		{"PORT", "70000", `invalid PORT="70000": must be an integer from 0 to 65535`},
		{"READ_TIMEOUT", "10", `invalid READ_TIMEOUT="10": must be a duration such as 500ms, 10s or 1m`},
		{"READ_TIMEOUT", "0s", `invalid READ_TIMEOUT="0s": must be greater than zero`},
		{"SHUTDOWN_DELAY", "-1s", `invalid SHUTDOWN_DELAY="-1s": must not be negative`},
		{"IDLE_TIMEOUT", "2h", `invalid IDLE_TIMEOUT="2h": must be at most 1h`},
		{"BODY_LIMIT", "0", `invalid BODY_LIMIT="0": must be a size from 1 to 1073741824 bytes, such as 16384, 64KiB or 4MiB`},
		{"LOG_LEVEL", "loud", `invalid LOG_LEVEL="loud": must be debug, info, warn or error`},
		{"LOG_FORMAT", "xml", `invalid LOG_FORMAT="xml": must be one of json, text`},
		{"ACCESS_LOG", "maybe", `invalid ACCESS_LOG="maybe": must be true or false`},
		{"HOST", "a b", `invalid HOST="a b": must be an IP address or a host name`},
		{"TRUSTED_PROXIES", "proxy.local", `invalid TRUSTED_PROXIES="proxy.local": "proxy.local" is not an IP address or CIDR such as 10.0.0.0/8`},
	} {
		_, err := loadConfig(envOf(map[string]string{tc.name: tc.value}))
		if err == nil || err.Error() != tc.msg {
			t.Errorf("%s=%s: %v, want %s", tc.name, tc.value, err, tc.msg)
		}
	}
}

func TestLoadConfigMetricsAddr(t *testing.T) {
	for in, want := range map[string]string{
		"": "", ":9090": ":9090", "127.0.0.1:0": "127.0.0.1:0", "[::1]:9090": "[::1]:9090",
		"localhost:09090": "localhost:9090",
	} {
		c, err := loadConfig(envOf(map[string]string{"METRICS_ADDR": in}))
		if err != nil || c.MetricsAddr != want {
			t.Errorf("METRICS_ADDR=%q: %q, %v; want %q", in, c.MetricsAddr, err, want)
		}
	}
}

// TRUSTED_PROXIES becomes the prefixes the X-Forwarded-For walk matches
// unmapped addresses against: addresses as full-length prefixes, host bits
// masked off, IPv4-mapped IPv6 unmapped; zones are refused.
func TestParseProxies(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/8":                 "10.0.0.0/8",
		"10.1.2.3/8":                 "10.0.0.0/8",
		" 192.168.1.1 ":              "192.168.1.1/32",
		"::1":                        "::1/128",
		"fd00::/8, 10.0.0.0/16":      "fd00::/8 10.0.0.0/16",
		"::ffff:10.0.0.0/104":        "10.0.0.0/8",
		"::ffff:10.0.0.7":            "10.0.0.7/32",
		"::ffff:0:0/96":              "0.0.0.0/0",
		"0.0.0.0/0,::/0":             "0.0.0.0/0 ::/0",
		"2001:db8::1/64,2001:db8::2": "2001:db8::/64 2001:db8::2/128",
	} {
		got, err := parseProxies(in)
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if err != nil || strings.Join(s, " ") != want {
			t.Errorf("TRUSTED_PROXIES=%q: %v, %v; want %s", in, s, err, want)
		}
	}
	for _, in := range []string{"fe80::1%eth0", "fe80::/64%eth0", "10.0.0.0/8,", "proxy.local", "10.0.0.256", "010.0.0.1", "10.0.0.0/33", "::ffff:10.0.0.0/129"} {
		if got, err := parseProxies(in); err == nil {
			t.Errorf("TRUSTED_PROXIES=%q accepted as %v", in, got)
		}
	}
}
