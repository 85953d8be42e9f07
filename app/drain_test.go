package app

// Process-level reliability tests: graceful drain under load, a soak that
// looks for leaked connections and memory, and the connection limits
// (READ_TIMEOUT against idle and slowloris clients, MAX_CONNS).
//
// They drive the real binary (serverBin, see testserver_test.go) over
// loopback and observe it from outside: HTTP on the wire, plus the kernel's
// view of the process in /proc (open fds, RSS, socket queues).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var soakFor = flag.Duration("soak", 0,
	"run TestSoakBurstsReturnToBaseline for this long (e.g. -soak=30s); 0 = a short default run")

// ---------------------------------------------------------------------------
// Observing the server process through /proc.

// procSnapshot is what the kernel says about the server process.
type procSnapshot struct {
	RSSKiB      int // VmRSS
	FDs         int // entries in /proc/PID/fd
	Established int // server-side sockets in ESTABLISHED on the service port
}

func (s procSnapshot) String() string {
	return fmt.Sprintf("rss=%.1fMiB fds=%d established=%d", float64(s.RSSKiB)/1024, s.FDs, s.Established)
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) port(t testing.TB) int {
	t.Helper()
	_, port, err := net.SplitHostPort(p.addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func snapshotProc(t testing.TB, p *proc) procSnapshot {
	t.Helper()
	var s procSnapshot
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			s.RSSKiB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.pid()))
	if err != nil {
		t.Fatal(err)
	}
	s.FDs = len(fds)
	port := p.port(t)
	for _, sk := range tcpSockets(t) {
		if sk.localPort == port && sk.state == tcpEstablished {
			s.Established++
		}
	}
	return s
}

const tcpEstablished = 0x01

// tcpSocket is one line of /proc/net/tcp (IPv4; the tests use 127.0.0.1).
type tcpSocket struct {
	localPort, remotePort int
	state                 int
	txQueue, rxQueue      int // bytes not yet acknowledged by the peer / not yet read by the owner
}

func tcpSockets(t testing.TB) []tcpSocket {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	var out []tcpSocket
	lines := strings.Split(string(data), "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		var sk tcpSocket
		hexPort := func(addr string) int {
			_, port, _ := strings.Cut(addr, ":")
			n, _ := strconv.ParseInt(port, 16, 32)
			return int(n)
		}
		sk.localPort, sk.remotePort = hexPort(f[1]), hexPort(f[2])
		st, _ := strconv.ParseInt(f[3], 16, 32)
		sk.state = int(st)
		tx, rx, _ := strings.Cut(f[4], ":")
		txn, _ := strconv.ParseInt(tx, 16, 64)
		rxn, _ := strconv.ParseInt(rx, 16, 64)
		sk.txQueue, sk.rxQueue = int(txn), int(rxn)
		out = append(out, sk)
	}
	return out
}

// serverHasRead reports whether the server process has read everything the
// client connection c wrote: the client's send queue is acknowledged (the
// bytes reached the server's kernel) and the server-side socket's receive
// queue is empty (the process took them). A socket still waiting in the
// listen backlog, never accepted, keeps its bytes queued.
func serverHasRead(t testing.TB, serverPort int, c net.Conn) bool {
	t.Helper()
	clientPort := c.LocalAddr().(*net.TCPAddr).Port
	var clientDone, serverDone bool
	for _, sk := range tcpSockets(t) {
		if sk.state != tcpEstablished {
			continue
		}
		switch {
		case sk.localPort == clientPort && sk.remotePort == serverPort:
			clientDone = sk.txQueue == 0
		case sk.localPort == serverPort && sk.remotePort == clientPort:
			serverDone = sk.rxQueue == 0
		}
	}
	return clientDone && serverDone
}

// raiseFDLimit makes sure this process (and the server it starts, which
// inherits the limit) may hold n descriptors, or skips the test.
func raiseFDLimit(t testing.TB, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < n {
		t.Skipf("RLIMIT_NOFILE hard limit %d < %d needed", lim.Max, n)
	}
	// Set it even when the current value suffices: Go raises its own soft
	// limit at startup but gives children the original one unless the
	// program called Setrlimit itself.
	lim.Cur = max(lim.Cur, n)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot raise RLIMIT_NOFILE to %d: %v", n, err)
	}
}

