package app

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
)

// accessLogger writes the access line of a request once its response is
// ready. newLoggers picks the implementation for LOG_FORMAT.
type accessLogger interface {
	logRequest(c *fiber.Ctx, now time.Time)
}

// accessFields is the one list of what an access line says, in order;
// both loggers write exactly these fields.
func accessFields(f fieldWriter, c *fiber.Ctx, now time.Time, proxies trustedProxies) {
	f.str("request_id", c.GetRespHeader(fiber.HeaderXRequestID))
	f.str("method", c.Method())
	f.str("path", c.Path())
	f.int("status", int64(c.Response().StatusCode()))
	// fasthttp took the time when the request was read.
	f.duration("latency", now.Sub(c.Context().Time()))
	f.int("bytes", int64(len(c.Response().Body())))
	f.addr("client_ip", proxies.clientIP(c))
	if id := traceIDOf(&c.Request().Header); id != (traceID{}) {
		f.trace("trace_id", id)
	}
}

// fieldWriter is what accessFields writes to: one method per kind of value.
// The strings are Fiber's views of the request's bytes, valid only until
// the handler returns.
type fieldWriter interface {
	str(key, v string)
	int(key string, v int64)
	duration(key string, v time.Duration)
	addr(key string, v netip.Addr)
	trace(key string, v traceID)
}

// jsonAccessLog (LOG_FORMAT=json) appends each line straight from the
// request's bytes into a pooled buffer, in the layout of slog's JSON
// handler: through slog.Record a line cost about 2µs and three
// allocations, as much as serving the request; this costs none.
type jsonAccessLog struct {
	w       io.Writer
	proxies trustedProxies
	lines   sync.Pool // *jsonLine
}

func newJSONAccessLog(w io.Writer, proxies []netip.Prefix) *jsonAccessLog {
	return &jsonAccessLog{w: w, proxies: proxies}
}

func (l *jsonAccessLog) logRequest(c *fiber.Ctx, now time.Time) {
	line, _ := l.lines.Get().(*jsonLine)
	if line == nil {
		line = new(jsonLine)
	}
	line.b = append(line.b[:0], `{"time":"`...)
	line.b = now.AppendFormat(line.b, time.RFC3339Nano)
	line.b = append(line.b, `","level":"INFO","msg":"request"`...)
	accessFields(line, c, now, l.proxies)
	line.b = append(line.b, '}', '\n')
	_, _ = l.w.Write(line.b)
	l.lines.Put(line)
}

// jsonLine encodes values as slog's JSONHandler does.
type jsonLine struct{ b []byte }

func (l *jsonLine) key(k string) {
	l.b = append(l.b, ',', '"')
	l.b = append(l.b, k...)
	l.b = append(l.b, '"', ':')
}

func (l *jsonLine) str(k, v string) {
	l.key(k)
	l.b = appendJSONString(l.b, v)
}

func (l *jsonLine) int(k string, v int64) {
	l.key(k)
	l.b = strconv.AppendInt(l.b, v, 10)
}

// duration is in nanoseconds, as slog's JSONHandler writes it.
func (l *jsonLine) duration(k string, v time.Duration) { l.int(k, int64(v)) }

func (l *jsonLine) addr(k string, v netip.Addr) {
	l.key(k)
	l.b = append(l.b, '"')
	l.b = v.AppendTo(l.b)
	l.b = append(l.b, '"')
}

func (l *jsonLine) trace(k string, v traceID) {
	l.key(k)
	l.b = append(l.b, '"')
	l.b = v.appendHex(l.b)
	l.b = append(l.b, '"')
}

// slogAccessLog hands each line to a slog.Handler as a record (LOG_FORMAT
// other than json, and any handler a copy of this service wants).
type slogAccessLog struct {
	h       slog.Handler
	proxies trustedProxies
}

func newSlogAccessLog(h slog.Handler, proxies []netip.Prefix) *slogAccessLog {
	return &slogAccessLog{h: h, proxies: proxies}
}

func (l *slogAccessLog) logRequest(c *fiber.Ctx, now time.Time) {
	r := slog.NewRecord(now, slog.LevelInfo, "request", 0)
	var attrs slogAttrs
	accessFields(&attrs, c, now, l.proxies)
	r.AddAttrs(attrs...)
	_ = l.h.Handle(context.Background(), r)
}

// slogAttrs collects the fields as attributes. Strings are copied: a
// handler may keep the record after the request's bytes are reused.
type slogAttrs []slog.Attr

func (a *slogAttrs) str(k, v string)       { *a = append(*a, slog.String(k, strings.Clone(v))) }
func (a *slogAttrs) int(k string, v int64) { *a = append(*a, slog.Int64(k, v)) }
func (a *slogAttrs) duration(k string, v time.Duration) {
	*a = append(*a, slog.Duration(k, v))
}
func (a *slogAttrs) addr(k string, v netip.Addr) {
	s := "" // as jsonLine writes an invalid address
	if v.IsValid() {
		s = v.String()
	}
	*a = append(*a, slog.String(k, s))
}
func (a *slogAttrs) trace(k string, v traceID) {
	*a = append(*a, slog.String(k, string(v.appendHex(nil))))
}

// appendJSONString appends s as a JSON string, escaped as slog does it:
// invalid UTF-8 becomes U+FFFD, and U+2028/U+2029 are escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
