package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/example/fiber-service/scripts/bench/results"
)

// Figure of a target with nothing to judge it by.
const notMeasured = "not measured"

// evaluate judges the project's performance targets on res, in report order.
func evaluate(res *results.Results) []results.Target {
	svc := indexService(res)
	ts := []results.Target{
		svc.ratioTarget("(b) ≥ 0.9× req/s of (c)", "b", "c", 0.9),
		svc.ratioTarget("(a) ≥ 0.7× req/s of (c)", "a", "c", 0.7),
		svc.beatsNetHTTP(),
	}
	ts = append(ts, startupTargets(res)...)
	ts = append(ts, imageTarget(res))
	return append(ts, buildTargets(res)...)
}

func met(b bool) *bool { return &b }

// serviceIndex finds service summary rows by server and load.
type serviceIndex struct {
	rows  map[serverLoad]*results.ServiceSummary
	loads []results.Load // every load measured, in summary order
}

func indexService(res *results.Results) serviceIndex {
	ix := serviceIndex{rows: map[serverLoad]*results.ServiceSummary{}}
	if res.Service == nil {
		return ix
	}
	seen := map[results.Load]bool{}
	for i, s := range res.Service.Data.Summary {
		l := s.Load()
		if k := (serverLoad{s.Server, l}); ix.rows[k] == nil {
			ix.rows[k] = &res.Service.Data.Summary[i]
		}
		if !seen[l] {
			seen[l] = true
			ix.loads = append(ix.loads, l)
		}
	}
	return ix
}

// pair returns the rows of servers x and y under load l; ok is false unless
// both were measured.
func (ix serviceIndex) pair(x, y string, l results.Load) (sx, sy *results.ServiceSummary, ok bool) {
	sx, sy = ix.rows[serverLoad{x, l}], ix.rows[serverLoad{y, l}]
	return sx, sy, sx != nil && sy != nil
}

func where(l results.Load) string { return fmt.Sprintf("%d conns GET %s", l.Conns, l.Path) }

// worstRatio is min over all loads of rps(x)/rps(y), with where it happened.
func (ix serviceIndex) worstRatio(x, y string) (float64, string, bool) {
	worst, at, ok := math.Inf(1), "", false
	for _, l := range ix.loads {
		sx, sy, both := ix.pair(x, y, l)
		if !both || sy.RPS == 0 {
			continue
		}
		ok = true
		if r := sx.RPS / sy.RPS; r < worst {
			worst, at = r, where(l)
		}
	}
	return worst, at, ok
}

// cpuNote compares server CPU time per request of x and y (worst case), a
// figure that holds even when the load generator is the bottleneck.
func (ix serviceIndex) cpuNote(x, y string) string {
	worst := 0.0
	for _, l := range ix.loads {
		if sx, sy, both := ix.pair(x, y, l); both && sy.CPUPerReq > 0 {
			worst = math.Max(worst, sx.CPUPerReq/sy.CPUPerReq)
		}
	}
	if worst == 0 {
		return ""
	}
	return fmt.Sprintf("; server CPU per request up to %.2f× (%s)'s", worst, y)
}

// ratioTarget: x serves at least min times y's requests/s under every load.
func (ix serviceIndex) ratioTarget(name, x, y string, min float64) results.Target {
	r, at, ok := ix.worstRatio(x, y)
	if !ok {
		return results.Target{Name: name, Figure: notMeasured}
	}
	return results.Target{Name: name, Figure: fmt.Sprintf("%.2f× (worst case: %s)%s", r, at, ix.cpuNote(x, y)), Met: met(r >= min)}
}

