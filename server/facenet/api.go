// Package facenet serves the Facenet512 reference API
// (facenet512-reference-api.txt): upload a reference face under a 32-hex
// key, compare an image with it, list and delete references. References
// live in the gallery partition "facenet512" (one subject per key, the
// original file name in the template's metadata, the image itself when the
// gallery keeps images). Distances are cosine distances (1 - cosine) of
// Vizor's templates and the threshold is 1 - Vizor's calibrated match
// threshold; README.md ("Facenet512 API") has the details.
package facenet

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"strings"

	"github.com/valyala/fasthttp"

	"vizor/gallery"
	"vizor/server/compat"
	"vizor/server/service"
)

// Partition holds the references.
const Partition = "facenet512"

// API is the Facenet512 flavour.
type API struct {
	d compat.Deps
}

// New builds the flavour.
func New(d compat.Deps) *API { return &API{d: d} }

// Name implements compat.API.
func (a *API) Name() string { return "facenet512" }

type detail struct {
	Detail any `json:"detail"`
}

// WriteError implements compat.API (FastAPI's {"detail": ...}).
func (a *API) WriteError(ctx *fasthttp.RequestCtx, status int, msg string) {
	switch status {
	case http.StatusNotFound:
		msg = "Not Found"
	case http.StatusMethodNotAllowed:
		msg = "Method Not Allowed"
	}
	compat.WriteJSON(ctx, status, detail{msg})
}

func fail(ctx *fasthttp.RequestCtx, status int, msg string) {
	compat.From(ctx).Detail = msg
	compat.WriteJSON(ctx, status, detail{msg})
}

// missing answers FastAPI's 422 for absent form fields.
func missing(ctx *fasthttp.RequestCtx, fields ...string) {
	var errs []map[string]any
	for _, f := range fields {
		errs = append(errs, map[string]any{"type": "missing", "loc": []string{"body", f}, "msg": "Field required", "input": nil})
	}
	compat.From(ctx).Detail = "missing " + strings.Join(fields, ",")
	compat.WriteJSON(ctx, http.StatusUnprocessableEntity, detail{errs})
}

// Routes implements compat.API.
func (a *API) Routes() []compat.Route {
	return []compat.Route{
		{Method: "POST", Pattern: "/upload_reference", Name: "upload_reference", Limited: true, Handler: a.upload},
		{Method: "POST", Pattern: "/compare_with_reference", Name: "compare_with_reference", Limited: true, Handler: a.compare},
		{Method: "GET", Pattern: "/list_references", Name: "list_references", Handler: a.list},
		{Method: "DELETE", Pattern: "/delete_reference/{key}", Name: "delete_reference", Handler: a.delete},
	}
}

var alnum = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// Threshold is the cosine-distance threshold: 1 - the match threshold.
func (a *API) Threshold() float64 { return compat.Round(1-float64(a.d.Threshold()), 6) }

// image reads the "image" file field; ok=false when it answered an error.
func (a *API) image(ctx *fasthttp.RequestCtx, others ...string) ([]byte, string, bool) {
	if !compat.IsMultipart(ctx) {
		missing(ctx, append([]string{"image"}, others...)...)
		return nil, "", false
	}
	up, err := compat.FormFile(ctx, "image", a.d.BodyImageLimit())
	var miss []string
	if errors.Is(err, compat.ErrMissing) || (err == nil && up.Filename == "") {
		miss = append(miss, "image")
	}
	for _, f := range others {
		if v, ok := compat.FormValue(ctx, f); !ok || v == "" {
			miss = append(miss, f)
		}
	}
	if len(miss) > 0 {
		missing(ctx, miss...)
		return nil, "", false
	}
	switch {
	case errors.Is(err, compat.ErrTooLarge):
		fail(ctx, http.StatusRequestEntityTooLarge, fmt.Sprintf("Image larger than %d MB", a.d.BodyImageLimit()>>20))
		return nil, "", false
	case err != nil:
		fail(ctx, http.StatusBadRequest, "Invalid file extension")
		return nil, "", false
	}
	switch strings.ToLower(path.Ext(up.Filename)) {
	case ".jpg", ".jpeg", ".png":
	default:
		fail(ctx, http.StatusBadRequest, "Invalid file extension")
		return nil, "", false
	}
	img, _, err := compat.Normalize(up.Data, a.d.Cfg.MaxPixels)
	if err != nil {
		probeErr(ctx, err, true)
		return nil, "", false
	}
	return img, path.Base(up.Filename), true
}

const noFace = "No face detected in the image. Please upload an image with a clear face."

// probeErr answers an extraction failure. A missing face on upload is the
// documented 400; everything about the image content on compare is the
// documented 500 "Error processing image"; gate rejections (quality, PAD)
// are 400s with their reason; an image over the pixel limit is 413 and one
// that cannot be read 400 (the client's fault, not a processing error); an
// unavailable engine is 503.
func probeErr(ctx *fasthttp.RequestCtx, err error, upload bool) {
	// After fail, which logs the client message: the log gets the cause.
	defer func() { compat.From(ctx).Detail = service.LogDetail(err) }()
	switch service.Kind(err) {
	case service.ErrNoFace, service.ErrAlignment, service.ErrExtraction:
		if upload {
			fail(ctx, http.StatusBadRequest, noFace)
		} else {
			fail(ctx, http.StatusInternalServerError, "Error processing image: Face could not be detected in the image")
		}
	case service.ErrQuality, service.ErrSpoof, service.ErrMorph:
		fail(ctx, http.StatusBadRequest, "Face rejected: "+service.Message(err))
	case service.ErrImageTooLarge:
		fail(ctx, http.StatusRequestEntityTooLarge, "Error processing image: "+service.Message(err))
	case service.ErrBadImage, service.ErrInvalid:
		// The client's image is at fault: a 4xx, with the documented prefix.
		fail(ctx, http.StatusBadRequest, "Error processing image: "+service.Message(err))
	case service.ErrTimeout, service.ErrUnavailable:
		fail(ctx, http.StatusServiceUnavailable, "Error processing image: "+service.Message(err))
	default:
		fail(ctx, http.StatusInternalServerError, "Error processing image: "+service.Message(err))
	}
}

