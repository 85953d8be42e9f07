package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// service is the Fiber app plus the state that shutdown changes.
type service struct {
	app      *fiber.App
	draining *atomic.Bool
	metrics  *httpMetrics // nil when METRICS_ADDR is empty
}

// newService builds the app; every fasthttp/Fiber knob we rely on is set
// here. access writes the access lines when ACCESS_LOG is on.
func newService(cfg Config, events *slog.Logger, access accessLogger) *service {
	draining := new(atomic.Bool)
	var metrics *httpMetrics
	if cfg.MetricsAddr != "" {
		metrics = newHTTPMetrics(draining)
	}
	if !cfg.AccessLog {
		access = nil
	}
	ids := newRequestIDs()
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true, // we log one JSON line instead
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		BodyLimit:             cfg.BodyLimit,
		ReadBufferSize:        cfg.ReadBufferSize,
		Concurrency:           cfg.MaxConns,
		// Each connection's buffers go back to a pool while it waits for a
		// request: idle keep-alive connections then cost a few KiB, not 17.
		ReduceMemoryUsage: cfg.ReduceMemoryUsage,
		// c.IP() stays the peer (no ProxyHeader): Fiber's reading of
		// X-Forwarded-For takes the client's own left-most entry; the access
		// log's client_ip is trustedProxies.clientIP's. With the check on,
		// c.Protocol() and c.Hostname() believe X-Forwarded-Proto and -Host
		// only from TRUSTED_PROXIES, not from anyone.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          prefixStrings(cfg.TrustedProxies),
		EnableIPValidation:      true,
		ErrorHandler:            errorHandler(ids, metrics, events),
	})
	srv := app.Server()
	srv.CloseOnShutdown = true // in-flight keep-alive responses say Connection: close
	srv.Logger = fasthttpLogger{events}
	srv.Handler = answerUnknownMethods(app, srv.Handler)

	app.Use(ids.middleware(draining))
	if metrics != nil || access != nil {
		app.Use(observe(metrics, access))
	}
	app.Use(recoverPanics(events))

	uses := routeSet(app)
	h := &handlers{draining: draining, versionBody: currentBuild().JSON(), log: events}
	registerRoutes(app, routes(h, cfg.DebugRoutes))
	if metrics != nil {
		metrics.learnRoutes(app, uses)
	}
	return &service{app: app, draining: draining, metrics: metrics}
}

func prefixStrings(ps []netip.Prefix) []string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return s
}

// errorHandler answers every error, from handlers and from fasthttp's
// parser alike, with a JSON body. It never echoes request data back.
// A request that fails before the middleware ran (fasthttp could not read
// it, or its method is unknown) is counted here, as refused.
func errorHandler(ids *requestIDs, metrics *httpMetrics, log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		code := fiber.StatusInternalServerError
		var fe *fiber.Error
		if errors.As(err, &fe) {
			code = fe.Code
		} else {
			log.Error("request failed", "err", err, "request_id", requestIDOf(c), "path", c.Path())
		}
		refused := len(c.Response().Header.Peek(fiber.HeaderXRequestID)) == 0
		if refused {
			ids.set(c)
		}
		body := fmt.Appendf(nil, `{"status":%d,"error":%q,"request_id":%q}`,
			code, http.StatusText(code), requestIDOf(c))
		err = sendJSON(c, code, body)
		if refused && metrics != nil {
			metrics.refused(c.Method(), code)
		}
		return err
	}
}

// answerUnknownMethods wraps Fiber's handler: Fiber answers a method it does
// not know (PROPFIND, lowercase get) with a bare text 400 before any
// middleware runs. RFC 9110 asks for 501, and we want our JSON and
// X-Request-ID on every answer.
func answerUnknownMethods(app *fiber.App, next fasthttp.RequestHandler) fasthttp.RequestHandler {
	known := app.Config().RequestMethods // the list Fiber's own check uses
	return func(ctx *fasthttp.RequestCtx) {
		for _, m := range known {
			if string(ctx.Method()) == m {
				next(ctx)
				return
			}
		}
		c := app.AcquireCtx(ctx)
		defer app.ReleaseCtx(c)
		if err := app.ErrorHandler(c, fiber.ErrNotImplemented); err != nil {
			ctx.Error("Not Implemented", fiber.StatusNotImplemented)
		}
	}
}

