// Command chart draws docs/bench.svg from docs/bench-results.json: requests/s
// of the four servers at each connection count (GET /), and the arm64 build
// time cross-compiled versus emulated. The SVG is written by hand, with no
// dependencies, so it renders the same on GitHub and in any browser.
//
// Usage:
//
//	chart [-in docs/bench-results.json] [-out docs/bench.svg]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"math"
	"os"
	"sort"
	"strings"
)

type results struct {
	Meta struct {
		CPU   string `json:"cpu"`
		Cores int    `json:"cores"`
	} `json:"meta"`
	Service *struct {
		Data struct {
			Rounds   int `json:"rounds"`
			Duration int `json:"duration_s"`
			Summary  []struct {
				Server string  `json:"server"`
				Conns  int     `json:"conns"`
				Path   string  `json:"path"`
				RPS    float64 `json:"rps_median"`
				RPSMin float64 `json:"rps_min"`
				RPSMax float64 `json:"rps_max"`
			} `json:"summary"`
		} `json:"data"`
	} `json:"service"`
	Build *struct {
		Data []struct {
			Name       string  `json:"name"`
			Seconds    float64 `json:"seconds"`
			LowerBound bool    `json:"lower_bound"`
		} `json:"data"`
	} `json:"build"`
}

var (
	labels = map[string]string{
		"a": "(a) service, access log on",
		"b": "(b) service, ACCESS_LOG=false",
		"c": "(c) minimal Fiber v2",
		"d": "(d) net/http",
		"e": "(e) service, metrics and access log on",
	}
	colors  = map[string]string{"a": "#4e79a7", "b": "#59a14f", "c": "#f28e2b", "d": "#9c9c9c", "e": "#b07aa1"}
	servers = []string{"a", "b", "c", "d", "e"} // legend order
)

// legendRows is how many rows the legend takes, two entries a row.
var legendRows = (len(servers) + 1) / 2

func main() {
	in := flag.String("in", "docs/bench-results.json", "results JSON written by scripts/bench/report")
	out := flag.String("out", "docs/bench.svg", "SVG to write")
	flag.Parse()
	b, err := os.ReadFile(*in)
	if err != nil {
		fail(err)
	}
	var r results
	if err := json.Unmarshal(b, &r); err != nil {
		fail(err)
	}
	if err := os.WriteFile(*out, []byte(render(&r)), 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "chart:", err)
	os.Exit(1)
}

// niceScale picks a round tick step (1, 2, 2.5 or 5 times a power of ten)
// giving about four ticks, and the axis maximum as a whole number of steps.
func niceScale(v float64) (max, step float64, ticks int) {
	if v <= 0 {
		return 1, 0.25, 4
	}
	rough := v / 4
	p := math.Pow(10, math.Floor(math.Log10(rough)))
	step = 10 * p
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*p >= rough {
			step = m * p
			break
		}
	}
	ticks = int(math.Ceil(v / step))
	return step * float64(ticks), step, ticks
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

