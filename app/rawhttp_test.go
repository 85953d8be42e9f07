package app

// HTTP clients for the tests: net/http for plain requests, and raw TCP for
// what net/http hides (keep-alive reuse, truncation, malformed bytes).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// get does one request on a fresh connection and returns status, headers, body.
func get(t testing.TB, method, url string, header http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// connRefused reports whether a new TCP connection to addr is refused.
func connRefused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return errors.Is(err, syscall.ECONNREFUSED)
	}
	c.Close()
	return false
}

// rawResponse is one response read off the wire.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
	close  bool // the server said Connection: close
}

// parseResponses reads every response in data, in order. methods[i] is the
// method of the request the i-th final (non-1xx) response answers (HEAD
// responses have no body); past its end, GET is assumed.
func parseResponses(data []byte, methods []string) ([]rawResponse, error) {
	var out []rawResponse
	br := bufio.NewReader(bytes.NewReader(data))
	final := 0
	for len(out) < 100 {
		if _, err := br.Peek(1); err != nil {
			break
		}
		req := &http.Request{Method: http.MethodGet}
		if final < len(methods) {
			req.Method = methods[final]
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return out, fmt.Errorf("response %d does not parse as HTTP/1.1: %w", len(out)+1, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return out, fmt.Errorf("response %d: truncated body: %w", len(out)+1, err)
		}
		if req.Method == http.MethodHead && resp.Close {
			// A HEAD request the server could not read is refused in
			// full, body included, and the connection closed: the rest
			// is either nothing or exactly that body.
			rest, _ := io.ReadAll(br)
			if len(rest) != 0 && int64(len(rest)) != resp.ContentLength {
				return out, fmt.Errorf("response %d to HEAD: %d bytes after it, Content-Length %d", len(out)+1, len(rest), resp.ContentLength)
			}
			body = rest
		}
		if resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
			return out, fmt.Errorf("response %d: protocol %s, want HTTP/1.1", len(out)+1, resp.Proto)
		}
		if resp.StatusCode >= 200 {
			final++
		}
		out = append(out, rawResponse{resp.StatusCode, resp.Header, body, resp.Close})
	}
	return out, nil
}

// rawExchange sends req on a fresh connection, half-closes it, and returns
// every response the server wrote before closing. A reset after the server
// wrote counts as a close: whatever arrived is still parsed.
func rawExchange(t *testing.T, addr string, req []byte) ([]rawResponse, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(req); err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write: %v", err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	data, err := io.ReadAll(io.LimitReader(c, 1<<20))
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reading until the server closes: %v (got %q)", err, data)
	}
	resps, err := parseResponses(data, nil)
	if err != nil {
		t.Fatalf("%v\nall bytes: %q", err, data)
	}
	return resps, data
}

// countingConn counts the bytes read from a connection.
type countingConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// keepAliveClient is an HTTP/1.1 client on one raw connection, reused
// until the server closes it. It tells a response that never began
// (connection closed before any byte: the server never took the request)
// from a truncated one (some bytes, then EOF).
type keepAliveClient struct {
	addr string
	cc   *countingConn
	br   *bufio.Reader
}

type outcome int

const (
	outcomeOK        outcome = iota // complete 200, body length matches Content-Length
	outcomeNoConn                   // could not connect (refused after the listener closed)
	outcomeNotTaken                 // request written, connection closed before any response byte
	outcomeTruncated                // some response bytes, then the connection ended
	outcomeBad                      // a complete response that is wrong (status, length, body)
)

func (o outcome) String() string {
	return [...]string{"ok", "no-conn", "not-taken", "truncated", "bad"}[o]
}

