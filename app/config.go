package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Config holds every setting of the service. All of them come from the
// environment; the settings table below is the one place that names them,
// gives their defaults and parses them.
type Config struct {
	Host              string
	Port              int
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	ShutdownDelay     time.Duration
	BodyLimit         int
	ReadBufferSize    int
	MaxConns          int
	ReduceMemoryUsage bool
	LogLevel          slog.Level
	LogFormat         string
	AccessLog         bool
	TrustedProxies    []netip.Prefix
	DebugRoutes       bool
	MetricsAddr       string
}

type setting struct {
	name  string
	def   string
	help  string
	parse func(c *Config, value string) error
}

// settings is read top to bottom by loadConfig and by the help text.
var settings = []setting{
	{"PORT", "8080", "TCP port to listen on; 0 picks a free port (the address is logged)",
		func(c *Config, v string) (err error) { c.Port, err = parseInt(v, 0, 65535); return err }},
	{"HOST", "", "address to bind; empty means every interface, IPv4 and IPv6",
		func(c *Config, v string) (err error) { c.Host, err = parseHost(v); return err }},
	{"READ_TIMEOUT", "10s", "time allowed to read a request, headers and body, from its first byte (cuts off slow clients); a new connection must also send that byte within it, so its first request can take up to 2x this from the connect (1x with REDUCE_MEMORY_USAGE=false)",
		func(c *Config, v string) (err error) { c.ReadTimeout, err = parseDuration(v, false); return err }},
	{"WRITE_TIMEOUT", "10s", "time allowed to write a response",
		func(c *Config, v string) (err error) { c.WriteTimeout, err = parseDuration(v, false); return err }},
	{"IDLE_TIMEOUT", "75s", "how long an idle keep-alive connection stays open; keep it above your load balancer's (ALB: 60s)",
		func(c *Config, v string) (err error) { c.IdleTimeout, err = parseDuration(v, false); return err }},
	{"SHUTDOWN_TIMEOUT", "20s", "on SIGTERM, how long in-flight requests get to finish (ECS and Kubernetes kill after 30s)",
		func(c *Config, v string) (err error) { c.ShutdownTimeout, err = parseDuration(v, false); return err }},
	{"SHUTDOWN_DELAY", "0s", "on SIGTERM, how long to keep accepting with /readyz at 503 before closing the listener, so load balancers notice",
		func(c *Config, v string) (err error) { c.ShutdownDelay, err = parseDuration(v, true); return err }},
	{"BODY_LIMIT", "1MiB", "largest request body accepted (413 above it); bytes or KiB/MiB",
		func(c *Config, v string) (err error) { c.BodyLimit, err = parseSize(v, 1, 1<<30); return err }},
	{"READ_BUFFER_SIZE", "16KiB", "per-connection read buffer, which caps the request line plus headers (431 above it)",
		func(c *Config, v string) (err error) { c.ReadBufferSize, err = parseSize(v, 4<<10, 1<<20); return err }},
	{"MAX_CONNS", "4096", "most connections served at once; more are answered 503 and closed",
		func(c *Config, v string) (err error) { c.MaxConns, err = parseInt(v, 1, 1_000_000); return err }},
	{"REDUCE_MEMORY_USAGE", "true", "return each connection's read and write buffers to a pool between requests, so an idle keep-alive connection costs about 6 KiB of RSS instead of 17 KiB (fasthttp's ReduceMemoryUsage; see READ_TIMEOUT)",
		func(c *Config, v string) (err error) { c.ReduceMemoryUsage, err = parseBool(v); return err }},
	{"LOG_LEVEL", "info", "debug, info, warn or error",
		func(c *Config, v string) (err error) { c.LogLevel, err = parseLevel(v); return err }},
	{"LOG_FORMAT", "json", "json or text",
		func(c *Config, v string) (err error) { c.LogFormat, err = parseChoice(v, "json", "text"); return err }},
	{"ACCESS_LOG", "true", "one log line per request",
		func(c *Config, v string) (err error) { c.AccessLog, err = parseBool(v); return err }},
	{"TRUSTED_PROXIES", "", "comma-separated IPs or CIDRs of the load balancers and proxies in front; with it set, the client IP is the right-most X-Forwarded-For address that is not one of them (behind an ALB: the VPC CIDR)",
		func(c *Config, v string) (err error) { c.TrustedProxies, err = parseProxies(v); return err }},
	{"DEBUG_ROUTES", "false", "adds /debug/sleep?d=2s and /debug/panic, for drills of draining and recovery; keep off in production",
		func(c *Config, v string) (err error) { c.DebugRoutes, err = parseBool(v); return err }},
	{"METRICS_ADDR", "", "host:port of a second listener serving Prometheus /metrics, such as :9090; empty means no metrics",
		func(c *Config, v string) (err error) { c.MetricsAddr, err = parseListenAddr(v); return err }},
}

