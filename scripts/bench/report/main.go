// Command report turns the raw measurements that scripts/bench/run collects
// (one JSON object per line) into docs/bench-results.json and a Markdown
// report with medians, run-to-run noise and target verdicts.
//
// Usage:
//
//	report -raw RAW.jsonl -meta META.json [-prev OLD.json] -json OUT.json -md OUT.md
//
// Sections that the raw file does not contain are carried over from -prev, so
// a partial run (--only service) keeps the image and build figures of the last
// full run; each section records when and on which command it was measured.
//
// The work is split by job: raw.go reads the raw lines, stats.go summarizes
// rounds, targets.go gives the verdicts, markdown.go writes the report. The
// result types and the list of servers are in scripts/bench/results.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/example/fiber-service/scripts/bench/results"
)

func main() {
	raw := flag.String("raw", "", "raw measurements, one JSON object per line")
	metaPath := flag.String("meta", "", "machine and command description (JSON)")
	prev := flag.String("prev", "", "previous results to carry sections over from (optional)")
	outJSON := flag.String("json", "", "write results JSON here")
	outMD := flag.String("md", "", "write the Markdown report here (it is also printed)")
	flag.Parse()
	if *raw == "" || *metaPath == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*raw, *metaPath, *prev, *outJSON, *outMD, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(rawPath, metaPath, prevPath, outJSON, outMD string, stdout io.Writer) error {
	var meta results.Meta
	b, err := os.ReadFile(metaPath)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return err
	}
	m, err := readRaw(rawPath)
	if err != nil {
		return err
	}
	var prev *results.Results
	if prevPath != "" {
		// No usable previous results (first run): nothing to carry over.
		prev, _ = results.Read(prevPath)
	}
	res := assemble(meta, m, prev)

	md := markdown(res)
	if _, err := io.WriteString(stdout, md); err != nil {
		return err
	}
	if outMD != "" {
		if err := os.WriteFile(outMD, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if outJSON != "" {
		b, err := json.MarshalIndent(res, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(outJSON, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// assemble builds the results of this run: the sections measured now,
// the others carried over from prev (nil: none), and the verdicts.
func assemble(meta results.Meta, m *measurements, prev *results.Results) *results.Results {
	res := &results.Results{Meta: meta, Servers: results.ServerNames()}
	if prev != nil {
		res.Service, res.Connections, res.Startup, res.Image, res.Build = prev.Service, prev.Connections, prev.Startup, prev.Image, prev.Build
	}
	if len(m.service) > 0 {
		res.Service = &results.Section[results.ServiceData]{Date: meta.Date, Command: meta.Command, Data: results.ServiceData{
			Rounds: meta.Rounds, Duration: meta.Duration,
			Summary: summarizeService(m.service), Memory: summarizeMem(m.memory), Runs: m.service, MemRuns: m.memory,
		}}
	}
	if len(m.connRSS) > 0 || len(m.connRuns) > 0 {
		res.Connections = &results.Section[results.ConnectionsData]{Date: meta.Date, Command: meta.Command, Data: results.ConnectionsData{
			MaxConns: maxConns(m.connRSS), Rounds: meta.Rounds, Duration: meta.Duration,
			RSS: summarizeConnRSS(m.connRSS), Throughput: summarizeConnThroughput(m.connRuns),
			RSSRuns: m.connRSS, Runs: m.connRuns,
		}}
	}
	if len(m.startup) > 0 {
		res.Startup = &results.Section[[]results.StartupRun]{Date: meta.Date, Command: meta.Command, Data: m.startup}
	}
	if len(m.image) > 0 {
		res.Image = &results.Section[[]results.ImagePlatform]{Date: meta.Date, Command: meta.Command, Data: m.image}
	}
	if len(m.build) > 0 {
		build := m.build
		// Timings not redone this time (e.g. --only emulated) are kept.
		if res.Build != nil {
			redone := map[string]bool{}
			for _, b := range build {
				redone[b.Name] = true
			}
			var kept []results.BuildRun
			for _, b := range res.Build.Data {
				if !redone[b.Name] {
					if b.Date == "" {
						b.Date = res.Build.Date
					}
					kept = append(kept, b)
				}
			}
			build = append(kept, build...)
		}
		res.Build = &results.Section[[]results.BuildRun]{Date: meta.Date, Command: meta.Command, Data: build}
	}
	// Idle RSS comes from the startup section; show it beside the load figures.
	if res.Service != nil && res.Startup != nil {
		for i, mem := range res.Service.Data.Memory {
			for _, s := range res.Startup.Data {
				if s.Server == mem.Server {
					res.Service.Data.Memory[i].IdleRSSMiB = round(float64(s.MedianIdle)/1024, 1)
				}
			}
		}
	}
	res.Targets = evaluate(res)
	return res
}

// maxConns is the MAX_CONNS the connections section measured at: the
// largest the runs name (each names the service's default).
func maxConns(runs []results.ConnRSSRun) int {
	n := 0
	for _, r := range runs {
		n = max(n, r.MaxConns)
	}
	return n
}
