package openapitest

import (
	"bytes"
	"io"
	"net/http"
)

// Tamper is a RoundTripper that changes a real server's answer on its way
// to the validator: the tests that prove a wrong answer fails validation
// put it under a Transport.
type Tamper struct {
	Base http.RoundTripper // nil: http.DefaultTransport
	Edit func([]byte) []byte
}

// RoundTrip implements http.RoundTripper.
func (tp Tamper) RoundTrip(req *http.Request) (*http.Response, error) {
	base := tp.Base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(req)
	if err != nil {
		return res, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	b = tp.Edit(b)
	res.Body, res.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	res.Header.Del("Content-Length")
	return res, nil
}