func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

func (a *API) upload(ctx *fasthttp.RequestCtx, _ compat.Params) {
	img, name, ok := a.image(ctx)
	if !ok {
		return
	}
	o, ok := a.options(ctx)
	if !ok {
		return
	}
	req := compat.From(ctx)
	p, err := a.d.Svc.Extract(req.Ctx, service.OpEnrol, img, o)
	if err != nil {
		probeErr(ctx, err, true)
		return
	}
	key := newKey()
	_, err = a.d.Gallery.Enrol(Partition, key, gallery.Template{Model: p.ModelID, Vector: p.Template},
		gallery.EnrolOptions{Image: img, KeepImage: true, Meta: map[string]string{"filename": name}})
	if err != nil {
		fail(ctx, http.StatusInternalServerError, "Error processing image: "+err.Error())
		return
	}
	out := map[string]any{"success": true, "message": "Reference embedding saved with key: " + key, "key": key}
	compat.AddPAD(out, p.PAD)
	compat.WriteJSON(ctx, http.StatusOK, out)
}

func (a *API) compare(ctx *fasthttp.RequestCtx, _ compat.Params) {
	img, _, ok := a.image(ctx, "reference_key")
	if !ok {
		return
	}
	key, _ := compat.FormValue(ctx, "reference_key")
	key = strings.TrimSpace(key)
	if !alnum.MatchString(key) {
		fail(ctx, http.StatusBadRequest, "Reference key must be alphanumeric")
		return
	}
	if has, err := a.d.Gallery.HasSubject(Partition, key); !has {
		if err != nil && !errors.Is(err, gallery.ErrPartitionNotFound) {
			fail(ctx, http.StatusInternalServerError, "Error processing image: "+err.Error())
			return
		}
		fail(ctx, http.StatusNotFound, "No reference image found with key: "+key)
		return
	}
	o, ok := a.options(ctx)
	if !ok {
		return
	}
	req := compat.From(ctx)
	p, err := a.d.Svc.Extract(req.Ctx, service.OpVerify, img, o)
	if err != nil {
		probeErr(ctx, err, false)
		return
	}
	c, err := a.d.Gallery.Verify(Partition, key, gallery.Template{Model: p.ModelID, Vector: p.Template})
	if errors.Is(err, gallery.ErrSubjectNotFound) || errors.Is(err, gallery.ErrPartitionNotFound) {
		fail(ctx, http.StatusNotFound, "No reference image found with key: "+key)
		return
	}
	if err != nil {
		fail(ctx, http.StatusInternalServerError, "Error processing image: "+err.Error())
		return
	}
	dist := distance(c.Score)
	thr := a.Threshold()
	out := map[string]any{
		"reference_key": key,
		"result":        map[string]any{"verified": dist <= thr, "distance": dist, "threshold": thr},
	}
	compat.AddPAD(out, p.PAD)
	compat.WriteJSON(ctx, http.StatusOK, out)
}

type reference struct {
	Key      string `json:"key"`
	Filename string `json:"filename"`
}

func (a *API) list(ctx *fasthttp.RequestCtx, _ compat.Params) {
	infos, err := a.d.Gallery.Templates(Partition, "")
	if err != nil && !errors.Is(err, gallery.ErrPartitionNotFound) {
		fail(ctx, http.StatusInternalServerError, "Error listing embeddings: "+err.Error())
		return
	}
	refs := []reference{}
	seen := map[string]bool{}
	for _, t := range infos {
		if seen[t.Subject] {
			continue
		}
		seen[t.Subject] = true
		refs = append(refs, reference{Key: t.Subject, Filename: t.Meta["filename"]})
	}
	compat.WriteJSON(ctx, http.StatusOK, map[string]any{"count": len(refs), "references": refs})
}

func (a *API) delete(ctx *fasthttp.RequestCtx, p compat.Params) {
	key := p["key"]
	if !alnum.MatchString(key) {
		fail(ctx, http.StatusBadRequest, "Invalid reference key")
		return
	}
	_, err := a.d.Gallery.DeleteSubject(Partition, key)
	switch {
	case errors.Is(err, gallery.ErrSubjectNotFound), errors.Is(err, gallery.ErrPartitionNotFound):
		fail(ctx, http.StatusNotFound, "No reference embedding found with key: "+key)
		return
	case err != nil:
		fail(ctx, http.StatusInternalServerError, "Error deleting embedding: "+err.Error())
		return
	}
	compat.WriteJSON(ctx, http.StatusOK, map[string]any{
		"success": true, "message": fmt.Sprintf("Reference embedding with key '%s' has been deleted", key),
	})
}
