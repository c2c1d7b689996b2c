// Package xmltest is the client side of the XML API's tests (the in-process
// handler tests and the end-to-end tests of the real binary): one request,
// and its status, headers, body and parsed XML.
package xmltest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/beevik/etree"
)

// Resp is one answer; Doc is set when it is XML.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
	Doc    *etree.Document
}

// Text is the text of the element at path ("" when absent or not XML).
func (r Resp) Text(path string) string {
	if r.Doc == nil {
		return ""
	}
	if e := r.Doc.FindElement(path); e != nil {
		return e.Text()
	}
	return ""
}

// Do sends one request with client (ctype and hdr, name/value pairs, as
// headers) and reads the whole answer, parsing it when it says it is XML.
// An XML answer that does not parse is an error.
func Do(ctx context.Context, client *http.Client, method, url, ctype string, body io.Reader, hdr ...string) (Resp, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return Resp{}, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return Resp{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return Resp{}, err
	}
	r := Resp{Status: res.StatusCode, Header: res.Header, Body: b}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/xml") {
		r.Doc = etree.NewDocument()
		if err := r.Doc.ReadFromBytes(b); err != nil {
			return r, fmt.Errorf("bad XML (%v): %s", err, b)
		}
	}
	return r, nil
}