// ConfigError names the variable and the value that were refused.
type ConfigError struct {
	Name, Value string
	Err         error
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("invalid %s=%q: %v", e.Name, e.Value, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// loadConfig reads every setting through lookup (os.LookupEnv in the
// program). An unset or empty variable takes its default.
func loadConfig(lookup func(string) (string, bool)) (Config, error) {
	var c Config
	for _, s := range settings {
		v, ok := lookup(s.name)
		if !ok || v == "" {
			v = s.def
		}
		if err := s.parse(&c, v); err != nil {
			return Config{}, &ConfigError{Name: s.name, Value: v, Err: err}
		}
	}
	return c, nil
}

// printSettings writes the environment variables with their defaults.
func printSettings(w io.Writer) {
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  %-19s %-7s %s\n", s.name, def, s.help)
	}
}

func parseInt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("must be an integer from %d to %d", lo, hi)
	}
	return n, nil
}

func parseDuration(v string, zeroOK bool) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return 0, errors.New("must be a duration such as 500ms, 10s or 1m")
	case d < 0 || d == 0 && !zeroOK:
		if zeroOK {
			return 0, errors.New("must not be negative")
		}
		return 0, errors.New("must be greater than zero")
	case d > time.Hour:
		return 0, errors.New("must be at most 1h")
	}
	return d, nil
}

var sizeUnits = []struct {
	suffix string
	factor int
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"B", 1}}

func parseSize(v string, lo, hi int) (int, error) {
	num, factor := v, 1
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(v, u.suffix); ok {
			num, factor = strings.TrimSpace(rest), u.factor
			break
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > hi/factor || n*factor < lo {
		return 0, fmt.Errorf("must be a size from %d to %d bytes, such as 16384, 64KiB or 4MiB", lo, hi)
	}
	return n * factor, nil
}

func parseLevel(v string) (slog.Level, error) {
	switch strings.ToLower(v) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, errors.New("must be debug, info, warn or error")
}

func parseChoice(v string, choices ...string) (string, error) {
	for _, c := range choices {
		if strings.EqualFold(v, c) {
			return c, nil
		}
	}
	return "", fmt.Errorf("must be one of %s", strings.Join(choices, ", "))
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errors.New("must be true or false")
	}
	return b, nil
}

func parseHost(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	h := strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
	if _, err := netip.ParseAddr(h); err == nil {
		return h, nil
	}
	if isHostname(v) {
		return v, nil
	}
	return "", errors.New("must be an IP address or a host name")
}

// isHostname accepts RFC 1123 names such as localhost or api.internal.
func isHostname(v string) bool {
	if len(v) > 253 {
		return false
	}
	for label := range strings.SplitSeq(v, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// parseListenAddr accepts host:port with an optional host (":9090" means
// every interface) and port 0 for a free one (the address is logged).
func parseListenAddr(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", errors.New("must be host:port such as :9090 or 127.0.0.1:9090")
	}
	n, err := parseInt(port, 0, 65535)
	if err != nil {
		return "", fmt.Errorf("port %w", err)
	}
	if host, err = parseHost(host); err != nil {
		return "", fmt.Errorf("host %w", err)
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}

// parseProxies reads TRUSTED_PROXIES into prefixes: an address is a prefix
// of its full length, IPv4-mapped IPv6 ones are unmapped (the peer and the
// X-Forwarded-For addresses they are matched against are), zones refused.
func parseProxies(v string) ([]netip.Prefix, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for p := range strings.SplitSeq(v, ",") {
		p = strings.TrimSpace(p)
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not an IP address or CIDR such as 10.0.0.0/8", p)
			}
			prefix = netip.PrefixFrom(a, a.BitLen())
		}
		if a := prefix.Addr(); a.Is4In6() && prefix.Bits() >= 96 {
			prefix = netip.PrefixFrom(a.Unmap(), prefix.Bits()-96)
		}
		out = append(out, prefix.Masked())
	}
	return out, nil
}