// ---------------------------------------------------------------------------
// A keep-alive HTTP/1.1 client on a raw connection, which can tell a
// response that never began (connection closed before any byte: the server
// never took the request) from a truncated one (some bytes, then EOF).

type countingConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

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

// do sends GET path and reads the response. It reconnects when needed.
// wantBody, if non-nil, must equal the body.
func (k *keepAliveClient) do(path string, wantBody []byte) (outcome, string) {
	if k.cc == nil {
		c, err := net.DialTimeout("tcp", k.addr, 2*time.Second)
		if err != nil {
			return outcomeNoConn, err.Error()
		}
		k.cc = &countingConn{Conn: c}
		k.br = bufio.NewReader(k.cc)
	}
	_ = k.cc.SetDeadline(time.Now().Add(10 * time.Second))
	before := k.cc.n.Load() // no pipelining: nothing of this response is buffered yet
	if _, err := io.WriteString(k.cc, "GET "+path+" HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		k.close()
		return outcomeNotTaken, "write: " + err.Error()
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		began := k.cc.n.Load() > before
		k.close()
		if began {
			return outcomeTruncated, "reading head: " + err.Error()
		}
		return outcomeNotTaken, err.Error()
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		k.close()
		return outcomeTruncated, fmt.Sprintf("reading body (%d of %d bytes): %v", len(body), resp.ContentLength, err)
	}
	if resp.Close {
		k.close()
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		return outcomeBad, fmt.Sprintf("status %d body %q", resp.StatusCode, body)
	case resp.ContentLength < 0 || int64(len(body)) != resp.ContentLength:
		return outcomeBad, fmt.Sprintf("Content-Length %d, body %d bytes", resp.ContentLength, len(body))
	case wantBody != nil && !bytes.Equal(body, wantBody):
		return outcomeBad, fmt.Sprintf("body %q, want %q", body, wantBody)
	case !json.Valid(body):
		return outcomeBad, fmt.Sprintf("body not JSON: %q", body)
	case resp.Header.Get("X-Request-ID") == "":
		return outcomeBad, "no X-Request-ID"
	}
	return outcomeOK, ""
}

func (k *keepAliveClient) close() {
	if k.cc != nil {
		k.cc.Close()
		k.cc, k.br = nil, nil
	}
}

// ---------------------------------------------------------------------------
// Drain under load.

// loadClient is one goroutine's state, shared with the test goroutine so it
// can mark which request was in flight when SIGTERM went out.
type loadClient struct {
	mu          sync.Mutex
	seq         int  // number of the current or last request
	inFlight    bool // seq is written and its response not yet read
	markedAtSig int  // seq in flight at SIGTERM, or 0
}

type drainTally struct {
	mu         sync.Mutex
	total      int
	byOutcome  map[outcome]int
	atSignal   map[outcome]int // outcomes of the requests in flight at SIGTERM
	failures   []string
	afterSigOK int // requests begun after SIGTERM and answered 200 (Connection: close)
}

func (d *drainTally) record(o outcome, detail string, marked, signalled bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.total++
	d.byOutcome[o]++
	if marked {
		d.atSignal[o]++
	}
	if o == outcomeOK && signalled && !marked {
		d.afterSigOK++
	}
	bad := o == outcomeTruncated || o == outcomeBad ||
		// Before SIGTERM the server must take and answer every request.
		!signalled && o != outcomeOK
	if bad && len(d.failures) < 20 {
		d.failures = append(d.failures, fmt.Sprintf("%v (signalled=%v): %s", o, signalled, detail))
	}
}

