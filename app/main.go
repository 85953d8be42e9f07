// Package app is the web service: configuration, routes, middleware and the
// process lifecycle. The program in cmd/server only calls Main.
package app

import (
	"fmt"
	"io"
)

const usage = `Usage: server [command]

Commands:
  (none)       serve HTTP until SIGTERM or SIGINT
  healthcheck  GET http://HOST:PORT/livez (127.0.0.1 when HOST is empty,
               0.0.0.0 or ::) within 2s; exit 0 if healthy, 1 if not, a bad
               environment included (for a container HEALTHCHECK: no curl)
  version      print version, commit, build time, Go version and platform
  help         print this help

Environment (unset or empty takes the default):
`

// Main runs the program and returns its exit code: 0 success, 1 failure,
// 2 bad usage or configuration; healthcheck exits 0 or 1 only.
func Main(args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "help", "-h", "-help", "--help":
		printUsage(stdout)
		return 0
	case "version":
		b := currentBuild()
		fmt.Fprintf(stdout, "%s commit=%s built=%s %s %s/%s\n",
			b.Version, b.Commit, b.BuildTime, b.GoVersion, b.OS, b.Arch)
		return 0
	case "healthcheck":
		return healthcheck(args[1:], lookupEnv, stderr)
	case "":
	default:
		fmt.Fprintf(stderr, "server: unknown command %q\n\n", cmd)
		printUsage(stderr)
		return 2
	}
	if len(args) > 1 {
		fmt.Fprintf(stderr, "server: unexpected argument %q\n", args[1])
		return 2
	}

	cfg, err := loadConfig(lookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "server: %v\n", err)
		return 2
	}

	out := newLogOutput(stdout)
	defer out.Close()
	events, access := newLoggers(cfg, out)
	return serve(cfg, events, access)
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	printSettings(w)
}
