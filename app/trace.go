package app

import (
	"bytes"
	"encoding/hex"

	"github.com/valyala/fasthttp"
)

// traceID is a W3C trace ID: 16 bytes, logged as 32 lowercase hex digits.
// The zero value means none (an all-zero ID is invalid in both formats).
type traceID [16]byte

// Trace headers: W3C Trace Context (OpenTelemetry, most proxies and
// meshes) and AWS X-Ray's (ALB adds it to every request it forwards).
const (
	headerTraceparent = "traceparent"
	headerAmznTraceID = "X-Amzn-Trace-Id"
)

// traceIDOf returns the trace the request belongs to, without allocating:
// the trace-id of a valid traceparent, else the Root of a valid
// X-Amzn-Trace-Id, else none. traceparent wins because it is the caller's
// own context; ALB makes up an X-Amzn-Trace-Id Root for every request that
// comes without one. Invalid values are ignored, never copied.
func traceIDOf(h *fasthttp.RequestHeader) traceID {
	if id, ok := parseTraceparent(h.Peek(headerTraceparent)); ok {
		return id
	}
	if id, ok := parseAmznTraceID(h.Peek(headerAmznTraceID)); ok {
		return id
	}
	return traceID{}
}

// parseTraceparent accepts version 00 exactly:
// 00-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>, lowercase, with
// neither ID all zeros (https://www.w3.org/TR/trace-context/#traceparent-header).
func parseTraceparent(v []byte) (traceID, bool) {
	if len(v) != 55 || string(v[:3]) != "00-" || v[35] != '-' || v[52] != '-' ||
		!isLowerHex(v[3:35]) || !isLowerHex(v[36:52]) || !isLowerHex(v[53:55]) ||
		allZeroHex(v[36:52]) {
		return traceID{}, false
	}
	var id traceID
	_, _ = hex.Decode(id[:], v[3:35])
	return id, id != traceID{}
}

// parseAmznTraceID finds Root=1-<8 hex>-<24 hex> among the ;-separated
// fields (Root, Self, Parent, Sampled, …) and returns it as a W3C trace
// ID: X-Ray's IDs are the same 16 bytes, time first
// (https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader).
func parseAmznTraceID(v []byte) (traceID, bool) {
	for len(v) > 0 {
		field := v
		if i := bytes.IndexByte(v, ';'); i >= 0 {
			field, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		root, ok := bytes.CutPrefix(bytes.TrimSpace(field), []byte("Root="))
		if !ok {
			continue
		}
		if len(root) != 35 || string(root[:2]) != "1-" || root[10] != '-' ||
			!isHex(root[2:10]) || !isHex(root[11:35]) {
			return traceID{}, false
		}
		var id traceID
		_, _ = hex.Decode(id[:4], root[2:10])
		_, _ = hex.Decode(id[4:], root[11:35])
		return id, id != traceID{}
	}
	return traceID{}, false
}

func isLowerHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func allZeroHex(b []byte) bool {
	for _, c := range b {
		if c != '0' {
			return false
		}
	}
	return true
}

// appendHex appends the ID as 32 lowercase hex digits.
func (id traceID) appendHex(b []byte) []byte {
	return hex.AppendEncode(b, id[:])
}
