package compat

import (
	"strings"

	"github.com/valyala/fasthttp"

	"vizor/server"
)

// No API key in any log line. CompreFace carries its key in the x-api-key
// header and, for the image download link, in the path
// (/api/v1/static/{api_key}/images/{id}); its error messages quote the key
// back to the client. The request log shows a key as server.KeyID (a hash
// prefix, as the XML API logs its keys), the path with key segments
// replaced, and the detail with the key replaced.

// keyParam is the path parameter that holds an API key.
const keyParam = "api_key"

// requestSecret returns the request's API key (the x-api-key header, else
// an {api_key} path segment of the matched route r; "" when none) and the
// request path as it may be logged.
func requestSecret(ctx *fasthttp.RequestCtx, r *route, ps Params) (secret, path string) {
	secret = strings.TrimSpace(string(ctx.Request.Header.Peek("x-api-key")))
	raw := string(ctx.URI().PathOriginal())
	segs := strings.Split(raw, "/")
	if r != nil {
		if k := ps[keyParam]; k != "" && secret == "" {
			secret = k
		}
		// Segments of a matched route line up with its pattern's (split
		// drops the leading and a trailing slash).
		i := 0
		for j, sg := range segs {
			if sg == "" {
				continue
			}
			if i < len(r.segs) && r.segs[i] == "{"+keyParam+"}" {
				segs[j] = keyLabel(ps[keyParam])
			}
			i++
		}
		return secret, strings.Join(segs, "/")
	}
	// No route: a mistyped key link can still carry a key. Segments shaped
	// like a CompreFace key (a UUID) or equal to the header's are hidden.
	for j, sg := range segs {
		if IsKeyShaped(sg) || (secret != "" && sg == secret) {
			segs[j] = "[redacted]"
		}
	}
	return secret, strings.Join(segs, "/")
}

func keyLabel(k string) string { return "[key:" + server.KeyID(k) + "]" }

// redact replaces the key in a log detail by its key id. Keys shorter than
// 4 characters are left (replacing them would garble the detail, and they
// protect nothing).
func redact(detail, secret string) string {
	if len(secret) < 4 {
		return detail
	}
	return strings.ReplaceAll(detail, secret, keyLabel(secret))
}

// IsKeyShaped reports whether s looks like a UUID (8-4-4-4-12 hex digits,
// the form of CompreFace keys and image ids).
func IsKeyShaped(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