// do sends GET path (with header lines extra, each ending in CRLF) and
// reads the response, connecting first when needed. wantBody, if non-nil,
// must equal the body. closed says the server asked to close (Connection:
// close); the client then drops the connection.
func (k *keepAliveClient) do(path, extra string, wantBody []byte) (o outcome, closed bool, detail string) {
	if k.cc == nil {
		c, err := net.DialTimeout("tcp", k.addr, 2*time.Second)
		if err != nil {
			return outcomeNoConn, false, err.Error()
		}
		k.cc = &countingConn{Conn: c}
		k.br = bufio.NewReader(k.cc)
	}
	_ = k.cc.SetDeadline(time.Now().Add(10 * time.Second))
	before := k.cc.n.Load() // no pipelining: nothing of this response is buffered yet
	if _, err := io.WriteString(k.cc, "GET "+path+" HTTP/1.1\r\nHost: test\r\n"+extra+"\r\n"); err != nil {
		k.close()
		return outcomeNotTaken, true, "write: " + err.Error()
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		began := k.cc.n.Load() > before
		k.close()
		if began {
			return outcomeTruncated, true, "reading head: " + err.Error()
		}
		return outcomeNotTaken, true, err.Error()
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		k.close()
		return outcomeTruncated, true, fmt.Sprintf("reading body (%d of %d bytes): %v", len(body), resp.ContentLength, err)
	}
	if resp.Close {
		k.close()
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		return outcomeBad, resp.Close, fmt.Sprintf("status %d body %q", resp.StatusCode, body)
	case resp.ContentLength < 0 || int64(len(body)) != resp.ContentLength:
		return outcomeBad, resp.Close, fmt.Sprintf("Content-Length %d, body %d bytes", resp.ContentLength, len(body))
	case wantBody != nil && !bytes.Equal(body, wantBody):
		return outcomeBad, resp.Close, fmt.Sprintf("body %q, want %q", body, wantBody)
	case !json.Valid(body):
		return outcomeBad, resp.Close, fmt.Sprintf("body not JSON: %q", body)
	case resp.Header.Get("X-Request-ID") == "":
		return outcomeBad, resp.Close, "no X-Request-ID"
	}
	return outcomeOK, resp.Close, ""
}

// keptAlive returns a client whose connection has been answered once
// (GET path, body want) and kept open by the server.
func keptAlive(t testing.TB, addr, path string, want []byte) *keepAliveClient {
	t.Helper()
	k := &keepAliveClient{addr: addr}
	t.Cleanup(k.close)
	if o, closed, detail := k.do(path, "", want); o != outcomeOK || closed {
		t.Fatalf("GET %s on a new connection: %v %s (Connection: close %v)", path, o, detail, closed)
	}
	return k
}

func (k *keepAliveClient) close() {
	if k.cc != nil {
		k.cc.Close()
		k.cc, k.br = nil, nil
	}
}

// keepAlive sends requests of any method one after another on one
// connection, dialling again when the server closes it, and returns the
// status only (for counting answers; keepAliveClient judges them).
type keepAlive struct {
	t    *testing.T
	addr string
	c    net.Conn
	r    *bufio.Reader
}

func (k *keepAlive) do(method, target string) int {
	k.t.Helper()
	for attempt := 0; ; attempt++ {
		if k.c == nil {
			c, err := net.DialTimeout("tcp", k.addr, 2*time.Second)
			if err != nil {
				k.t.Fatal(err)
			}
			k.c, k.r = c, bufio.NewReader(c)
		}
		_ = k.c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err := fmt.Fprintf(k.c, "%s %s HTTP/1.1\r\nHost: test\r\n\r\n", method, target)
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(k.r, &http.Request{Method: method})
		}
		if err != nil {
			k.close()
			if attempt == 0 {
				continue // closed by the server after the previous answer
			}
			k.t.Fatalf("%s %s: %v", method, target, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Close {
			k.close()
		}
		return resp.StatusCode
	}
}

func (k *keepAlive) close() {
	if k.c != nil {
		k.c.Close()
		k.c = nil
	}
}

// answeredOnce returns a connection on which GET path was answered 200 in
// full and which the server keeps open.
func answeredOnce(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("GET %s: %d, %d bytes, %v, Connection: close %v; want 200, kept open", path, resp.StatusCode, len(body), err, resp.Close)
	}
	return c
}