func render(r *results) string {
	const (
		W      = 760
		left   = 70
		right  = 20
		top1   = 60
		h1     = 230
		gap    = 80
		h2     = 90
		barH2  = 26
		legend = 20
	)
	var s strings.Builder
	height := top1 + h1 + 44 + (legendRows-1)*legend + gap - 30 + 16 + 2*(barH2+10) + 10
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif" font-size="12">`+"\n", W, height, W, height)
	fmt.Fprintf(&s, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")

	// Panel 1: requests/s, GET /, grouped by connection count.
	type bar struct {
		server        string
		rps, min, max float64
	}
	groups := map[int][]bar{}
	if r.Service != nil {
		for _, x := range r.Service.Data.Summary {
			if x.Path == "/" {
				groups[x.Conns] = append(groups[x.Conns], bar{x.Server, x.RPS, x.RPSMin, x.RPSMax})
			}
		}
	}
	var conns []int
	maxV := 0.0
	for c, bs := range groups {
		conns = append(conns, c)
		sort.Slice(bs, func(i, j int) bool { return bs[i].server < bs[j].server })
		for _, x := range bs {
			maxV = math.Max(maxV, x.max)
		}
	}
	sort.Ints(conns)
	title := "Requests/s, GET /, one server core (median"
	if r.Service != nil {
		title += fmt.Sprintf(" of %d × %d s; whiskers: min–max)", r.Service.Data.Rounds, r.Service.Data.Duration)
	} else {
		title += ")"
	}
	fmt.Fprintf(&s, `<text x="%d" y="24" font-size="15" font-weight="600">%s</text>`+"\n", left, html.EscapeString(title))
	fmt.Fprintf(&s, `<text x="%d" y="42" fill="#555">%s</text>`+"\n", left, html.EscapeString(fmt.Sprintf("%s, %d cores; higher is better", r.Meta.CPU, r.Meta.Cores)))
	plotW := float64(W - left - right)
	ymax, step, ticks := niceScale(maxV)
	for i := 0; i <= ticks; i++ {
		v := step * float64(i)
		y := float64(top1+h1) - float64(h1)*v/ymax
		fmt.Fprintf(&s, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e3e3e3"/>`+"\n", left, W-right, y, y)
		fmt.Fprintf(&s, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", left-6, y+4, human(v))
	}
	if len(conns) == 0 {
		fmt.Fprintf(&s, `<text x="%d" y="%d" fill="#999">service section not measured</text>`+"\n", left+10, top1+h1/2)
	}
	for gi, c := range conns {
		gw := plotW / float64(len(conns))
		bs := groups[c]
		bw := math.Min(60, gw*0.8/float64(len(bs)))
		x0 := float64(left) + gw*float64(gi) + (gw-bw*float64(len(bs)))/2
		for i, x := range bs {
			bh := float64(h1) * x.rps / ymax
			bx := x0 + bw*float64(i)
			by := float64(top1+h1) - bh
			fmt.Fprintf(&s, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %d conns: %.0f req/s</title></rect>`+"\n",
				bx+2, by, bw-4, bh, colors[x.server], html.EscapeString(labels[x.server]), c, x.rps)
			cx := bx + bw/2
			ylo := float64(top1+h1) - float64(h1)*x.min/ymax
			yhi := float64(top1+h1) - float64(h1)*x.max/ymax
			fmt.Fprintf(&s, `<path d="M%.1f %.1fV%.1fM%.1f %.1fh8M%.1f %.1fh8" stroke="#333" fill="none"/>`+"\n", cx, ylo, yhi, cx-4, ylo, cx-4, yhi)
			fmt.Fprintf(&s, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11">%s</text>`+"\n", cx, yhi-5, human(x.rps))
		}
		fmt.Fprintf(&s, `<text x="%.1f" y="%d" text-anchor="middle" font-weight="600">%d connections</text>`+"\n", float64(left)+gw*(float64(gi)+0.5), top1+h1+20, c)
	}
	// Legend: two entries a row.
	ly := top1 + h1 + 44
	for i, k := range servers {
		lx := float64(left) + float64(i%2)*plotW/2
		y := ly + (i/2)*legend
		fmt.Fprintf(&s, `<rect x="%.1f" y="%d" width="12" height="12" fill="%s"/><text x="%.1f" y="%d">%s</text>`+"\n", lx, y-10, colors[k], lx+16, y, html.EscapeString(labels[k]))
	}
	ly += (legendRows - 1) * legend

	// Panel 2: arm64 image build time, cross-compiled vs emulated.
	t2 := ly + gap - 30
	fmt.Fprintf(&s, `<text x="%d" y="%d" font-size="15" font-weight="600">arm64 image build from scratch, seconds (lower is better)</text>`+"\n", left, t2)
	builds := map[string]float64{}
	lower := map[string]bool{}
	if r.Build != nil {
		for _, b := range r.Build.Data {
			builds[b.Name] = b.Seconds
			lower[b.Name] = b.LowerBound
		}
	}
	rows := []struct{ name, label, color string }{
		{"cross-arm64", "cross-compiled (Dockerfile)", "#59a14f"},
		{"emulated-arm64", "emulated under QEMU (naive)", "#e15759"},
	}
	bmax := math.Max(builds["cross-arm64"], builds["emulated-arm64"])
	labelW := 190.0
	for i, row := range rows {
		y := float64(t2+16) + float64(i)*(barH2+10)
		fmt.Fprintf(&s, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", float64(left)+labelW-8, y+barH2/2+4, row.label)
		v, ok := builds[row.name]
		if !ok || bmax == 0 {
			fmt.Fprintf(&s, `<text x="%.1f" y="%.1f" fill="#999">not measured</text>`+"\n", float64(left)+labelW, y+barH2/2+4)
			continue
		}
		maxW := float64(W-right) - float64(left) - labelW - 120
		w := math.Max(2, maxW*v/bmax)
		fmt.Fprintf(&s, `<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"/>`+"\n", float64(left)+labelW, y, w, barH2, row.color)
		txt := fmt.Sprintf("%.1f s", v)
		if lower[row.name] {
			txt = "> " + txt + " (stopped)"
		}
		if row.name == "cross-arm64" && builds["emulated-arm64"] > 0 && v > 0 {
			ge := ""
			if lower["emulated-arm64"] {
				ge = "≥ "
			}
			txt += fmt.Sprintf("  (%s%.1f× faster)", ge, builds["emulated-arm64"]/v)
		}
		fmt.Fprintf(&s, `<text x="%.1f" y="%.1f">%s</text>`+"\n", float64(left)+labelW+w+6, y+barH2/2+4, html.EscapeString(txt))
	}
	s.WriteString("</svg>\n")
	return s.String()
}
