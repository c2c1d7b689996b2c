package xmlapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"sort"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// input is a parsed biometric request, whatever its encoding. Everything in
// it is owned by the handler: JSON strings are copied by encoding/json, the
// image is freshly decoded from base64 or read out of the multipart file, so
// nothing points into fasthttp's reused request buffers.
type input struct {
	image     []byte
	subject   string
	partition string
	topK      *int
	minScore  *float64
	faceIndex *int
	threshold *float64
	padPolicy string // "" when not given
	present   map[string]bool
}

// apiError is a request the handler refuses before the service.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{status: fasthttp.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

// fields lists the fields each endpoint accepts. The documented ones come
// first; face_index and pad_policy (search/verify/enrol) and threshold
// (verify) are Vizor extensions.
var fields = map[string][]string{
	"search": {"image", "partition", "top_k", "min_score", "face_index", "pad_policy"},
	"verify": {"image", "subject_id", "partition", "face_index", "threshold", "pad_policy"},
	"enrol":  {"image", "subject_id", "partition", "face_index", "pad_policy"},
	"delete": {"subject_id", "partition"},
	// POST /api/v1/pad_policy (pad.go)
	"pad_policy": {"partition", "pad_policy"},
}

func allowed(endpoint, name string) bool {
	for _, f := range fields[endpoint] {
		if f == name {
			return true
		}
	}
	return false
}

// parse reads a JSON or multipart/form-data request body.
func parse(ctx *fasthttp.RequestCtx, endpoint string, maxBody int) (*input, *apiError) {
	ct := string(ctx.Request.Header.ContentType())
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return nil, &apiError{status: fasthttp.StatusUnsupportedMediaType, code: "unsupported_media_type",
			msg: "Content-Type must be application/json or multipart/form-data"}
	}
	switch mt {
	case "application/json":
		return parseJSON(ctx.PostBody(), endpoint)
	case "multipart/form-data":
		return parseMultipart(ctx, endpoint, maxBody)
	}
	return nil, &apiError{status: fasthttp.StatusUnsupportedMediaType, code: "unsupported_media_type",
		msg: fmt.Sprintf("Content-Type %q not supported; use application/json or multipart/form-data", mt)}
}

func parseJSON(body []byte, endpoint string) (*input, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("invalid_json", "request body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, badRequest("invalid_json", "request body must be a JSON object")
		}
		return nil, badRequest("invalid_json", "malformed JSON: %v", err)
	}
	if raw == nil {
		return nil, badRequest("invalid_json", "request body must be a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("invalid_json", "unexpected data after the JSON object")
	}
	in := &input{present: map[string]bool{}}
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !allowed(endpoint, k) {
			return nil, badRequest("unknown_field", "unknown field %q (accepted: %s)", k, strings.Join(fields[endpoint], ", "))
		}
		v := raw[k]
		if string(v) == "null" {
			continue
		}
		in.present[k] = true
		var err error
		switch k {
		case "image":
			var s string
			if err = json.Unmarshal(v, &s); err == nil {
				in.image, err = decodeImage(s)
				if err != nil {
					return nil, badRequest("invalid_image_encoding", "image: %v", err)
				}
			}
		case "subject_id":
			err = json.Unmarshal(v, &in.subject)
		case "partition":
			err = json.Unmarshal(v, &in.partition)
		case "pad_policy":
			err = json.Unmarshal(v, &in.padPolicy)
		case "top_k":
			in.topK = new(int)
			err = unmarshalInt(v, in.topK)
		case "face_index":
			in.faceIndex = new(int)
			err = unmarshalInt(v, in.faceIndex)
		case "min_score":
			in.minScore = new(float64)
			err = json.Unmarshal(v, in.minScore)
		case "threshold":
			in.threshold = new(float64)
			err = json.Unmarshal(v, in.threshold)
		}
		if err != nil {
			return nil, badRequest("invalid_field", "field %q: %s", k, typeWant(k))
		}
	}
	return in, nil
}

func typeWant(k string) string {
	switch k {
	case "top_k", "face_index":
		return "want an integer"
	case "min_score", "threshold":
		return "want a number"
	}
	return "want a string"
}

func unmarshalInt(v json.RawMessage, dst *int) error {
	if len(v) == 0 || v[0] == '"' { // json.Number would accept "5"
		return errors.New("not a number")
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return err
	}
	i, err := strconv.ParseInt(string(n), 10, 32)
	if err != nil {
		return err
	}
	*dst = int(i)
	return nil
}

// decodeImage accepts standard or URL-safe base64, padded or not, with
// optional whitespace and an optional data: URI prefix.
func decodeImage(s string) ([]byte, error) {
	if strings.HasPrefix(s, "data:") {
		if i := strings.Index(s, ","); i >= 0 {
			s = s[i+1:]
		}
	}
	if strings.ContainsAny(s, " \t\r\n") {
		s = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, s)
	}
	if s == "" {
		return nil, errors.New("empty")
	}
	s = strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	return b, nil
}

func parseMultipart(ctx *fasthttp.RequestCtx, endpoint string, maxBody int) (*input, *apiError) {
	form, err := ctx.MultipartFormWithLimit(maxBody)
	if err != nil {
		return nil, badRequest("invalid_multipart", "malformed multipart/form-data: %v", err)
	}
	in := &input{present: map[string]bool{}}
	for k := range form.File {
		if k != "image" || !allowed(endpoint, k) {
			return nil, badRequest("unknown_field", "unexpected file part %q", k)
		}
	}
	if fhs := form.File["image"]; len(fhs) > 0 {
		if len(fhs) > 1 {
			return nil, badRequest("invalid_field", "more than one image part")
		}
		f, err := fhs[0].Open()
		if err != nil {
			return nil, badRequest("invalid_multipart", "image part: %v", err)
		}
		// ReadAll copies the part out of the form's buffers.
		in.image, err = io.ReadAll(io.LimitReader(f, int64(maxBody)))
		_ = f.Close()
		if err != nil {
			return nil, badRequest("invalid_multipart", "image part: %v", err)
		}
		if len(in.image) == 0 {
			return nil, badRequest("invalid_field", "image part is empty")
		}
		in.present["image"] = true
	}
	names := make([]string, 0, len(form.Value))
	for k := range form.Value {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !allowed(endpoint, k) {
			return nil, badRequest("unknown_field", "unknown field %q (accepted: %s)", k, strings.Join(fields[endpoint], ", "))
		}
		vs := form.Value[k]
		if len(vs) != 1 {
			return nil, badRequest("invalid_field", "field %q given %d times", k, len(vs))
		}
		v := strings.Clone(vs[0])
		in.present[k] = true
		var perr error
		switch k {
		case "image": // base64 in a text field
			if in.image != nil {
				return nil, badRequest("invalid_field", "image given twice")
			}
			in.image, perr = decodeImage(v)
			if perr != nil {
				return nil, badRequest("invalid_image_encoding", "image: %v", perr)
			}
		case "subject_id":
			in.subject = v
		case "partition":
			in.partition = v
		case "pad_policy":
			in.padPolicy = v
		case "top_k", "face_index":
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
			if err != nil {
				perr = err
				break
			}
			i := int(n)
			if k == "top_k" {
				in.topK = &i
			} else {
				in.faceIndex = &i
			}
		case "min_score", "threshold":
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				perr = err
				break
			}
			if k == "min_score" {
				in.minScore = &f
			} else {
				in.threshold = &f
			}
		}
		if perr != nil {
			return nil, badRequest("invalid_field", "field %q: %s", k, typeWant(k))
		}
	}
	return in, nil
}
