//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The private dockerd runs in a network namespace of its own (see
// scripts/lib/dockerd.sh): its bridge, its iptables rules and the ports it
// publishes on 127.0.0.1 live there, so nothing of the host's network (its
// routes, its firewall, a system Docker's bridge) can break it or be changed
// by it. Two relays join that namespace's loopback to the host's: dockerd
// reaches the shared registry at the same 127.0.0.1:PORT it has on the host,
// and a port a container publishes is offered on the host's 127.0.0.1 too.

// inNetns runs f on an OS thread that has entered the network namespace at
// path; a socket that f creates stays in that namespace for its lifetime.
func inNetns(path string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine instead of going
		// back to the scheduler in the other namespace.
		runtime.LockOSThread()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// dialNetns connects to addr (host:port) inside the network namespace at path.
func dialNetns(path, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(path, func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 5*time.Second)
		return err
	})
	return c, err
}

// relay accepts connections on ln until it is closed and joins each to one
// from dial, in both directions, passing half-closes on as docker-proxy does.
func relay(ln net.Listener, dial func() (net.Conn, error)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			u, err := dial()
			if err != nil {
				return
			}
			defer u.Close()
			done := make(chan struct{})
			go func() {
				io.Copy(u, c)
				u.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			io.Copy(c, u)
			c.(*net.TCPConn).CloseWrite()
			<-done
		}()
	}
}

// relayRegistry lets dockerd, inside its namespace, reach the shared registry
// at the address it has on the host. Returns a function that stops it.
func relayRegistry(netns, addr string) (func(), error) {
	var ln net.Listener
	err := inNetns(netns, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("registry relay into %s: %w", netns, err)
	}
	go relay(ln, func() (net.Conn, error) { return net.Dial("tcp", addr) })
	return func() { ln.Close() }, nil
}

// publish offers a port that a container publishes on 127.0.0.1 inside
// dockerd's namespace on the host's 127.0.0.1 (the same port, which
// freePort chose free on the host), as a client on the Docker host sees it;
// returns its base URL.
func publish(t *testing.T, port string) string {
	t.Helper()
	addr := "127.0.0.1:" + port
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("publish %s on the host: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go relay(ln, func() (net.Conn, error) { return dialNetns(env.netns, addr) })
	return "http://" + addr
}

// relayInto offers addr of the network namespace at netns (such as a runc
// container's /proc/PID/ns/net) on a free port of the host's 127.0.0.1;
// returns its base URL.
func relayInto(t *testing.T, netns, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go relay(ln, func() (net.Conn, error) { return dialNetns(netns, addr) })
	return "http://" + ln.Addr().String()
}

// waitServing waits until the container name answers /livez at base; if it
// does not, the failure says what the container's network looks like.
func waitServing(t *testing.T, name, base string, limit time.Duration) {
	t.Helper()
	err := poll(limit, func() error {
		_, _, err := get(base + "/livez")
		return err
	})
	if err != nil {
		t.Fatalf("container %s does not answer at %s within %s: %v\n%s", name, base, limit, err, dockerNetReport(name))
	}
}

// dockerNetReport gathers what explains an unreachable container: its state
// and addresses, the namespace's links, routes and neighbours, a direct
// connection to the container from inside the namespace, and dockerd's log.
func dockerNetReport(name string) string {
	var b strings.Builder
	show := func(title string, args []string, vars []string) {
		out, err := runEnv(vars, args[0], args[1:]...)
		fmt.Fprintf(&b, "--- %s\n%s", title, out)
		if err != nil {
			fmt.Fprintf(&b, "(%v)", err)
		}
		b.WriteString("\n")
	}
	show("container", []string{"docker", "inspect", "--format",
		"{{.State.Status}} exit={{.State.ExitCode}} health={{if .State.Health}}{{.State.Health.Status}}{{end}} networks={{json .NetworkSettings.Networks}} ports={{json .NetworkSettings.Ports}}", name}, env.dockerEnv)
	ns := strings.TrimPrefix(env.netns, "/run/netns/")
	for _, what := range []string{"addr", "route", "neigh"} {
		show("ip "+what+" in "+ns, []string{"ip", "-n", ns, what}, nil)
	}
	ip, _ := runEnv(env.dockerEnv, "docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name)
	if ip = strings.TrimSpace(ip); ip != "" {
		c, err := dialNetns(env.netns, net.JoinHostPort(ip, "8080"))
		if err == nil {
			c.Close()
		}
		fmt.Fprintf(&b, "--- connect to %s:8080 inside the namespace: %v\n", ip, err)
	}
	show("container log", []string{"docker", "logs", "--tail", "5", name}, env.dockerEnv)
	show("dockerd log", []string{"tail", "-n", "15", env.dockerd + "/dockerd.log"}, nil)
	return b.String()
}