// beatsNetHTTP: (b) serves twice net/http's requests/s, with a p99 no worse
// under any load.
func (ix serviceIndex) beatsNetHTTP() results.Target {
	t := results.Target{Name: "(b) ≥ 2× req/s of (d), p99 no worse", Figure: notMeasured}
	r, at, ok := ix.worstRatio("b", "d")
	if !ok {
		return t
	}
	var worse []string
	for _, l := range ix.loads {
		if sb, sd, both := ix.pair("b", "d", l); both && sb.P99MS > sd.P99MS {
			worse = append(worse, fmt.Sprintf("%s: %.2f vs %.2f ms", where(l), sb.P99MS, sd.P99MS))
		}
	}
	t.Figure = fmt.Sprintf("%.2f× (worst case: %s)%s; p99 ", r, at, ix.cpuNote("b", "d"))
	if len(worse) == 0 {
		t.Figure += "no worse in every case"
	} else {
		t.Figure += "worse in " + strings.Join(worse, "; ")
	}
	t.Met = met(r >= 2 && len(worse) == 0)
	return t
}

// startupTargets: the service's idle memory and time to its first 200.
func startupTargets(res *results.Results) []results.Target {
	const rssName, startName = "idle RSS ≤ 12 MiB", "startup to first 200 ≤ 20 ms"
	var svc *results.StartupRun
	if res.Startup != nil {
		for i, s := range res.Startup.Data {
			if s.Server == "a" {
				svc = &res.Startup.Data[i]
			}
		}
	}
	if svc == nil {
		return []results.Target{{Name: rssName, Figure: notMeasured}, {Name: startName, Figure: notMeasured}}
	}
	mib := float64(svc.MedianIdle) / 1024
	return []results.Target{
		{Name: rssName, Figure: fmt.Sprintf("%.1f MiB (service, median of %d starts)", mib, svc.Runs), Met: met(mib <= 12)},
		{Name: startName, Figure: fmt.Sprintf("%.1f ms (service, median of %d starts)", svc.MedianMS, svc.Runs), Met: met(svc.MedianMS <= 20)},
	}
}

// imageTarget: every platform's image is small, packed and unpacked.
func imageTarget(res *results.Results) results.Target {
	t := results.Target{Name: "image ≤ 15 MB uncompressed and ≤ 7 MB compressed per platform", Figure: notMeasured}
	if res.Image == nil || len(res.Image.Data) == 0 {
		return t
	}
	var figs []string
	ok := true
	for _, p := range res.Image.Data {
		u := float64(p.BaseUncompressed+p.AppUncompressed) / 1e6
		c := float64(p.BaseCompressed+p.AppCompressed) / 1e6
		figs = append(figs, fmt.Sprintf("%s %.2f MB / %.2f MB", p.Platform, u, c))
		ok = ok && u <= 15 && c <= 7
	}
	t.Figure = strings.Join(figs, "; ") + " (uncompressed / compressed)"
	t.Met = met(ok)
	return t
}

// buildTargets: a fast warm rebuild, a fast build on a brand-new builder
// from the registry cache, and cross-compiling arm64 well ahead of emulating
// it.
func buildTargets(res *results.Results) []results.Target {
	builds := res.Builds()
	warm := results.Target{Name: "warm rebuild of both platforms ≤ 10 s", Figure: notMeasured}
	if b, ok := builds["warm"]; ok {
		warm.Figure, warm.Met = fmt.Sprintf("%.1f s", b.Seconds), met(b.Seconds <= 10)
	}
	cached := results.Target{Name: "both platforms on an empty builder from the registry cache ≤ 10 s", Figure: notMeasured}
	if b, ok := builds["registry-cache"]; ok {
		cached.Figure, cached.Met = fmt.Sprintf("%.1f s", b.Seconds), met(b.Seconds <= 10)
	}
	cross := results.Target{Name: "cross-compiled arm64 ≥ 10× faster than emulated", Figure: notMeasured}
	em, ok1 := builds["emulated-arm64"]
	cr, ok2 := builds["cross-arm64"]
	if ok1 && ok2 && cr.Seconds > 0 {
		r := em.Seconds / cr.Seconds
		ge, gt := "", ""
		if em.LowerBound {
			ge, gt = "≥ ", "> "
		}
		cross.Figure = fmt.Sprintf("%s%.1f× (%.1f s vs %s%.1f s)", ge, r, cr.Seconds, gt, em.Seconds)
		// A stopped emulated build below 10× says nothing either way.
		if r >= 10 || !em.LowerBound {
			cross.Met = met(r >= 10)
		}
	}
	return []results.Target{warm, cached, cross}
}
