package app

import (
	"bytes"
	"net/netip"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// trustedProxies are the peers (TRUSTED_PROXIES, parsed once at start)
// whose X-Forwarded-For names the client.
type trustedProxies []netip.Prefix

func (t trustedProxies) trusts(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the address the access log names as the client of c's
// request, read without allocating.
func (t trustedProxies) clientIP(c *fiber.Ctx) netip.Addr {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	return t.forwardedFor(peer.Unmap(), &c.Request().Header)
}

// forwardedFor walks X-Forwarded-For as nginx (real_ip_recursive on) and
// Envoy (xff_num_trusted_hops) do. Each proxy appends the address it got
// the request from, so only what trusted proxies appended can be believed,
// and the client chooses everything left of that:
//
//   - a peer that is not a trusted proxy is the client; its header is ignored;
//   - otherwise the header lines are walked from the last one, each line's
//     comma-separated entries right to left, and the first address that is
//     not a trusted proxy is the client;
//   - an entry that is not an IP address stops the walk: the client is then
//     the last trusted hop passed (the peer if none), never anything left of
//     it; so does running out of entries (a header of trusted proxies only
//     gives the left-most of them);
//   - empty entries are skipped (RFC 9110 §5.6.1), spaces and tabs around an
//     entry ignored; see parseForwardedAddr for the forms of an address.
//
// PeekAll returns the header section's lines in the order received (folded
// lines joined), then any in the trailer section of a chunked body, which
// the client alone writes; fasthttp refuses X-Forwarded-* as a trailer with
// a 400, so none get here (TestForwardedForHostile holds it to that).
func (t trustedProxies) forwardedFor(peer netip.Addr, h *fasthttp.RequestHeader) netip.Addr {
	if !t.trusts(peer) {
		return peer
	}
	client := peer
	lines := h.PeekAll(fiber.HeaderXForwardedFor)
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for len(rest) > 0 {
			entry := rest
			if comma := bytes.LastIndexByte(rest, ','); comma >= 0 {
				entry, rest = rest[comma+1:], rest[:comma]
			} else {
				rest = nil
			}
			entry = bytes.Trim(entry, " \t")
			if len(entry) == 0 {
				continue
			}
			a, ok := parseForwardedAddr(entry)
			if !ok {
				return client
			}
			if !t.trusts(a) {
				return a
			}
			client = a
		}
	}
	return client
}

// parseForwardedAddr reads one X-Forwarded-For entry: an IPv4 address
// (203.0.113.7) or an IPv6 one (2001:db8::1, in brackets or not), in the
// forms net/netip accepts, optionally with a port as some proxies write it
// (203.0.113.7:4711, [2001:db8::1]:4711), which is dropped. IPv4-mapped IPv6
// addresses (::ffff:203.0.113.7) are unmapped. Refused: zones (fe80::1%eth0:
// they mean something only on the proxy's host), IPv4 in brackets, a port
// after an IPv6 address without brackets (it would be part of the address),
// host names and "unknown".
func parseForwardedAddr(b []byte) (netip.Addr, bool) {
	if len(b) > 0 && b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 || !validPort(b[end+1:], true) {
			return netip.Addr{}, false
		}
		ip, ok := parseIPv6(b[1:end])
		if !ok {
			return netip.Addr{}, false
		}
		return netip.AddrFrom16(ip).Unmap(), true
	}
	if colon := bytes.IndexByte(b, ':'); colon >= 0 && bytes.IndexByte(b[colon+1:], ':') < 0 {
		// One colon: IPv4 and a port (IPv6 has at least two).
		if !validPort(b[colon:], false) {
			return netip.Addr{}, false
		}
		b = b[:colon]
	}
	if ip, ok := parseIPv4(b); ok {
		return netip.AddrFrom4(ip), true
	}
	ip, ok := parseIPv6(b)
	if !ok {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(ip).Unmap(), true
}

// validPort accepts ":" and 1 to 5 digits up to 65535, or nothing at all
// when optional.
func validPort(b []byte, optional bool) bool {
	if len(b) == 0 {
		return optional
	}
	if b[0] != ':' || len(b) < 2 || len(b) > 6 {
		return false
	}
	n := 0
	for _, c := range b[1:] {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

// parseIPv4 reads dotted decimal as netip.ParseAddr does: four fields of 1
// to 3 digits, no leading zeros, each at most 255.
func parseIPv4(b []byte) (ip [4]byte, ok bool) {
	field, digits, acc := 0, 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if digits == 1 && acc == 0 { // a leading zero
				return ip, false
			}
			acc = acc*10 + int(c-'0')
			digits++
			if acc > 255 {
				return ip, false
			}
		case c == '.' && digits > 0 && field < 3:
			ip[field] = byte(acc)
			field, digits, acc = field+1, 0, 0
		default:
			return ip, false
		}
	}
	if field != 3 || digits == 0 {
		return ip, false
	}
	ip[3] = byte(acc)
	return ip, true
}

// parseIPv6 reads an IPv6 address without a zone as netip.ParseAddr does:
// up to eight fields of 1 to 4 hex digits, one "::" for a run of zero
// fields, and optionally an IPv4 address for the last 32 bits.
func parseIPv6(b []byte) (ip [16]byte, ok bool) {
	ellipsis := -1 // where "::" stands, as an index into ip
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis = 0
		b = b[2:]
		if len(b) == 0 {
			return ip, true // "::"
		}
	}
	i := 0
	for i < 16 {
		off, acc := 0, 0
		for ; off < len(b); off++ {
			d := hexDigit(b[off])
			if d < 0 {
				break
			}
			if off == 4 {
				return ip, false
			}
			acc = acc<<4 | d
		}
		if off < len(b) && b[off] == '.' {
			// The last 32 bits as an IPv4 address, where they fit.
			if (ellipsis < 0 && i != 12) || i > 12 {
				return ip, false
			}
			v4, ok := parseIPv4(b)
			if !ok {
				return ip, false
			}
			copy(ip[i:], v4[:])
			i += 4
			b = nil
			break
		}
		if off == 0 {
			return ip, false
		}
		ip[i], ip[i+1] = byte(acc>>8), byte(acc)
		i += 2
		b = b[off:]
		if len(b) == 0 {
			break
		}
		if b[0] != ':' || len(b) == 1 {
			return ip, false
		}
		b = b[1:]
		if b[0] == ':' {
			if ellipsis >= 0 {
				return ip, false // a second "::"
			}
			ellipsis = i
			b = b[1:]
			if len(b) == 0 {
				break
			}
		}
	}
	if len(b) != 0 {
		return ip, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return ip, false
		}
		n := 16 - i
		copy(ip[ellipsis+n:], ip[ellipsis:i])
		clear(ip[ellipsis : ellipsis+n])
	} else if ellipsis >= 0 {
		return ip, false // "::" must stand for at least one field
	}
	return ip, true
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
