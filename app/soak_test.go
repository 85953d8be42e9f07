package app

// Soak: bursts of load against the real binary, after which the process
// must come back to its baseline (README "Reliability and security").

import (
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var soakFor = flag.Duration("soak", 0,
	"run TestSoakBurstsReturnToBaseline for this long (e.g. -soak=30s); 0 = a short default run")

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
				o, _, detail := k.do(path, "", want)
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
//     extra one after the clients closed is a leak (or a connection still
//     open).
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
			return s.FDs <= cold.FDs
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
