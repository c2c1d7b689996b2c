package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"vizor/server/openapi"
	"vizor/server/openapi/openapitest"
)

// compreFaceProxy is a loopback proxy to the CompreFace listener that
// checks every request passing through it and every answer against
// compreface.json, for clients that are not Go (the JavaScript SDK). It
// returns its host:port; the disagreements it saw fail t when t ends (the
// client gets a 502 for each).
func compreFaceProxy(t *testing.T) string {
	tr := &openapitest.Transport{}
	tr.Bind(srv.CompreFace, openapi.CompreFace)
	var mu sync.Mutex
	var errs []string
	var n int
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, srv.CompreFace+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		req.Header.Del("Connection")
		res, err := tr.RoundTrip(req)
		mu.Lock()
		n++
		if err != nil {
			errs = append(errs, err.Error())
		}
		mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, vs := range res.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	}))
	t.Cleanup(func() {
		ps.Close()
		mu.Lock()
		defer mu.Unlock()
		t.Logf("%d requests of the client checked against compreface.json", n)
		for _, e := range errs {
			t.Errorf("%.2000s", e)
		}
	})
	return strings.TrimPrefix(ps.URL, "http://")
}
