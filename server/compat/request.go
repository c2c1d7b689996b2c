package compat

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"
)

// WriteJSON writes v as a JSON response.
func WriteJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = fasthttp.StatusInternalServerError, []byte(`{"message":"internal error"}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// Query parses the request's query string. known names the parameters the
// endpoint accepts: a '?' inside the query followed by one of them is read
// as a separator, because some clients (CompreFace's JavaScript SDK among
// them) append a second "?name=value" instead of "&name=value".
func Query(ctx *fasthttp.RequestCtx, known ...string) url.Values {
	raw := string(ctx.URI().QueryString())
	out := url.Values{}
	for _, part := range strings.Split(raw, "&") {
		for _, p := range splitStrayQ(part, known) {
			if p == "" {
				continue
			}
			k, v, _ := strings.Cut(p, "=")
			k, err1 := url.QueryUnescape(k)
			v, err2 := url.QueryUnescape(v)
			if err1 != nil || err2 != nil {
				continue
			}
			out.Add(k, v)
		}
	}
	return out
}

func splitStrayQ(part string, known []string) []string {
	var out []string
	for {
		i := strings.Index(part, "?")
		if i < 0 {
			break
		}
		rest := part[i+1:]
		name, _, ok := strings.Cut(rest, "=")
		isKnown := false
		for _, k := range known {
			if ok && name == k {
				isKnown = true
				break
			}
		}
		if !isKnown {
			break
		}
		out = append(out, part[:i])
		part = rest
	}
	return append(out, part)
}

// Upload is one image taken from a request.
type Upload struct {
	Data     []byte
	Filename string // multipart file name; "" for base64
}

// Errors of the request readers.
var (
	ErrMissing  = errors.New("missing")
	ErrTooLarge = errors.New("too large")
	ErrBase64   = errors.New("not base64")
)

// IsJSON reports whether the request body is JSON.
func IsJSON(ctx *fasthttp.RequestCtx) bool {
	ct := strings.ToLower(string(ctx.Request.Header.ContentType()))
	return strings.HasPrefix(ct, "application/json") || strings.HasSuffix(strings.SplitN(ct, ";", 2)[0], "+json")
}

// IsMultipart reports whether the request body is multipart/form-data.
func IsMultipart(ctx *fasthttp.RequestCtx) bool {
	return strings.HasPrefix(strings.ToLower(string(ctx.Request.Header.ContentType())), "multipart/form-data")
}

// FormFile reads a multipart file field (falling back to a base64 text
// field of that name). ErrMissing when absent, ErrTooLarge beyond limit bytes.
func FormFile(ctx *fasthttp.RequestCtx, field string, limit int) (Upload, error) {
	form, err := ctx.MultipartForm()
	if err != nil {
		return Upload{}, fmt.Errorf("%w: multipart form: %v", ErrMissing, err)
	}
	if fhs := form.File[field]; len(fhs) > 0 {
		return readPart(fhs[0], limit)
	}
	if vs := form.Value[field]; len(vs) > 0 && vs[0] != "" {
		b, err := DecodeBase64(vs[0])
		if err != nil {
			return Upload{}, ErrBase64
		}
		if len(b) > limit {
			return Upload{}, ErrTooLarge
		}
		return Upload{Data: b}, nil
	}
	return Upload{}, ErrMissing
}

// FormValue reads a multipart text field.
func FormValue(ctx *fasthttp.RequestCtx, field string) (string, bool) {
	form, err := ctx.MultipartForm()
	if err != nil {
		return "", false
	}
	if vs := form.Value[field]; len(vs) > 0 {
		return vs[0], true
	}
	return "", false
}

func readPart(fh *multipart.FileHeader, limit int) (Upload, error) {
	if fh.Size > int64(limit) {
		return Upload{}, ErrTooLarge
	}
	f, err := fh.Open()
	if err != nil {
		return Upload{}, fmt.Errorf("%w: %v", ErrMissing, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return Upload{}, fmt.Errorf("%w: %v", ErrMissing, err)
	}
	if len(b) > limit {
		return Upload{}, ErrTooLarge
	}
	return Upload{Data: b, Filename: fh.Filename}, nil
}

// Base64Field decodes a base64 image string.
func Base64Field(s string, limit int) (Upload, error) {
	if strings.TrimSpace(s) == "" {
		return Upload{}, ErrMissing
	}
	if len(s) > limit/3*4+64 {
		return Upload{}, ErrTooLarge
	}
	b, err := DecodeBase64(s)
	if err != nil || len(b) == 0 {
		return Upload{}, ErrBase64
	}
	if len(b) > limit {
		return Upload{}, ErrTooLarge
	}
	return Upload{Data: b}, nil
}
