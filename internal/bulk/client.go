package bulk

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Client calls a Vizor server's biometric XML API.
type Client struct {
	Base   string // http://host:port
	APIKey string
	HTTP   *http.Client
}

// answer is the fields import reads from an XML answer (EnrolResponse,
// VerifyResponse or ErrorResponse).
type answer struct {
	XMLName    xml.Name
	Code       string  `xml:"code"`
	Message    string  `xml:"message"`
	Gate       string  `xml:"gate"`
	GateScore  float64 `xml:"gate_score"`
	Threshold  float64 `xml:"threshold"`
	TemplateID string  `xml:"template_id"`
	Match      bool    `xml:"match"`
	Score      float64 `xml:"score"`
}

// Refusal is an answer the server gave for this photo and would give again
// (a 4xx: no face, a gate, a bad image). It goes to the report.
type Refusal struct {
	Status  int
	Reason  string // the server's code: no_face, quality_rejected, spoof_detected, ...
	Message string
}

func (r *Refusal) Error() string { return fmt.Sprintf("%d %s: %s", r.Status, r.Reason, r.Message) }

// Transient is a failure worth retrying: the server busy or unreachable.
type Transient struct {
	Err        error
	RetryAfter time.Duration
}

func (t *Transient) Error() string { return t.Err.Error() }

// Fatal is a failure no photo will get past: a wrong key, a wrong URL.
type Fatal struct{ Err error }

func (f *Fatal) Error() string { return f.Err.Error() }

// post sends a multipart form with the image and fields to path.
func (c *Client) post(ctx context.Context, path string, image []byte, name string, fields map[string]string) (int, answer, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("image", filepath.Base(name))
	if err != nil {
		return 0, answer{}, err
	}
	fw.Write(image)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+path, &buf)
	if err != nil {
		return 0, answer{}, &Fatal{err}
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if c.APIKey != "" {
		req.Header.Set("x-api-key", c.APIKey)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, answer{}, ctx.Err()
		}
		return 0, answer{}, &Transient{Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, answer{}, &Transient{Err: err}
	}
	var a answer
	if xml.Unmarshal(body, &a) != nil {
		a = answer{}
	}
	return resp.StatusCode, a, classify(resp, a, body)
}

// classify turns an answer into nil (2xx), a Refusal, a Transient or a
// Fatal error.
func classify(resp *http.Response, a answer, body []byte) error {
	st := resp.StatusCode
	switch {
	case st >= 200 && st < 300:
		return nil
	case st == http.StatusServiceUnavailable || st == http.StatusTooManyRequests || st >= 500:
		ra := time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			ra = time.Duration(s) * time.Second
		}
		return &Transient{Err: fmt.Errorf("server answered %d %s", st, a.Code), RetryAfter: ra}
	case st == http.StatusUnauthorized || st == http.StatusForbidden || st == http.StatusNotFound && a.Code == "not_found" ||
		st == http.StatusMethodNotAllowed:
		msg := a.Message
		if msg == "" {
			msg = strings.TrimSpace(string(body))
			if len(msg) > 200 {
				msg = msg[:200]
			}
		}
		return &Fatal{fmt.Errorf("server answered %d %s: %s", st, a.Code, msg)}
	}
	reason := a.Code
	if reason == "" {
		reason = "http_" + strconv.Itoa(st)
	}
	msg := a.Message
	if a.Gate != "" && a.Threshold != 0 && !strings.Contains(msg, fmt.Sprintf("%.3f", a.Threshold)) {
		msg = fmt.Sprintf("%s (gate %s: %.3f, threshold %.3f)", msg, a.Gate, a.GateScore, a.Threshold)
	}
	return &Refusal{Status: st, Reason: reason, Message: msg}
}

// Enrol enrols image as subject in partition and returns the template id.
func (c *Client) Enrol(ctx context.Context, image []byte, name, subject, partition string) (string, error) {
	_, a, err := c.post(ctx, "/api/v1/enrol", image, name, map[string]string{"subject_id": subject, "partition": partition})
	return a.TemplateID, err
}

// AlreadyEnrolled asks the server whether image is already one of
// subject's templates: the same photo gives the same template, so its own
// verify score is 1 (kept at >= 0.999 against rounding), while another
// photo of the same person scores far lower (below 0.95 on the shared
// photos). A subject the server does not know has not got it.
func (c *Client) AlreadyEnrolled(ctx context.Context, image []byte, name, subject, partition string) (bool, error) {
	st, a, err := c.post(ctx, "/api/v1/verify", image, name, map[string]string{"subject_id": subject, "partition": partition})
	if err != nil {
		if r, ok := err.(*Refusal); ok && (r.Reason == "subject_not_found" || r.Reason == "partition_not_found") {
			return false, nil
		}
		if st == http.StatusNotFound && (a.Code == "subject_not_found" || a.Code == "partition_not_found") {
			return false, nil
		}
		return false, err
	}
	return a.Score >= 0.999, nil
}
