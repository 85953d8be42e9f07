package app

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

const healthcheckTimeout = 2 * time.Second

// healthcheck asks the running server whether it is alive, so the image
// needs no curl or wget. It checks /livez, not /readyz: a draining process
// is healthy and must not be restarted. It exits 0 or 1 only, because
// Docker reserves 2 for health checks: a bad environment is "unhealthy".
//
// It speaks HTTP/1.0 over a plain connection rather than using http.Client:
// the client's transport (HTTP/2, proxies, TLS) would add about 1 MB to a
// binary that only ever asks localhost one question.
func healthcheck(args []string, lookupEnv func(string) (string, bool), stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "healthcheck: unexpected argument %q\n", args[0])
		return 1
	}
	cfg, err := loadConfig(lookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	addr := healthcheckAddr(cfg)
	status, err := getStatus(addr, "/livez", healthcheckTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	if status != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: http://%s/livez answered %d\n", addr, status)
		return 1
	}
	return 0
}

// healthcheckAddr is where the server listens: HOST when it names one
// address, else 127.0.0.1 (which a server on every interface answers too).
func healthcheckAddr(cfg Config) string {
	host := cfg.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(cfg.Port))
}

func getStatus(addr, path string, timeout time.Duration) (int, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return 0, err
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: server-healthcheck\r\n\r\n", path, addr); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, fmt.Errorf("reading the answer from %s: %w", addr, err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