func TestDrainUnderLoad(t *testing.T) {
	const (
		fastClients     = 48
		slowClients     = 8
		guaranteedSlow  = 6 // fresh connections proven read by the server before SIGTERM
		shutdownTimeout = 5 * time.Second
		maxRequests     = 200_000 // per client, a bound only
	)
	raiseFDLimit(t, 4096)
	p := startServer(t, "DEBUG_ROUTES=true", "SHUTDOWN_TIMEOUT="+shutdownTimeout.String(), "ACCESS_LOG=false")
	port := p.port(t)

	tally := &drainTally{byOutcome: map[outcome]int{}, atSignal: map[outcome]int{}}
	var signalled atomic.Bool
	stop := make(chan struct{})
	hardStop := time.Now().Add(30 * time.Second)

	clients := make([]*loadClient, fastClients+slowClients)
	var wg sync.WaitGroup
	for i := range clients {
		lc := &loadClient{}
		clients[i] = lc
		path, want := "/", rootBody
		if i >= fastClients {
			path, want = "/debug/sleep?d=300ms", []byte(`{"slept":"300ms"}`)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := &keepAliveClient{addr: p.addr}
			defer k.close()
			for n := 0; n < maxRequests && time.Now().Before(hardStop); n++ {
				select {
				case <-stop:
					return
				default:
				}
				lc.mu.Lock()
				lc.seq++
				lc.inFlight = true
				lc.mu.Unlock()
				sig := signalled.Load()
				o, detail := k.do(path, want)
				lc.mu.Lock()
				lc.inFlight = false
				marked := lc.markedAtSig == lc.seq
				lc.mu.Unlock()
				if o == outcomeNoConn {
					if !sig && !signalled.Load() {
						tally.record(o, detail, marked, false)
					}
					return // refused: the listener is closed, the drill is over for this client
				}
				tally.record(o, detail, marked, sig || marked)
				if o == outcomeBad || o == outcomeTruncated {
					return
				}
			}
		}()
	}

	// Let the load run until every client has been answered a few times.
	eventually(t, 10*time.Second, "load to get going", func() bool {
		tally.mu.Lock()
		defer tally.mu.Unlock()
		return tally.byOutcome[outcomeOK] >= 5*fastClients+slowClients
	})

	// Slow requests on fresh connections, each proven taken by the server
	// (its bytes left the socket queue) before the signal: all must finish.
	type guaranteed struct {
		conn net.Conn
		res  chan string
	}
	var gs []guaranteed
	for range guaranteedSlow {
		c, err := net.DialTimeout("tcp", p.addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /debug/sleep?d=1500ms HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		gs = append(gs, guaranteed{c, make(chan string, 1)})
	}
	eventually(t, 5*time.Second, "server to read the slow requests", func() bool {
		for _, g := range gs {
			if !serverHasRead(t, port, g.conn) {
				return false
			}
		}
		return true
	})
	for _, g := range gs {
		go func() {
			_ = g.conn.SetDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(g.conn), nil)
			if err != nil {
				g.res <- "reading head: " + err.Error()
				return
			}
			body, err := io.ReadAll(resp.Body)
			switch {
			case err != nil:
				g.res <- "reading body: " + err.Error()
			case resp.StatusCode != 200 || int64(len(body)) != resp.ContentLength || string(body) != `{"slept":"1.5s"}`:
				g.res <- fmt.Sprintf("got %d, Content-Length %d, body %q", resp.StatusCode, resp.ContentLength, body)
			default:
				g.res <- ""
			}
		}()
	}

	// SIGTERM: first mark what is in flight.
	signalled.Store(true)
	inFlight := 0
	for _, lc := range clients {
		lc.mu.Lock()
		if lc.inFlight {
			lc.markedAtSig = lc.seq
			inFlight++
		}
		lc.mu.Unlock()
	}
	sigAt := time.Now()
	p.signal(syscall.SIGTERM)

	// New connections are refused once the listener closes (SHUTDOWN_DELAY=0).
	eventually(t, shutdownTimeout, "new connections to be refused", func() bool {
		return connRefused(p.addr)
	})

	for i, g := range gs {
		select {
		case msg := <-g.res:
			if msg != "" {
				t.Errorf("slow request %d, taken before SIGTERM: %s", i, msg)
			}
		case <-time.After(shutdownTimeout + 5*time.Second):
			t.Errorf("slow request %d: no answer", i)
		}
	}

	code := p.wait(shutdownTimeout + 2*time.Second)
	exitAfter := time.Since(sigAt)
	close(stop)
	wg.Wait()

	if code != 0 {
		t.Errorf("exit code %d, want 0\nlogs:\n%s", code, p.logs())
	}
	if exitAfter > shutdownTimeout {
		t.Errorf("exited %v after SIGTERM, want within SHUTDOWN_TIMEOUT=%v", exitAfter, shutdownTimeout)
	}
	if strings.Contains(p.logs(), "shutdown timed out") {
		t.Errorf("server logged a shutdown timeout:\n%s", p.logs())
	}

	tally.mu.Lock()
	defer tally.mu.Unlock()
	for _, f := range tally.failures {
		t.Error(f)
	}
	if n := tally.byOutcome[outcomeTruncated]; n > 0 {
		t.Errorf("%d truncated responses", n)
	}
	completedAtSig := tally.atSignal[outcomeOK] + guaranteedSlow
	t.Logf("drain: %d requests; in flight at SIGTERM: %d load + %d slow proven-taken = %d; "+
		"completed with full 200: %d (not taken by the server, connection closed before any byte: %d; truncated: %d); "+
		"answered after SIGTERM: %d; outcomes %v; exit %d after %v",
		tally.total, inFlight, guaranteedSlow, inFlight+guaranteedSlow, completedAtSig,
		tally.atSignal[outcomeNotTaken], tally.atSignal[outcomeTruncated], tally.afterSigOK,
		tally.byOutcome, code, exitAfter.Round(time.Millisecond))
	if inFlight == 0 {
		t.Errorf("no load request was in flight at SIGTERM: the drill proved nothing")
	}
}

