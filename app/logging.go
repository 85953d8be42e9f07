package app

import (
	"bufio"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logOutput buffers log lines so that access logging costs a write syscall
// per buffer rather than per request. A background flusher bounds how stale
// the output can get, and Close flushes what is left.
type logOutput struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

const (
	logBufferSize    = 64 << 10
	logFlushInterval = 100 * time.Millisecond
)

func newLogOutput(w io.Writer) *logOutput {
	o := &logOutput{
		buf:  bufio.NewWriterSize(w, logBufferSize),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go o.flushEvery(logFlushInterval)
	return o
}

func (o *logOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *logOutput) Flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Flush()
}

func (o *logOutput) flushEvery(d time.Duration) {
	defer close(o.done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = o.Flush()
		case <-o.stop:
			return
		}
	}
}

// Close stops the flusher and writes out everything buffered.
func (o *logOutput) Close() error {
	close(o.stop)
	<-o.done
	return o.Flush()
}

// flushedWriter writes through at once: for the few lines an operator waits
// for (startup, shutdown, errors), sharing the buffer keeps lines in order.
type flushedWriter struct{ o *logOutput }

func (f flushedWriter) Write(p []byte) (int, error) {
	f.o.mu.Lock()
	defer f.o.mu.Unlock()
	n, err := f.o.buf.Write(p)
	if err == nil {
		err = f.o.buf.Flush()
	}
	return n, err
}

// newLoggers returns the event logger (written through) and the access
// logger (buffered), the one for LOG_FORMAT. The access logger ignores
// LOG_LEVEL: ACCESS_LOG alone turns it on or off.
func newLoggers(cfg Config, out *logOutput) (*slog.Logger, accessLogger) {
	events := slog.New(newHandler(cfg.LogFormat, flushedWriter{out}, cfg.LogLevel))
	if cfg.LogFormat == "json" {
		return events, newJSONAccessLog(out, cfg.TrustedProxies)
	}
	return events, newSlogAccessLog(newHandler(cfg.LogFormat, out, slog.LevelInfo), cfg.TrustedProxies)
}

func newHandler(format string, w io.Writer, level slog.Level) slog.Handler {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.NewTextHandler(w, opts)
	}
	return slog.NewJSONHandler(w, opts)
}
