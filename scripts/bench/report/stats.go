package main

import (
	"math"
	"slices"
	"sort"

	"github.com/example/fiber-service/scripts/bench/results"
)

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// cv is the coefficient of variation (sample stddev / mean) in percent.
func cv(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss/float64(len(xs)-1)) / mean * 100
}

// serverLoad names one summary row: a server under one load.
type serverLoad struct {
	server string
	load   results.Load
}

// summarizeService gives the medians over rounds of each (server, conns,
// path), ordered by path, then connections, then server.
func summarizeService(runs []results.ServiceRun) []results.ServiceSummary {
	groups := map[serverLoad][]results.ServiceRun{}
	var keys []serverLoad
	for _, r := range runs {
		k := serverLoad{r.Server, results.Load{Conns: r.Conns, Path: r.Path}}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.load.Path != b.load.Path {
			return a.load.Path < b.load.Path
		}
		if a.load.Conns != b.load.Conns {
			return a.load.Conns < b.load.Conns
		}
		return a.server < b.server
	})
	var out []results.ServiceSummary
	for _, k := range keys {
		g := groups[k]
		var rps, p50, p99, p999, cpu, cpu0, cpu1, cpr []float64
		var errs int64
		for _, r := range g {
			rps = append(rps, r.RPS)
			p50 = append(p50, float64(r.P50US)/1000)
			p99 = append(p99, float64(r.P99US)/1000)
			p999 = append(p999, float64(r.P999US)/1000)
			cpu = append(cpu, r.CPUPct)
			cpu0 = append(cpu0, r.CPU0Busy)
			cpu1 = append(cpu1, r.CPU1Busy)
			cpr = append(cpr, r.CPUPerReq)
			errs += r.Errors()
		}
		out = append(out, results.ServiceSummary{
			Server: k.server, Conns: k.load.Conns, Path: k.load.Path, Rounds: len(g),
			RPS: round(median(rps), 0), RPSMin: slices.Min(rps), RPSMax: slices.Max(rps), RPSCV: round(cv(rps), 1),
			P50MS: round(median(p50), 3), P99MS: round(median(p99), 3), P999MS: round(median(p999), 3),
			Errors: errs, CPUPct: round(median(cpu), 0), CPU0: round(median(cpu0), 0), CPU1: round(median(cpu1), 0),
			CPUPerReq: round(median(cpr), 2),
		})
	}
	return out
}

// summarizeMem gives each server's median memory over rounds, by server.
func summarizeMem(runs []results.MemRun) []results.MemSummary {
	by := map[string][]results.MemRun{}
	var servers []string
	for _, r := range runs {
		if _, ok := by[r.Server]; !ok {
			servers = append(servers, r.Server)
		}
		by[r.Server] = append(by[r.Server], r)
	}
	sort.Strings(servers)
	var out []results.MemSummary
	for _, s := range servers {
		var hwm, rss []float64
		for _, r := range by[s] {
			hwm = append(hwm, float64(r.VmHWMKiB)/1024)
			rss = append(rss, float64(r.VmRSSKiB)/1024)
		}
		out = append(out, results.MemSummary{Server: s, AfterLoadMiB: round(median(rss), 1), PeakRSSMiB: round(median(hwm), 1)})
	}
	return out
}

// summarizeConnRSS gives the median RSS over rounds of each
// (REDUCE_MEMORY_USAGE, connections held), off before on, fewest
// connections first, with what each connection adds to the RSS at 0.
func summarizeConnRSS(runs []results.ConnRSSRun) []results.ConnRSS {
	type key struct {
		reduce bool
		conns  int
	}
	groups := map[key][]float64{}
	var keys []key
	for _, r := range runs {
		k := key{r.ReduceMemoryUsage, r.Conns}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], float64(r.VmRSSKiB)/1024)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].reduce != keys[j].reduce {
			return !keys[i].reduce
		}
		return keys[i].conns < keys[j].conns
	})
	var out []results.ConnRSS
	for _, k := range keys {
		rss := groups[k]
		row := results.ConnRSS{ReduceMemoryUsage: k.reduce, Conns: k.conns, RSSMiB: round(median(rss), 1),
			RSSMinMiB: round(slices.Min(rss), 1), RSSMaxMiB: round(slices.Max(rss), 1), Rounds: len(rss)}
		if idle, ok := groups[key{k.reduce, 0}]; ok && k.conns > 0 {
			row.KiBPerConn = round((median(rss)-median(idle))*1024/float64(k.conns), 1)
		}
		out = append(out, row)
	}
	return out
}

// summarizeConnThroughput gives the medians over rounds of each
// (REDUCE_MEMORY_USAGE, connections, path), off before on.
func summarizeConnThroughput(runs []results.ConnRun) []results.ConnThroughput {
	var out []results.ConnThroughput
	for _, reduce := range []bool{false, true} {
		var same []results.ServiceRun
		for _, r := range runs {
			if r.ReduceMemoryUsage == reduce {
				same = append(same, r.ServiceRun)
			}
		}
		for _, s := range summarizeService(same) {
			out = append(out, results.ConnThroughput{ReduceMemoryUsage: reduce, Conns: s.Conns, Path: s.Path,
				RPS: s.RPS, P99MS: s.P99MS, RPSMin: s.RPSMin, RPSMax: s.RPSMax, RPSCV: s.RPSCV, P50MS: s.P50MS,
				Errors: s.Errors, CPUPerReq: s.CPUPerReq, Rounds: s.Rounds})
		}
	}
	return out
}