// TestDrainShutdownDelay: during SHUTDOWN_DELAY the listener stays open,
// /readyz answers 503 and the process still serves, then new connections
// are refused and it exits 0.
func TestDrainShutdownDelay(t *testing.T) {
	p := startServer(t, "SHUTDOWN_DELAY=1500ms", "SHUTDOWN_TIMEOUT=3s")
	k := &keepAliveClient{addr: p.addr}
	defer k.close()
	if o, detail := k.do("/", rootBody); o != outcomeOK || k.cc == nil {
		t.Fatalf("before SIGTERM: %v %s (connection kept: %v)", o, detail, k.cc != nil)
	}
	p.signal(syscall.SIGTERM)
	eventually(t, 3*time.Second, "/readyz 503 while draining", func() bool {
		code, _, _ := get(t, "GET", p.url("/readyz"), nil)
		return code == http.StatusServiceUnavailable
	})
	if code, _, body := get(t, "GET", p.url("/health"), nil); code != http.StatusServiceUnavailable {
		t.Errorf("/health while draining: %d %q, want 503", code, body)
	}
	if code, _, _ := get(t, "GET", p.url("/livez"), nil); code != http.StatusOK {
		t.Errorf("/livez while draining: %d, want 200", code)
	}
	// The keep-alive connection opened before SIGTERM is answered, with
	// Connection: close, so the client moves to another target.
	if o, detail := k.do("/", rootBody); o != outcomeOK {
		t.Errorf("GET / on a keep-alive connection during SHUTDOWN_DELAY: %v %s", o, detail)
	} else if k.cc != nil {
		t.Errorf("GET / during SHUTDOWN_DELAY: response lacks Connection: close")
	}
	eventually(t, 5*time.Second, "connections refused after the delay", func() bool { return connRefused(p.addr) })
	if code := p.wait(5 * time.Second); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

// ---------------------------------------------------------------------------
// Soak: bursts of load, then the process must come back to its baseline.

// burst runs clients concurrent goroutines for d: two thirds reuse a
// keep-alive connection, one third dial a new connection per request. It
// returns the number of requests answered and closes every connection.
func burst(t *testing.T, p *proc, clients int, d time.Duration) int {
	t.Helper()
	var ok atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := &keepAliveClient{addr: p.addr}
			defer k.close()
			for n := 0; n < 1_000_000 && time.Now().Before(end); n++ {
				path, want := "/", rootBody
				if i%8 == 7 {
					path, want = "/debug/sleep?d=20ms", []byte(`{"slept":"20ms"}`)
				}
				o, detail := k.do(path, want)
				if o != outcomeOK {
					failed.CompareAndSwap(nil, fmt.Sprintf("%v: %s", o, detail))
					return
				}
				ok.Add(1)
				if i%3 == 0 {
					k.close()
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f != nil {
		t.Fatalf("during burst: %v", f)
	}
	return int(ok.Load())
}

// TestSoakBurstsReturnToBaseline: after each burst, once the clients have
// closed their connections, the server must hold no connection and no more
// descriptors than at baseline, and its RSS must stay bounded.
//
// Tolerances and why:
//   - fds: exactly the baseline. Each connection is one descriptor; any
//     extra one after the clients closed is a leak.
//   - ESTABLISHED sockets on the service port: 0.
//   - RSS: the baseline is taken after a warm-up burst (pools, read buffers
//     and the heap have reached their working size; Go returns memory to
//     the OS slowly, so RSS does not fall back to the cold-start value).
//     Later bursts may add at most max(16 MiB, 50% of that baseline). A
//     per-request leak of even 100 bytes over the hundreds of thousands of
//     requests of a -soak=30s run, or a leaked 16 KiB read buffer per
//     connection over the tens of thousands of connections dialled, would
//     exceed that.
func TestSoakBurstsReturnToBaseline(t *testing.T) {
	soak := *soakFor
	bursts, burstLen := 3, 400*time.Millisecond
	if soak > 0 {
		burstLen = time.Second
		bursts = max(1, int(soak/(burstLen+200*time.Millisecond)))
	}
	raiseFDLimit(t, 4096)
	p := startServer(t, "DEBUG_ROUTES=true", "ACCESS_LOG=false")
	cold := snapshotProc(t, p)

	settle := func(label string) procSnapshot {
		t.Helper()
		var s procSnapshot
		eventually(t, 10*time.Second, label+": connections to close", func() bool {
			s = snapshotProc(t, p)
			return s.Established == 0 && s.FDs <= cold.FDs
		})
		return s
	}

	total := burst(t, p, 64, burstLen)
	base := settle("warm-up")
	t.Logf("soak: cold %v; after warm-up burst (%d requests) %v", cold, total, base)
	limitKiB := base.RSSKiB + max(16<<10, base.RSSKiB/2)
	var last procSnapshot
	for i := range bursts {
		n := burst(t, p, 64, burstLen)
		total += n
		last = settle(fmt.Sprintf("burst %d", i+1))
		if last.RSSKiB > limitKiB {
			t.Errorf("after burst %d: RSS %d KiB > limit %d KiB (baseline %d KiB)", i+1, last.RSSKiB, limitKiB, base.RSSKiB)
		}
		if soak > 0 || i == bursts-1 {
			t.Logf("soak: after burst %d (%d requests): %v", i+1, n, last)
		}
	}
	t.Logf("soak: %d bursts, %d requests in all; baseline %v -> after %v (RSS limit %.1f MiB)",
		bursts+1, total, base, last, float64(limitKiB)/1024)
	if code, _, _ := get(t, "GET", p.url("/health"), nil); code != 200 {
		t.Errorf("/health after soak: %d", code)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Errorf("exit %d after soak, want 0", code)
	}
}

// ---------------------------------------------------------------------------
// Connection limits.

// TestIdleAndSlowlorisConnectionsAreCut: thousands of idle connections and
// a client trickling its headers do not stop real clients from being
// served, and the server closes them all once READ_TIMEOUT has passed.
func TestIdleAndSlowlorisConnectionsAreCut(t *testing.T) {
	const (
		idle        = 2000
		slowloris   = 4
		readTimeout = time.Second
	)
	raiseFDLimit(t, 2*(idle+slowloris)+512)
	p := startServer(t, "READ_TIMEOUT="+readTimeout.String(), "ACCESS_LOG=false")
	base := snapshotProc(t, p)

	type watched struct {
		dialled time.Time
		closed  chan time.Duration // how long after dialling the server closed it
	}
	var got408 atomic.Int64
	// watch reads from c until the server closes it. Anything it sends
	// first must be a 408 (fasthttp answers a first request that timed out).
	watch := func(c net.Conn, w watched, errs chan<- string) {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		data, err := io.ReadAll(io.LimitReader(c, 4096))
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			errs <- fmt.Sprintf("waiting for close: %v after %q", err, data)
			return
		}
		if len(data) > 0 {
			if !bytes.HasPrefix(data, []byte("HTTP/1.1 408 ")) {
				errs <- fmt.Sprintf("unexpected bytes before close: %q", data)
			}
			got408.Add(1)
		}
		w.closed <- time.Since(w.dialled)
	}

	errs := make(chan string, idle+slowloris)
	var all []watched
	dialOne := func() net.Conn {
		// Taken before dialling: the server may accept and arm its deadline
		// before DialTimeout returns to us.
		w := watched{dialled: time.Now(), closed: make(chan time.Duration, 1)}
		c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", len(all), err)
		}
		all = append(all, w)
		go watch(c, w, errs)
		return c
	}
	for range idle {
		dialOne()
	}
	// Slowloris: a valid request line, then one header line every 100ms,
	// never the blank line that would end the headers.
	var trickle sync.WaitGroup
	for i := range slowloris {
		c := dialOne()
		trickle.Add(1)
		go func() {
			defer trickle.Done()
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: test\r\n"); err != nil {
				return
			}
			for n := range 100 { // at most 10s
				if _, err := fmt.Fprintf(c, "X-Slow-%d-%d: x\r\n", i, n); err != nil {
					return // the server closed it
				}
				time.Sleep(100 * time.Millisecond) // the attack's pace, not synchronisation
			}
		}()
	}
	t.Logf("limits: %d idle + %d slowloris connections open; server %v", idle, slowloris, snapshotProc(t, p))

	// Real clients are still served, each within a deadline (get: 5s).
	for i := range 20 {
		code, h, body := get(t, "GET", p.url("/"), nil)
		if code != 200 || body != string(rootBody) || h.Get("X-Request-ID") == "" {
			t.Fatalf("real client %d while %d connections idle: %d %q", i, idle, code, body)
		}
	}

	// Every idle and slowloris connection is closed by the server, not
	// before READ_TIMEOUT (its deadline starts when the server takes the
	// connection, after our dial), and well before our own 20s read limit.
	deadline := time.After(15 * time.Second)
	early, latest := 0, time.Duration(0)
	for i, w := range all {
		select {
		case d := <-w.closed:
			if d < readTimeout-20*time.Millisecond { // clocks are coarse, never early by more
				early++
			}
			latest = max(latest, d)
		case <-deadline:
			t.Fatalf("connection %d of %d (idle first, then slowloris) still open 15s after dialling", i, len(all))
		}
	}
	trickle.Wait()
	close(errs)
	n := 0
	for e := range errs {
		if n++; n <= 10 {
			t.Error(e)
		}
	}
	if early > 0 {
		t.Errorf("%d connections closed before READ_TIMEOUT=%v", early, readTimeout)
	}
	var after procSnapshot
	eventually(t, 5*time.Second, "server fds back to baseline", func() bool {
		after = snapshotProc(t, p)
		return after.FDs <= base.FDs && after.Established == 0
	})
	t.Logf("limits: all %d connections closed by the server (%d with a 408 first), the last %v after dialling; server before %v, after %v",
		len(all), got408.Load(), latest.Round(time.Millisecond), base, after)
	if code, _, _ := get(t, "GET", p.url("/health"), nil); code != 200 {
		t.Errorf("/health afterwards: %d", code)
	}
}

