package app

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label values that stand for many requests, so that no request can add a
// series of its own: a scanner trying 10,000 paths or methods adds none.
const (
	routeUnmatched = "unmatched" // no route matched, or refused before routing
	methodOther    = "_OTHER"    // a method Fiber does not know (OpenTelemetry's name for it)
)

// durationBuckets reach down to 10µs: the service answers in microseconds,
// and the default buckets (5ms and up) would put every request in the first.
var durationBuckets = []float64{
	.00001, .000025, .00005, .0001, .00025, .0005,
	.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10,
}

// httpMetrics holds the service's Prometheus metrics, in a registry of its
// own (not the global one), so that each service, and each test, has its own.
//
// Recording a request must not allocate: WithLabelValues looks the series up
// (and allocates) every time, so each (route, method) gets a slot holding
// its series, created on first use and read without locks afterwards.
type httpMetrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight atomic.Int64

	methods []string             // Fiber's methods, then methodOther
	routes  map[*fiber.Route]int // handler routes to their index in patterns
	// patterns are the route labels: every registered pattern, then routeUnmatched.
	patterns []string
	slots    []atomic.Pointer[routeSeries] // [route*len(methods)+method]
	mu       sync.Mutex                    // held while a slot is replaced
}

// routeSeries are the series of one (route, method). A slot's value is
// never changed, only replaced by a copy with one more series.
type routeSeries struct {
	duration prometheus.Observer // nil until a routed request was timed
	statuses []statusCounter
}

type statusCounter struct {
	status  int
	counter prometheus.Counter
}

func newHTTPMetrics(draining *atomic.Bool) *httpMetrics {
	m := &httpMetrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time from the request's arrival in the handler to its response being ready, by method and route pattern.",
			Buckets: durationBuckets,
		}, []string{"method", "route"}),
	}
	b := currentBuild()
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "build_info",
		Help: "Always 1; the labels say which build is running and on what architecture.",
	}, []string{"version", "commit", "goarch"})
	buildInfo.WithLabelValues(b.Version, b.Commit, runtime.GOARCH).Set(1)
	m.registry.MustRegister(
		m.requests, m.duration, buildInfo,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "Requests being handled now.",
		}, func() float64 { return float64(m.inFlight.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "http_server_draining",
			Help: "1 once SIGTERM or SIGINT arrived and the server is draining, else 0.",
		}, func() float64 {
			if draining.Load() {
				return 1
			}
			return 0
		}),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// learnRoutes takes the route table from app once every route is
// registered. uses are the middleware routes, registered before: whatever
// else is in the stack is a handler route, labelled with its pattern.
// Requests whose last matched route is a middleware one matched nothing.
func (m *httpMetrics) learnRoutes(app *fiber.App, uses map[*fiber.Route]bool) {
	m.methods = append(append([]string(nil), app.Config().RequestMethods...), methodOther)
	m.routes = map[*fiber.Route]int{}
	index := map[string]int{}
	for _, stack := range app.Stack() {
		for _, r := range stack {
			if uses[r] {
				continue
			}
			i, ok := index[r.Path]
			if !ok {
				i = len(m.patterns)
				index[r.Path] = i
				m.patterns = append(m.patterns, r.Path)
			}
			m.routes[r] = i
		}
	}
	m.patterns = append(m.patterns, routeUnmatched)
	m.slots = make([]atomic.Pointer[routeSeries], len(m.patterns)*len(m.methods))
}

// routeSet is the set of routes app has now.
func routeSet(app *fiber.App) map[*fiber.Route]bool {
	set := map[*fiber.Route]bool{}
	for _, stack := range app.Stack() {
		for _, r := range stack {
			set[r] = true
		}
	}
	return set
}

func (m *httpMetrics) methodIndex(method string) int {
	for i, known := range m.methods[:len(m.methods)-1] {
		if method == known {
			return i
		}
	}
	return len(m.methods) - 1
}

// routed records a request that went through the router: route is the
// last route that matched (Fiber's c.Route() after the handlers ran).
func (m *httpMetrics) routed(route *fiber.Route, method string, status int, took time.Duration) {
	r, ok := m.routes[route]
	if !ok {
		r = len(m.patterns) - 1
	}
	m.record(r, method, status, true, took)
}

// refused records a request answered before routing (unknown method,
// malformed or oversized request, read timeout): it counts under
// routeUnmatched, without a duration, as no handler ran.
func (m *httpMetrics) refused(method string, status int) {
	m.record(len(m.patterns)-1, method, status, false, 0)
}

func (m *httpMetrics) record(route int, method string, status int, timed bool, took time.Duration) {
	slot := &m.slots[route*len(m.methods)+m.methodIndex(method)]
	s := slot.Load()
	c := s.counterOf(status)
	if c == nil || timed && s.duration == nil {
		s = m.grow(slot, route, method, status, timed)
		c = s.counterOf(status)
	}
	c.Inc()
	if timed {
		s.duration.Observe(took.Seconds())
	}
}

func (s *routeSeries) counterOf(status int) prometheus.Counter {
	if s == nil {
		return nil
	}
	for _, sc := range s.statuses {
		if sc.status == status {
			return sc.counter
		}
	}
	return nil
}

// grow replaces the slot's series by a copy that also has the counter of
// status and, when timed, the duration histogram. It runs once per series,
// so its allocations are not the request path's.
func (m *httpMetrics) grow(slot *atomic.Pointer[routeSeries], route int, method string, status int, timed bool) *routeSeries {
	m.mu.Lock()
	defer m.mu.Unlock()
	method = m.methods[m.methodIndex(method)]
	next := &routeSeries{}
	if old := slot.Load(); old != nil {
		*next = routeSeries{duration: old.duration, statuses: append([]statusCounter(nil), old.statuses...)}
	}
	if timed && next.duration == nil {
		next.duration = m.duration.WithLabelValues(method, m.patterns[route])
	}
	if next.counterOf(status) == nil {
		next.statuses = append(next.statuses, statusCounter{status,
			m.requests.WithLabelValues(method, m.patterns[route], strconv.Itoa(status))})
	}
	slot.Store(next)
	return next
}

// handler serves the registry in the Prometheus text format.
func (m *httpMetrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	return mux
}
