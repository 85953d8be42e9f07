package app

// A server process under test (the binary built by TestMain), its log
// lines, and the kernel's view of it in /proc.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a running server process.
type proc struct {
	t     testing.TB
	cmd   *exec.Cmd
	addr  string // host:port it listens on, from its "listening" log line
	done  chan struct{}
	err   error // from Wait, valid after done
	mu    sync.Mutex
	lines []string // stdout (log lines) so far
}

// startServer runs the binary on a free port of 127.0.0.1 with env added
// (KEY=VALUE) and waits until it logs that it is listening.
func startServer(t testing.TB, env ...string) *proc {
	t.Helper()
	p := startProc(t, append([]string{"PORT=0", "HOST=127.0.0.1"}, env...)...)
	var rec logRecord
	select {
	case rec = <-p.waitFor(func(r logRecord) bool { return r.msg() == "listening" }):
	case <-p.done:
		t.Fatalf("server exited before listening: %v\nlogs:\n%s", p.err, p.logs())
	case <-time.After(10 * time.Second):
		t.Fatalf("server did not log 'listening' within 10s\nlogs:\n%s", p.logs())
	}
	p.addr = rec.str("addr")
	return p
}

// startProc runs the binary with env added and returns at once. The test's
// cleanup ends it if it is still running: SIGTERM, then SIGINT (exit at
// once), so that it still writes its coverage counters; SIGKILL only if
// that fails.
func startProc(t testing.TB, env ...string) *proc {
	t.Helper()
	cmd := serverCmd(env)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) logs() string { return strings.Join(p.logLines(), "\n") }

// logLines returns the stdout lines seen so far.
func (p *proc) logLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// records returns the JSON log lines seen so far, in order.
func (p *proc) records() []logRecord {
	var out []logRecord
	for _, l := range p.logLines() {
		if r, ok := parseJSONLog(l); ok {
			out = append(out, r)
		}
	}
	return out
}

// waitFor delivers the first JSON log line that matches, once it appears.
func (p *proc) waitFor(match func(logRecord) bool) <-chan logRecord {
	found := make(chan logRecord, 1)
	go func() {
		next := 0 // lines before it are checked
		for {
			exited := false
			select {
			case <-p.done: // every line is read once the process has exited
				exited = true
			default:
			}
			p.mu.Lock()
			lines := append([]string(nil), p.lines[next:]...)
			p.mu.Unlock()
			for _, l := range lines {
				if r, ok := parseJSONLog(l); ok && match(r) {
					found <- r
					return
				}
			}
			next += len(lines)
			if exited {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return found
}

// waitLog waits up to d for a JSON log line that matches.
func (p *proc) waitLog(d time.Duration, what string, match func(logRecord) bool) logRecord {
	p.t.Helper()
	select {
	case r := <-p.waitFor(match):
		return r
	case <-time.After(d):
		p.t.Fatalf("no log line %s within %v\nlogs:\n%s", what, d, p.logs())
		return nil
	}
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// wait returns the exit code, failing the test if the process does not
// exit within d.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("server did not exit within %v\nlogs:\n%s", d, p.logs())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		p.t.Fatal(p.err)
	}
	return 0
}

// logRecord is one JSON log line.
type logRecord map[string]any

func parseJSONLog(line string) (logRecord, bool) {
	var r logRecord
	if json.Unmarshal([]byte(line), &r) != nil {
		return nil, false
	}
	return r, true
}

func (r logRecord) str(key string) string { s, _ := r[key].(string); return s }
func (r logRecord) msg() string           { return r.str("msg") }

// num returns a number field (JSON numbers decode as float64).
func (r logRecord) num(key string) (float64, bool) { n, ok := r[key].(float64); return n, ok }

// freePort returns a port of 127.0.0.1 that was free a moment ago, for the
// few tests that cannot learn the port from the "listening" log line.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// eventually polls cond every few milliseconds until it is true or the
// deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// procSnapshot is what the kernel says about the server process.
type procSnapshot struct {
	RSSKiB int // VmRSS
	FDs    int // entries in /proc/PID/fd: the listener, stdio, and one per connection
}

func (s procSnapshot) String() string {
	return fmt.Sprintf("rss=%.1fMiB fds=%d", float64(s.RSSKiB)/1024, s.FDs)
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
	return s
}

// raiseFDLimit makes sure this process (and the server it starts, which
// inherits the limit) may hold n descriptors, raising the hard limit too
// when it is lower (which takes CAP_SYS_RESOURCE: root usually has it,
// though not in every sandbox), or ends the test as unavailable.
func raiseFDLimit(t testing.TB, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// Set it even when the current value suffices: Go raises its own soft
	// limit at startup but gives children the original one unless the
	// program called Setrlimit itself.
	want := syscall.Rlimit{Cur: max(lim.Cur, n), Max: max(lim.Max, n)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		unavailable(t, "RLIMIT_NOFILE: %d descriptors needed, the limits are %d (soft) and %d (hard), and raising them failed: %v (raising the hard limit takes CAP_SYS_RESOURCE)",
			n, lim.Cur, lim.Max, err)
	}
}

// unavailable ends a test that cannot have what it needs from the machine:
// a failure when CI is set, where every test must run; elsewhere a skip
// with the reason (which scripts/test reports, and refuses under CI).
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and this test cannot run: "+format, args...)
	}
	t.Skipf(format, args...)
}