// TestMaxConnsCap: with MAX_CONNS=N, N keep-alive connections being served
// take every worker; fasthttp's accept loop answers connection N+1 with a
// bare 503 ("Server.Concurrency limit exceeded", written by
// Server.rejectConn, not by Fiber) and closes it. Freeing one connection
// lets a new one in.
func TestMaxConnsCap(t *testing.T) {
	const n = 3
	p := startServer(t, "MAX_CONNS="+strconv.Itoa(n))
	var held []*keepAliveClient
	for i := range n {
		k := &keepAliveClient{addr: p.addr}
		defer k.close()
		if o, detail := k.do("/", rootBody); o != outcomeOK {
			t.Fatalf("connection %d of %d: %v %s", i+1, n, o, detail)
		}
		held = append(held, k)
	}

	extra, err := net.DialTimeout("tcp", p.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_ = extra.SetDeadline(time.Now().Add(5 * time.Second))
	// The 503 is written on accept, before any request; send one anyway.
	_, _ = io.WriteString(extra, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(extra), nil)
	if err != nil {
		t.Fatalf("connection %d: want a 503, got %v", n+1, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("connection %d: status %d %q, want 503", n+1, resp.StatusCode, body)
	}
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Errorf("connection %d: still open after the 503", n+1)
	}
	t.Logf("MAX_CONNS=%d: connection %d got %d %q, X-Request-ID %q, then closed",
		n, n+1, resp.StatusCode, body, resp.Header.Get("X-Request-ID"))

	// The held connections still work.
	for i, k := range held {
		if o, detail := k.do("/", rootBody); o != outcomeOK {
			t.Errorf("held connection %d after the rejection: %v %s", i+1, o, detail)
		}
	}
	// Free one; a new connection is then served.
	held[0].close()
	eventually(t, 5*time.Second, "a new connection to be served after one closed", func() bool {
		k := &keepAliveClient{addr: p.addr}
		defer k.close()
		o, _ := k.do("/", rootBody)
		return o == outcomeOK
	})
}
