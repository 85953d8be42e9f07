package app

import (
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
// is healthy and must not be restarted.
func healthcheck(cfg Config, stderr io.Writer) int {
	host := cfg.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Port)) + "/livez"
	client := &http.Client{Timeout: healthcheckTimeout}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: %s answered %s\n", url, resp.Status)
		return 1
	}
	return 0
}