// fasthttpLogger routes fasthttp's own messages (mostly client errors such
// as timeouts and resets) to slog at debug level, where they belong.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "source", "fasthttp")
}

// serve listens, serves until SIGTERM or SIGINT, then drains: /readyz and
// /health turn 503, the listener closes after SHUTDOWN_DELAY, and requests
// in flight get SHUTDOWN_TIMEOUT to finish. A second signal exits at once.
// /metrics, on METRICS_ADDR, answers until the process exits.
func serve(cfg Config, events *slog.Logger, access accessLogger) int {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)

	// Our own listener: Fiber's default network is tcp4, and we want IPv6 too.
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		events.Error("cannot listen", "err", err)
		return 1
	}
	svc := newService(cfg, events, access)
	b := currentBuild()
	started := []any{"addr", ln.Addr().String(), "version", b.Version, "commit", b.Commit,
		"go", b.GoVersion, "os", b.OS, "arch", b.Arch, "pid", os.Getpid()}
	var metricsFailed <-chan error // stays nil (never ready) without metrics
	if svc.metrics != nil {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			events.Error("cannot listen for metrics", "err", err)
			return 1
		}
		var metricsSrv *http.Server
		metricsSrv, metricsFailed = serveMetrics(mln, svc.metrics, cfg, events)
		defer metricsSrv.Close()
		started = append(started, "metrics_addr", mln.Addr().String())
	}
	events.Info("listening", started...)
	if cfg.DebugRoutes {
		events.Warn("debug routes are on: /debug/sleep and /debug/panic")
	}

	served := make(chan error, 1)
	go func() { served <- svc.app.Listener(ln) }()

	var sig os.Signal
	select {
	case err := <-served:
		events.Error("server stopped", "err", err)
		return 1
	case err := <-metricsFailed:
		events.Error("metrics server stopped", "err", err)
		return 1
	case sig = <-signals:
	}

	start := time.Now()
	svc.draining.Store(true)
	events.Info("shutting down", "signal", sig.String(), "delay", cfg.ShutdownDelay.String(),
		"timeout", cfg.ShutdownTimeout.String())

	// fasthttp's Serve returns as soon as the listener closes, before busy
	// handlers finish, so the wait happens here, on Shutdown itself.
	drained := make(chan error, 1)
	go func() {
		time.Sleep(cfg.ShutdownDelay)
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		drained <- svc.app.ShutdownWithContext(ctx)
	}()

	select {
	case err := <-drained:
		if err != nil {
			events.Error("shutdown timed out; open connections were dropped", "err", err,
				"after", time.Since(start).String())
			return 1
		}
		events.Info("stopped", "after", time.Since(start).String())
		return 0
	case sig = <-signals:
		events.Warn("second signal, exiting now", "signal", sig.String())
		if s, ok := sig.(syscall.Signal); ok {
			return 128 + int(s)
		}
		return 1
	}
}

// serveMetrics serves /metrics on ln with net/http, apart from Fiber: its
// connections do not count against MAX_CONNS, and draining does not close
// it, so Prometheus still sees a saturated or draining server. The service's
// timeouts apply here too: a second port is no way around them.
func serveMetrics(ln net.Listener, m *httpMetrics, cfg Config, events *slog.Logger) (*http.Server, <-chan error) {
	srv := &http.Server{
		Handler:      m.handler(),
		ReadTimeout:  cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout,
		IdleTimeout:  cfg.IdleTimeout,
		ErrorLog:     slog.NewLogLogger(events.Handler(), slog.LevelDebug),
	}
	failed := make(chan error, 1)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			failed <- err
		}
	}()
	return srv, failed
}
