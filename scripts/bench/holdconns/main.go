// Command holdconns opens idle keep-alive connections to a server and holds
// them, so that scripts/bench/run can read the server's memory while it
// keeps them open.
//
// Usage:
//
//	holdconns -addr 127.0.0.1:18080 -n 4096 [-path /] [-workers 64] [-settle 1s] [-timeout 30s]
//
// Each connection sends one GET of -path over HTTP/1.1 (keep-alive) and reads
// the whole answer, which must be a 200; it then stays open, sending nothing.
// Once every connection has its answer and -settle has passed, holdconns
// prints one JSON line ({"conns":N,"open_ms":…}) and holds them until it is
// sent SIGTERM or SIGINT. Any connection that fails
// (refused, reset, a 503 past the server's connection cap) ends it with exit
// code 1 and the reason on stderr.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "", "host:port of the server")
	n := flag.Int("n", 0, "connections to open and hold")
	path := flag.String("path", "/", "path each connection requests once")
	workers := flag.Int("workers", 64, "connections opened at once")
	settle := flag.Duration("settle", time.Second, "wait after the last answer before reporting")
	timeout := flag.Duration("timeout", 30*time.Second, "give up opening after this long")
	flag.Parse()
	if *addr == "" || *n < 0 || *workers < 1 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	start := time.Now()
	conns, err := open(*addr, *path, *n, *workers, start.Add(*timeout))
	if err != nil {
		fmt.Fprintln(os.Stderr, "holdconns:", err)
		os.Exit(1)
	}
	opened := time.Since(start)
	time.Sleep(*settle) // the measurement's settling time, not synchronisation
	line, _ := json.Marshal(map[string]any{"conns": len(conns), "open_ms": opened.Milliseconds()})
	if _, err := fmt.Printf("%s\n", line); err != nil {
		os.Exit(1)
	}
	<-stop
	for _, c := range conns {
		c.Close()
	}
}

// open dials n connections with workers at a time; each is answered 200
// once before it is kept.
func open(addr, path string, n, workers int, deadline time.Time) ([]net.Conn, error) {
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: holdconns\r\n\r\n")
	conns := make([]net.Conn, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				conns[i], errs[i] = openOne(addr, req, deadline)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, c := range conns {
				if c != nil {
					c.Close()
				}
			}
			return nil, fmt.Errorf("connection %d of %d: %w", i+1, n, err)
		}
	}
	return conns, nil
}

func openOne(addr string, req []byte, deadline time.Time) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, time.Until(deadline))
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(deadline)
	resp, err := exchange(c, req)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d, want 200", resp.StatusCode)
	}
	if err == nil && resp.Close {
		err = fmt.Errorf("the server closes the connection after its answer")
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// exchange sends req and reads the whole answer. The answer is read from a
// reader of this call only: the server sends nothing more on an idle
// keep-alive connection, so nothing is left buffered in it.
func exchange(c net.Conn, req []byte) (*http.Response, error) {
	if _, err := c.Write(req); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, err
}
