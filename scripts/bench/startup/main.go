// Command startup measures how long a server takes from exec to its first
// HTTP 200 on a health path, and how much memory it holds when idle.
//
// Usage:
//
//	startup [-n 20] [-port 18090] [-path /health] [-cpu 0] [-idle 300ms] [-timeout 10s] -- CMD [ARGS...]
//
// Each start forks CMD (pinned to -cpu when it is >= 0) with PORT set, polls
// 127.0.0.1:PORT with a raw HTTP/1.1 request in a tight loop until a 200
// arrives, records the elapsed time, reads VmRSS from /proc/PID/status after a
// short idle pause, then stops the process with SIGTERM (SIGKILL after 5 s).
//
// It prints one JSON object on stdout (the times, the idle RSS figures and
// their medians), which scripts/bench/run tags with the server and appends to
// its raw measurements.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/example/fiber-service/scripts/bench/results"
	"golang.org/x/sys/unix"
)

func main() {
	n := flag.Int("n", 20, "number of starts")
	port := flag.Int("port", 18090, "TCP port given to the server in PORT")
	path := flag.String("path", "/health", "path polled until it answers 200")
	cpu := flag.Int("cpu", 0, "CPU to pin the server to (-1: no pinning)")
	idle := flag.Duration("idle", 300*time.Millisecond, "pause after the first 200 before reading VmRSS")
	timeout := flag.Duration("timeout", 10*time.Second, "give up on one start after this long")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [flags] -- CMD [ARGS...]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	res := results.StartupRun{Runs: *n}
	for i := 0; i < *n; i++ {
		d, rss, err := once(flag.Args(), *port, *path, *cpu, *idle, *timeout)
		if err != nil {
			fmt.Fprintf(os.Stderr, "startup: run %d: %v\n", i+1, err)
			os.Exit(1)
		}
		res.StartupMS = append(res.StartupMS, float64(d.Microseconds())/1000)
		res.IdleRSSKiB = append(res.IdleRSSKiB, rss)
	}
	s := slices.Clone(res.StartupMS)
	slices.Sort(s)
	res.MinMS, res.MaxMS = s[0], s[len(s)-1]
	res.MedianMS = medianF(s)
	r := slices.Clone(res.IdleRSSKiB)
	slices.Sort(r)
	res.MedianIdle = r[len(r)/2]
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(res); err != nil {
		os.Exit(1)
	}
}

func medianF(s []float64) float64 {
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// start forks CMD with PORT set. To pin it to cpu (unless cpu < 0) from its
// first instruction, the fork happens on an OS thread pinned there, whose
// child inherits the mask; the thread gets its own mask back afterwards, so
// the probe stays where the caller put it (taskset).
func start(args []string, port, cpu int) (*exec.Cmd, time.Time, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = nil, nil // /dev/null
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if cpu >= 0 {
		var own, pinned unix.CPUSet
		if err := unix.SchedGetaffinity(0, &own); err != nil {
			return nil, time.Time{}, fmt.Errorf("sched_getaffinity: %w", err)
		}
		pinned.Set(cpu)
		if err := unix.SchedSetaffinity(0, &pinned); err != nil {
			return nil, time.Time{}, fmt.Errorf("sched_setaffinity to CPU %d: %w", cpu, err)
		}
		defer func() { _ = unix.SchedSetaffinity(0, &own) }()
	}
	t0 := time.Now()
	err := cmd.Start()
	return cmd, t0, err
}

func once(args []string, port int, path string, cpu int, idle, timeout time.Duration) (time.Duration, int64, error) {
	cmd, t0, err := start(args, port, cpu)
	if err != nil {
		return 0, 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := t0.Add(timeout)
	var elapsed time.Duration
	for {
		select {
		case err := <-exited:
			return 0, 0, fmt.Errorf("server exited before answering: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return 0, 0, errors.New("timed out waiting for 200")
		}
		if ok := probe(addr, req); ok {
			elapsed = time.Since(t0)
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	time.Sleep(idle)
	rss, err := vmRSS(cmd.Process.Pid)
	return elapsed, rss, err
}

func probe(addr string, req []byte) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write(req); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadSlice('\n')
	if err != nil {
		return false
	}
	return bytes.HasPrefix(line, []byte("HTTP/1.1 200 "))
}

func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}
