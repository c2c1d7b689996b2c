// Package compreface serves the CompreFace REST API (v1.2 as documented in
// compreface-rest-api.txt) over Vizor's engine and gallery: recognition
// (face collections, recognize, verify by image id), detection and
// verification services, each with its own x-api-key, Base64 input and the
// embedding endpoints. README.md ("CompreFace API") documents the mapping
// and every decision where the CompreFace documentation is silent.
package compreface

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"vizor/bindings"
	"vizor/gallery"
	"vizor/server/compat"
	"vizor/server/service"
)

// CompreFace error codes (its ExceptionCode table).
const (
	codeUndefined     = 0
	codeEmptyField    = 5
	codeModelNotFound = 10
	codeImageNotFound = 11
	codePredCount     = 12
	codeMissingHeader = 20
	codeFileExtension = 21
	codeValidation    = 26
	codeNoFaces       = 28
	codeTooManyFaces  = 31
	codeMissingParam  = 33
	codeMissingPart   = 34
	codeIncorrectArg  = 36
	codeEmbeddingDim  = 37
	codeFacesService  = 41
	codeSubjNotFound  = 42
	codeSubjExists    = 43
	codeEmbNotFound   = 44
)

var allowedExt = map[string]bool{"jpeg": true, "jpg": true, "ico": true, "png": true, "bmp": true, "gif": true, "tif": true, "tiff": true, "webp": true}

// API is the CompreFace flavour.
type API struct {
	d        compat.Deps
	keys     *keyring
	st       *state
	versions map[string]string
	maxImage int
}

// New opens the keys file and the flavour's state.
func New(d compat.Deps) (*API, error) {
	kr, err := newKeyring(KeysPath(d.Cfg.Compat.CompreFaceKeys, d.Cfg.DataDir))
	if err != nil {
		return nil, fmt.Errorf("compreface keys: %w", err)
	}
	// On a cluster gallery the state is the cluster's, shared by every node.
	var st *state
	if r, ok := d.Gallery.(SharedStore); ok {
		st, err = openSharedState(r)
	} else {
		st, err = openState(d.Cfg.DataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("compreface state: %w", err)
	}
	a := &API{d: d, keys: kr, st: st, maxImage: d.MaxImage(), versions: map[string]string{}}
	names := map[string]string{}
	for _, m := range d.Engine.Info().Models {
		names[m.Role] = m.Name
	}
	for plugin, role := range map[string]string{"detector": "detector", "calculator": "recognizer", "age": "age",
		"gender": "gender", "pose": "pose", "landmarks": "landmarker"} {
		if n := names[role]; n != "" {
			a.versions[plugin] = "vizor." + n
		}
	}
	if id := d.Engine.Info().RecognizerID; id != "" {
		a.versions["calculator"] = "vizor." + id
	}
	return a, nil
}

// Keys is the number of keys loaded (for the start-up log).
func (a *API) Keys() int { return a.keys.count() }

// Name implements compat.API.
func (a *API) Name() string { return "compreface" }

type cfError struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
}

// WriteError implements compat.API.
func (a *API) WriteError(ctx *fasthttp.RequestCtx, status int, msg string) {
	code := codeUndefined
	if status == http.StatusServiceUnavailable || status >= 500 {
		code = codeFacesService
	}
	compat.WriteJSON(ctx, status, cfError{Message: msg, Code: code})
}

func fail(ctx *fasthttp.RequestCtx, status, code int, msg string) {
	compat.From(ctx).Detail = msg
	compat.WriteJSON(ctx, status, cfError{Message: msg, Code: code})
}

type handler func(ctx *fasthttp.RequestCtx, p compat.Params, k Key)

// Routes implements compat.API.
func (a *API) Routes() []compat.Route {
	rec, det, ver := Recognition, Detection, Verification
	r := func(method, pattern, name string, limited bool, typ string, h handler) compat.Route {
		return compat.Route{Method: method, Pattern: pattern, Name: name, Limited: limited, Handler: a.auth(typ, h)}
	}
	return []compat.Route{
		r("POST", "/api/v1/recognition/subjects", "subject_add", false, rec, a.addSubject),
		r("GET", "/api/v1/recognition/subjects", "subject_list", false, rec, a.listSubjects),
		r("DELETE", "/api/v1/recognition/subjects", "subject_delete_all", false, rec, a.deleteAllSubjects),
		r("PUT", "/api/v1/recognition/subjects/{subject}", "subject_rename", false, rec, a.renameSubject),
		r("DELETE", "/api/v1/recognition/subjects/{subject}", "subject_delete", false, rec, a.deleteSubject),
		r("POST", "/api/v1/recognition/faces", "face_add", true, rec, a.addFace),
		r("GET", "/api/v1/recognition/faces", "face_list", false, rec, a.listFaces),
		r("DELETE", "/api/v1/recognition/faces", "face_delete_subject", false, rec, a.deleteFaces),
		r("POST", "/api/v1/recognition/faces/delete", "face_delete_multiple", false, rec, a.deleteMultiple),
		r("DELETE", "/api/v1/recognition/faces/{image_id}", "face_delete", false, rec, a.deleteFace),
		r("GET", "/api/v1/recognition/faces/{image_id}/img", "face_img", false, rec, a.downloadFace),
		{Method: "GET", Pattern: "/api/v1/static/{api_key}/images/{image_id}", Name: "static_img", Handler: a.staticImage},
		r("POST", "/api/v1/recognition/recognize", "recognize", true, rec, a.recognize),
		r("POST", "/api/v1/recognition/faces/{image_id}/verify", "face_verify", true, rec, a.verifyFace),
		r("POST", "/api/v1/detection/detect", "detect", true, det, a.detect),
		r("POST", "/api/v1/verification/verify", "verify", true, ver, a.verifyImages),
		r("POST", "/api/v1/recognition/embeddings/recognize", "embeddings_recognize", true, rec, a.embRecognize),
		r("POST", "/api/v1/recognition/embeddings/faces/{image_id}/verify", "embeddings_face_verify", true, rec, a.embVerifyFace),
		r("POST", "/api/v1/verification/embeddings/verify", "embeddings_verify", true, ver, a.embVerify),
	}
}

var typeTitle = map[string]string{Recognition: "Recognition", Detection: "Detection", Verification: "Verification"}

// auth gives h the request's key of service typ (checkKey, admit.go; the
// core has already admitted the request from the same headers, see Admit).
func (a *API) auth(typ string, h handler) func(*fasthttp.RequestCtx, compat.Params) {
	return func(ctx *fasthttp.RequestCtx, p compat.Params) {
		if k, ok := a.checkKey(ctx, typ); ok {
			h(ctx, p, k)
		}
	}
}

// ---- subjects ----

type subjectBody struct {
	Subject *string `json:"subject"`
}

func readSubjectBody(ctx *fasthttp.RequestCtx) (string, bool) {
	var b subjectBody
	if err := json.Unmarshal(ctx.PostBody(), &b); err != nil || b.Subject == nil {
		fail(ctx, http.StatusBadRequest, codeEmptyField, "Subject name is empty")
		return "", false
	}
	s := subjectName(*b.Subject)
	if s == "" {
		fail(ctx, http.StatusBadRequest, codeEmptyField, "Subject name is empty")
		return "", false
	}
	if !gallery.ValidSubjectName(s) {
		fail(ctx, http.StatusBadRequest, codeValidation, "Subject name must be 1-256 bytes of UTF-8 without control characters")
		return "", false
	}
	return s, true
}

func (a *API) subjects(part string) ([]string, error) {
	subs, err := a.d.Gallery.Subjects(part)
	if err != nil && !errors.Is(err, gallery.ErrPartitionNotFound) {
		return nil, err
	}
	seen := map[string]bool{}
	for _, s := range subs {
		seen[s] = true
	}
	for _, s := range a.st.declared(part) {
		if !seen[s] {
			subs = append(subs, s)
			seen[s] = true
		}
	}
	if subs == nil {
		subs = []string{}
	}
	return subs, nil
}

func (a *API) hasSubject(part, subject string) (bool, error) {
	if a.st.hasDeclared(part, subject) {
		return true, nil
	}
	ok, err := a.d.Gallery.HasSubject(part, subject)
	if errors.Is(err, gallery.ErrPartitionNotFound) {
		return false, nil
	}
	return ok, err
}

func (a *API) storeErr(ctx *fasthttp.RequestCtx, err error) {
	defer func() { compat.From(ctx).Detail = err.Error() }() // after fail: the cause
	switch {
	case errors.Is(err, gallery.ErrClosed):
		fail(ctx, http.StatusServiceUnavailable, codeFacesService, "store unavailable")
	case errors.Is(err, gallery.ErrInvalidName):
		fail(ctx, http.StatusBadRequest, codeValidation, err.Error())
	default:
		fail(ctx, http.StatusInternalServerError, codeFacesService, "store failure")
	}
}

func (a *API) addSubject(ctx *fasthttp.RequestCtx, _ compat.Params, k Key) {
	s, ok := readSubjectBody(ctx)
	if !ok {
		return
	}
	part := Partition(k.Key)
	exists, err := a.hasSubject(part, s)
	if err != nil {
		a.storeErr(ctx, err)
		return
	}
	if exists {
		fail(ctx, http.StatusBadRequest, codeSubjExists, "Subject already exists")
		return
	}
	if _, err := a.st.declare(part, s); err != nil {
		a.storeErr(ctx, err)
		return
	}
	compat.WriteJSON(ctx, http.StatusCreated, map[string]string{"subject": s})
}

func (a *API) listSubjects(ctx *fasthttp.RequestCtx, _ compat.Params, k Key) {
	subs, err := a.subjects(Partition(k.Key))
	if err != nil {
		a.storeErr(ctx, err)
		return
	}
	compat.WriteJSON(ctx, http.StatusOK, map[string][]string{"subjects": subs})
}

func (a *API) renameSubject(ctx *fasthttp.RequestCtx, p compat.Params, k Key) {
	to, ok := readSubjectBody(ctx)
	if !ok {
		return
	}
	from, part := subjectParam(p), Partition(k.Key)
	has, err := a.d.Gallery.HasSubject(part, from)
	if err != nil && !errors.Is(err, gallery.ErrPartitionNotFound) {
		a.storeErr(ctx, err)
		return
	}
	declared := a.st.hasDeclared(part, from)
	if !has && !declared {
		fail(ctx, http.StatusNotFound, codeSubjNotFound, fmt.Sprintf("Subject %s not found", from))
		return
	}
	if from == to {
		compat.WriteJSON(ctx, http.StatusOK, map[string]bool{"updated": false})
		return
	}
	if has {
		// Merge: an existing target receives the templates.
		if err := a.d.Gallery.RenameSubject(part, from, to, true); err != nil {
			a.storeErr(ctx, err)
			return
		}
	}
	if declared {
		if _, err := a.st.undeclare(part, from); err != nil {
			a.storeErr(ctx, err)
			return
		}
		if !has {
			exists, err := a.hasSubject(part, to)
			if err == nil && !exists {
				_, err = a.st.declare(part, to)
			}
			if err != nil {
				a.storeErr(ctx, err)
				return
			}
		}
	}
	compat.WriteJSON(ctx, http.StatusOK, map[string]bool{"updated": true})
}

func (a *API) deleteSubject(ctx *fasthttp.RequestCtx, p compat.Params, k Key) {
	s, part := subjectParam(p), Partition(k.Key)
	n, err := a.d.Gallery.DeleteSubject(part, s)
	if err != nil && !errors.Is(err, gallery.ErrSubjectNotFound) && !errors.Is(err, gallery.ErrPartitionNotFound) {
		a.storeErr(ctx, err)
		return
	}
	m, err := a.st.undeclare(part, s)
	if err != nil {
		a.storeErr(ctx, err)
		return
	}
	if n == 0 && m == 0 {
		fail(ctx, http.StatusNotFound, codeSubjNotFound, fmt.Sprintf("Subject %s not found", s))
		return
	}
	compat.WriteJSON(ctx, http.StatusOK, map[string]string{"subject": s})
}

func (a *API) deleteAllSubjects(ctx *fasthttp.RequestCtx, _ compat.Params, k Key) {
	part := Partition(k.Key)
	subs, err := a.subjects(part)
	if err != nil {
		a.storeErr(ctx, err)
		return
	}
	if err := a.d.Gallery.DeletePartition(part); err != nil && !errors.Is(err, gallery.ErrPartitionNotFound) {
		a.storeErr(ctx, err)
		return
	}
	if _, err := a.st.undeclare(part); err != nil {
		a.storeErr(ctx, err)
		return
	}
	compat.WriteJSON(ctx, http.StatusOK, map[string]int{"deleted": len(subs)})
}

// ---- examples (faces) ----

// image reads the request's image: multipart field (file, source_image,
// target_image) or the JSON field of the same name in Base64. It answers
// the error itself and returns ok=false.
func (a *API) image(ctx *fasthttp.RequestCtx, field string, body map[string]json.RawMessage) ([]byte, bool) {
	var up compat.Upload
	var err error
	switch {
	case body != nil:
		var s string
		if raw, ok := body[field]; !ok || json.Unmarshal(raw, &s) != nil {
			err = compat.ErrMissing
		} else {
			up, err = compat.Base64Field(s, a.maxImage)
		}
	case compat.IsMultipart(ctx):
		up, err = compat.FormFile(ctx, field, a.maxImage)
	default:
		err = compat.ErrMissing
	}
	switch {
	case errors.Is(err, compat.ErrMissing):
		fail(ctx, http.StatusBadRequest, codeMissingPart, fmt.Sprintf("Required request part '%s' is not present", field))
		return nil, false
	case errors.Is(err, compat.ErrBase64):
		fail(ctx, http.StatusBadRequest, codeFileExtension, "Provided value is not Base64")
		return nil, false
	case errors.Is(err, compat.ErrTooLarge):
		fail(ctx, http.StatusBadRequest, codeUndefined, fmt.Sprintf("Maximum upload size exceeded: images are limited to %d MB", a.maxImage>>20))
		return nil, false
	case err != nil:
		fail(ctx, http.StatusBadRequest, codeUndefined, err.Error())
		return nil, false
	}
	if up.Filename != "" {
		ext := strings.ToLower(strings.TrimPrefix(path.Ext(up.Filename), "."))
		if ext != "" && !allowedExt[ext] {
			fail(ctx, http.StatusBadRequest, codeFileExtension, fmt.Sprintf("File [%s] has an unavailable extension", up.Filename))
			return nil, false
		}
	}
	img, _, err := compat.Normalize(up.Data, a.d.Cfg.MaxPixels)
	if err != nil {
		engineErr(ctx, err) // too large and undecodable are distinct 400s
		return nil, false
	}
	return img, true
}

// jsonBody parses a JSON object body (nil when the request is not JSON).
func jsonBody(ctx *fasthttp.RequestCtx) (map[string]json.RawMessage, bool) {
	if !compat.IsJSON(ctx) {
		return nil, true
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(ctx.PostBody(), &m); err != nil || m == nil {
		fail(ctx, http.StatusBadRequest, codeUndefined, "Request body is not a JSON object")
		return nil, false
	}
	return m, true
}

var addParams = []string{"subject", "det_prob_threshold"}

func (a *API) addFace(ctx *fasthttp.RequestCtx, _ compat.Params, k Key) {
	q := compat.Query(ctx, addParams...)
	subject := subjectName(q.Get("subject"))
	if !q.Has("subject") {
		fail(ctx, http.StatusBadRequest, codeMissingParam, "Required request parameter 'subject' for method parameter type String is not present")
		return
	}
	if subject == "" {
		fail(ctx, http.StatusBadRequest, codeEmptyField, "Subject name is empty")
		return
	}
	thr, ok := detThreshold(ctx, q)
	if !ok {
		return
	}
	body, ok := jsonBody(ctx)
	if !ok {
		return
	}
	img, ok := a.image(ctx, "file", body)
	if !ok {
		return
	}
	p, err := a.extract(ctx, k, img)
	if err != nil {
		engineErr(ctx, err)
		return
	}
	if thr > 0 && p.DetScore < thr {
		fail(ctx, http.StatusBadRequest, codeNoFaces, "No face is found in the given image")
		return
	}
	part := Partition(k.Key)
	info, err := a.d.Gallery.Enrol(part, subject, gallery.Template{Model: p.ModelID, Vector: p.Template},
		gallery.EnrolOptions{Image: img, KeepImage: true, Meta: map[string]string{"source": "compreface"}})
	if err != nil {
		a.storeErr(ctx, err)
		return
	}
	if _, err := a.st.undeclare(part, subject); err != nil {
		a.storeErr(ctx, err)
		return
	}
	a.added(ctx, a.st.imageID(part, info.ID), subject, p.PAD)
}

type faceRef struct {
	ImageID string `json:"image_id"`
	Subject string `json:"subject"`
}

func (a *API) listFaces(ctx *fasthttp.RequestCtx, _ compat.Params, k Key) {
	q := compat.Query(ctx, "page", "size", "subject")
	page, size := 0, 20
	var err error
	if v := q.Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 0 {
			fail(ctx, http.StatusBadRequest, codeValidation, "page must be a non-negative integer")
			return
		}
	}
	if v := q.Get("size"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 {
			fail(ctx, http.StatusBadRequest, codeValidation, "size must be a positive integer")
			return
		}
	}
	part := Partition(k.Key)
	infos, err := a.d.Gallery.Templates(part, subjectName(q.Get("subject")))
	if err != nil && !errors.Is(err, gallery.ErrPartitionNotFound) && !errors.Is(err, gallery.ErrSubjectNotFound) {
		a.storeErr(ctx, err)
		return
	}
	total := len(infos)
	faces := []faceRef{}
	for i := page * size; i < total && i < (page+1)*size; i++ {
		faces = append(faces, faceRef{ImageID: a.st.imageID(part, infos[i].ID), Subject: infos[i].Subject})
	}
	compat.WriteJSON(ctx, http.StatusOK, map[string]any{
		"faces": faces, "page_number": page, "page_size": size,
		"total_pages": (total + size - 1) / size, "total_elements": total,
	})
}

func (a *API) deleteFaces(ctx *fasthttp.RequestCtx, _ compat.Params, k Key) {
	q := compat.Query(ctx, "subject")
	part := Partition(k.Key)
	if s := subjectName(q.Get("subject")); s != "" {
		n, err := a.d.Gallery.DeleteSubject(part, s)
		if err != nil && !errors.Is(err, gallery.ErrSubjectNotFound) && !errors.Is(err, gallery.ErrPartitionNotFound) {
			a.storeErr(ctx, err)
			return
		}
		if _, err := a.st.undeclare(part, s); err != nil {
			a.storeErr(ctx, err)
			return
		}
		compat.WriteJSON(ctx, http.StatusOK, map[string]int{"deleted": n})
		return
	}
	n := 0
	if st, err := a.d.Gallery.Templates(part, ""); err == nil {
		n = len(st)
	}
	if err := a.d.Gallery.DeletePartition(part); err != nil && !errors.Is(err, gallery.ErrPartitionNotFound) {
		a.storeErr(ctx, err)
		return
	}
	if _, err := a.st.undeclare(part); err != nil {
		a.storeErr(ctx, err)
		return
	}
	compat.WriteJSON(ctx, http.StatusOK, map[string]int{"deleted": n})
}

// lookupImage resolves an image id of the key's collection.
func (a *API) lookupImage(part, imageID string) (gallery.TemplateInfo, gallery.Template, bool, error) {
	id, ok := a.st.templateID(part, imageID)
	if !ok {
		return gallery.TemplateInfo{}, gallery.Template{}, false, nil
	}
	info, t, err := a.d.Gallery.TemplateIn(part, id)
	if errors.Is(err, gallery.ErrTemplateNotFound) || (err == nil && info.Partition != part) {
		return gallery.TemplateInfo{}, gallery.Template{}, false, nil
	}
	return info, t, err == nil, err
}

// refTemplate is the stored template of a verification's image_id; it
// answers the request itself (404 with notFoundCode, or a store error) when
// there is none.
func (a *API) refTemplate(ctx *fasthttp.RequestCtx, part, imageID string, notFoundCode int) (gallery.Template, bool) {
	_, ref, found, err := a.lookupImage(part, imageID)
	if err != nil {
		a.storeErr(ctx, err)
		return gallery.Template{}, false
	}
	if !found {
		fail(ctx, http.StatusNotFound, notFoundCode, fmt.Sprintf("Image %s not found", imageID))
		return gallery.Template{}, false
	}
	return ref, true
}

func (a *API) deleteOne(part, imageID string) (faceRef, bool, error) {
	info, _, ok, err := a.lookupImage(part, imageID)
	if err != nil || !ok {
		return faceRef{}, false, err
	}
	if err := a.d.Gallery.DeleteTemplate(part, info.ID); err != nil {
		if errors.Is(err, gallery.ErrTemplateNotFound) {
			return faceRef{}, false, nil
		}
		return faceRef{}, false, err
	}
	return faceRef{ImageID: strings.ToLower(imageID), Subject: info.Subject}, true, nil
}

func (a *API) deleteFace(ctx *fasthttp.RequestCtx, p compat.Params, k Key) {
	ref, ok, err := a.deleteOne(Partition(k.Key), p["image_id"])
	if err != nil {
		a.storeErr(ctx, err)
		return
	}
	if !ok {
		fail(ctx, http.StatusNotFound, codeImageNotFound, fmt.Sprintf("Image %s not found", p["image_id"]))
		return
	}
	compat.WriteJSON(ctx, http.StatusOK, ref)
}

func (a *API) deleteMultiple(ctx *fasthttp.RequestCtx, _ compat.Params, k Key) {
	var ids []string
	if err := json.Unmarshal(ctx.PostBody(), &ids); err != nil {
		fail(ctx, http.StatusBadRequest, codeIncorrectArg, "Request body must be a JSON array of image ids")
		return
	}
	part := Partition(k.Key)
	out := []faceRef{}
	for _, id := range ids {
		ref, ok, err := a.deleteOne(part, id)
		if err != nil {
			a.storeErr(ctx, err)
			return
		}
		if ok {
			out = append(out, ref)
		}
	}
	compat.WriteJSON(ctx, http.StatusOK, out)
}

func (a *API) writeImage(ctx *fasthttp.RequestCtx, part, imageID string) {
	id, ok := a.st.templateID(part, imageID)
	if ok {
		img, info, err := a.d.Gallery.ImageIn(part, id)
		if err == nil && info.Partition == part {
			ct := "image/" + compat.Sniff(img)
			if ct == "image/" {
				ct = "application/octet-stream"
			}
			ctx.SetContentType(ct)
			ctx.SetBody(img)
			return
		}
	}
	// CompreFace answers an unknown image with an empty body.
	ctx.SetStatusCode(http.StatusOK)
	ctx.SetContentType("image/jpeg")
}

func (a *API) downloadFace(ctx *fasthttp.RequestCtx, p compat.Params, k Key) {
	a.writeImage(ctx, Partition(k.Key), p["image_id"])
}

func (a *API) staticImage(ctx *fasthttp.RequestCtx, p compat.Params) {
	key := p["api_key"]
	if k, ok := a.keys.lookup(key); ok && k.Type == Recognition {
		a.writeImage(ctx, Partition(k.Key), p["image_id"])
		return
	}
	ctx.SetStatusCode(http.StatusOK)
	ctx.SetContentType("image/jpeg")
}

// ---- recognition, verification, detection ----

type opts struct {
	limit        int
	detThreshold float32
	predCount    int
	plugins      map[string]bool
	status       bool
	detectFaces  bool
}

var imageParams = []string{"limit", "det_prob_threshold", "prediction_count", "face_plugins", "status", "detect_faces"}

func detThreshold(ctx *fasthttp.RequestCtx, q map[string][]string) (float32, bool) {
	v := ""
	if vs := q["det_prob_threshold"]; len(vs) > 0 {
		v = strings.TrimSpace(vs[0])
	}
	if v == "" || v == "undefined" || v == "null" {
		return 0, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 || math.IsNaN(f) {
		fail(ctx, http.StatusBadRequest, codeIncorrectArg, "Detection probability threshold should be between 0.0 and 1.0")
		return 0, false
	}
	return float32(f), true
}

func parseOpts(ctx *fasthttp.RequestCtx) (opts, bool) {
	q := compat.Query(ctx, imageParams...)
	o := opts{predCount: 1, plugins: map[string]bool{}, detectFaces: true}
	if v := strings.TrimSpace(q.Get("limit")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fail(ctx, http.StatusBadRequest, codeIncorrectArg, "limit should be an integer greater than or equal to 0")
			return o, false
		}
		o.limit = n
	}
	if v := strings.TrimSpace(q.Get("prediction_count")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fail(ctx, http.StatusBadRequest, codePredCount, "prediction_count should be greater than 0")
			return o, false
		}
		o.predCount = min(n, 1000)
	}
	thr, ok := detThreshold(ctx, q)
	if !ok {
		return o, false
	}
	o.detThreshold = thr
	if o.plugins, ok = facePlugins(ctx, q.Get("face_plugins")); !ok {
		return o, false
	}
	o.status = strings.EqualFold(strings.TrimSpace(q.Get("status")), "true")
	o.detectFaces = !strings.EqualFold(strings.TrimSpace(q.Get("detect_faces")), "false")
	return o, true
}

func (o opts) detail(template bool) compat.DetailOptions {
	d := compat.DetailOptions{Template: template || o.plugins["calculator"], MaxFaces: o.limit,
		DetThreshold: o.detThreshold, Cropped: !o.detectFaces}
	if o.plugins["age"] {
		d.Attributes |= bindings.AttrAge
	}
	if o.plugins["gender"] {
		d.Attributes |= bindings.AttrGender
	}
	if o.plugins["pose"] {
		d.Attributes |= bindings.AttrPose
	}
	if !o.detectFaces {
		d.MaxFaces = 1
	}
	return d
}

type boxJSON struct {
	Probability float64 `json:"probability"`
	XMax        int     `json:"x_max"`
	YMax        int     `json:"y_max"`
	XMin        int     `json:"x_min"`
	YMin        int     `json:"y_min"`
}

type ageJSON struct {
	Probability float64 `json:"probability"`
	High        int     `json:"high"`
	Low         int     `json:"low"`
}

type genderJSON struct {
	Probability float64 `json:"probability"`
	Value       string  `json:"value"`
}

type poseJSON struct {
	Pitch float64 `json:"pitch"`
	Roll  float64 `json:"roll"`
	Yaw   float64 `json:"yaw"`
}

type subjectJSON struct {
	Subject    string  `json:"subject"`
	Similarity float64 `json:"similarity"`
}

type faceJSON struct {
	Age           *ageJSON           `json:"age,omitempty"`
	Gender        *genderJSON        `json:"gender,omitempty"`
	Pose          *poseJSON          `json:"pose,omitempty"`
	Embedding     []float32          `json:"embedding,omitempty"`
	Box           boxJSON            `json:"box"`
	Landmarks     [][2]int           `json:"landmarks,omitempty"`
	Subjects      *[]subjectJSON     `json:"subjects,omitempty"`
	Similarity    *float64           `json:"similarity,omitempty"`
	ExecutionTime map[string]float64 `json:"execution_time,omitempty"`
	PAD           *compat.PAD        `json:"pad,omitempty"` // Vizor: pad.go
}

func clampi(v float32, hi int) int {
	return max(0, min(hi, int(math.Round(float64(v)))))
}

func (a *API) face(f bindings.Face, an compat.Analysis, o opts) faceJSON {
	out := faceJSON{Box: o.box(f, an)}
	out.PAD = padOf(f, an)
	at := f.Attributes
	if o.plugins["age"] && at != nil && at.Age >= 0 {
		age := int(math.Round(float64(at.Age)))
		out.Age = &ageJSON{Probability: 1, Low: max(0, age-5), High: age + 5}
	}
	if o.plugins["gender"] && at != nil && at.Gender != "" {
		out.Gender = &genderJSON{Probability: compat.Round(float64(at.GenderScore), 5), Value: at.Gender}
	}
	if o.plugins["pose"] && at != nil && at.Pose != nil {
		out.Pose = &poseJSON{Pitch: compat.Round(float64(at.Pose.Pitch), 2), Roll: compat.Round(float64(at.Pose.Roll), 2), Yaw: compat.Round(float64(at.Pose.Yaw), 2)}
	}
	if o.plugins["calculator"] && len(f.Template) > 0 {
		out.Embedding = f.Template
	}
	if o.plugins["landmarks"] {
		out.Landmarks = make([][2]int, 0, len(f.Landmarks5))
		for _, p := range f.Landmarks5 {
			out.Landmarks = append(out.Landmarks, [2]int{clampi(p.X, an.Width), clampi(p.Y, an.Height)})
		}
	}
	if o.status {
		t := an.Timings
		et := map[string]float64{"detector": round1(t.Decode + t.Detect)}
		if len(f.Template) > 0 {
			et["calculator"] = round1(t.Align + t.Embed)
		}
		for _, p := range []string{"age", "gender", "pose"} {
			if o.plugins[p] {
				et[p] = round1(t.Attributes)
			}
		}
		if o.plugins["landmarks"] {
			et["landmarks"] = round1(t.Landmarks)
		}
		out.ExecutionTime = et
	}
	return out
}

func round1(ms float64) float64 { return compat.Round(ms, 1) }

func (a *API) pluginVersions(o opts, calculator bool) map[string]string {
	v := map[string]string{"detector": a.versions["detector"]}
	if calculator || o.plugins["calculator"] {
		v["calculator"] = a.versions["calculator"]
	}
	for p := range o.plugins {
		if a.versions[p] != "" {
			v[p] = a.versions[p]
		}
	}
	return v
}

// analyze runs the detailed engine call; no face is CompreFace's 400/28.
// analyzeFile reads the request's "file" image (multipart, or Base64 in a
// JSON body) and analyses it; false when an error response was written.
func (a *API) analyzeFile(ctx *fasthttp.RequestCtx, o opts, template bool) (compat.Analysis, bool) {
	body, ok := jsonBody(ctx)
	if !ok {
		return compat.Analysis{}, false
	}
	img, ok := a.image(ctx, "file", body)
	if !ok {
		return compat.Analysis{}, false
	}
	return a.analyze(ctx, img, o, template)
}

func (a *API) analyze(ctx *fasthttp.RequestCtx, img []byte, o opts, template bool) (compat.Analysis, bool) {
	an, err := a.d.Engine.AnalyzeDetail(compat.From(ctx).Ctx, img, o.detail(template))
	if err != nil {
		engineErr(ctx, err)
		return an, false
	}
	if template {
		// Faces the recognizer could not embed (no landmarks) are not
		// usable for matching.
		kept := an.Faces[:0]
		for _, f := range an.Faces {
			if len(f.Template) > 0 {
				kept = append(kept, f)
			}
		}
		an.Faces = kept
	}
	if len(an.Faces) == 0 {
		fail(ctx, http.StatusBadRequest, codeNoFaces, "No face is found in the given image")
		return an, false
	}
	return an, !template || a.judgePAD(ctx, &an)
}

func (a *API) probeTemplate(v []float32) gallery.Template {
	return gallery.Template{Model: a.d.Svc.ModelID(), Vector: v}
}

func (a *API) recognize(ctx *fasthttp.RequestCtx, _ compat.Params, k Key) {
	o, ok := parseOpts(ctx)
	if !ok {
		return
	}
	an, ok := a.analyzeFile(ctx, o, true)
	if !ok {
		return
	}
	part, thr := Partition(k.Key), a.d.Threshold()
	result := make([]faceJSON, 0, len(an.Faces))
	for _, f := range an.Faces {
		fj := a.face(f, an, o)
		subs, ok := a.searchSubjects(ctx, part, f.Template, o.predCount, thr)
		if !ok {
			return
		}
		fj.Subjects = &subs
		result = append(result, fj)
	}
	a.writeFaces(ctx, o, result, true)
}

// searchSubjects is the best n subjects of a collection for one template
// (an empty list when the collection has none yet); on a store error it
// answers the request itself.
func (a *API) searchSubjects(ctx *fasthttp.RequestCtx, part string, tmpl []float32, n int, thr float32) ([]subjectJSON, bool) {
	cands, err := a.d.Gallery.Search(part, a.probeTemplate(tmpl), n, -1)
	if err != nil && !errors.Is(err, gallery.ErrPartitionNotFound) {
		a.storeErr(ctx, err)
		return nil, false
	}
	subs := []subjectJSON{}
	for _, c := range cands {
		subs = append(subs, subjectJSON{Subject: c.Subject, Similarity: compat.Similarity(c.Score, thr)})
	}
	return subs, true
}

func (a *API) verifyFace(ctx *fasthttp.RequestCtx, p compat.Params, k Key) {
	o, ok := parseOpts(ctx)
	if !ok {
		return
	}
	part := Partition(k.Key)
	ref, ok := a.refTemplate(ctx, part, p["image_id"], codeImageNotFound)
	if !ok {
		return
	}
	an, ok := a.analyzeFile(ctx, o, true)
	if !ok {
		return
	}
	thr := a.d.Threshold()
	result := make([]faceJSON, 0, len(an.Faces))
	for _, f := range an.Faces {
		fj := a.face(f, an, o)
		s := compat.Similarity(service.Cosine(f.Template, ref.Vector), thr)
		fj.Similarity = &s
		result = append(result, fj)
	}
	a.writeFaces(ctx, o, result, true)
}

// writeFaces answers a recognize, verify or detect request: the faces and,
// with status=true, the plugin versions (the calculator only where a
// template was computed).
func (a *API) writeFaces(ctx *fasthttp.RequestCtx, o opts, result []faceJSON, recognition bool) {
	out := map[string]any{"result": result}
	if o.status {
		out["plugins_versions"] = a.pluginVersions(o, recognition)
	}
	compat.WriteJSON(ctx, http.StatusOK, out)
}

func (a *API) detect(ctx *fasthttp.RequestCtx, _ compat.Params, _ Key) {
	o, ok := parseOpts(ctx)
	if !ok {
		return
	}
	an, ok := a.analyzeFile(ctx, o, false)
	if !ok {
		return
	}
	result := make([]faceJSON, 0, len(an.Faces))
	for _, f := range an.Faces {
		result = append(result, a.face(f, an, o))
	}
	a.writeFaces(ctx, o, result, false)
}

func (a *API) verifyImages(ctx *fasthttp.RequestCtx, _ compat.Params, _ Key) {
	o, ok := parseOpts(ctx)
	if !ok {
		return
	}
	body, ok := jsonBody(ctx)
	if !ok {
		return
	}
	src, ok := a.image(ctx, "source_image", body)
	if !ok {
		return
	}
	tgt, ok := a.image(ctx, "target_image", body)
	if !ok {
		return
	}
	so := o
	so.limit = 0
	sa, ok := a.analyze(ctx, src, so, true)
	if !ok {
		return
	}
	if len(sa.Faces) > 1 {
		fail(ctx, http.StatusBadRequest, codeTooManyFaces, "More than one face in the source image")
		return
	}
	ta, ok := a.analyze(ctx, tgt, o, true)
	if !ok {
		return
	}
	thr := a.d.Threshold()
	matches := make([]faceJSON, 0, len(ta.Faces))
	for _, f := range ta.Faces {
		fj := a.face(f, ta, o)
		s := compat.Similarity(service.Cosine(f.Template, sa.Faces[0].Template), thr)
		fj.Similarity = &s
		matches = append(matches, fj)
	}
	// Best match first.
	for i := 1; i < len(matches); i++ {
		for j := i; j > 0 && *matches[j].Similarity > *matches[j-1].Similarity; j-- {
			matches[j], matches[j-1] = matches[j-1], matches[j]
		}
	}
	item := map[string]any{"source_image_face": a.face(sa.Faces[0], sa, o), "face_matches": matches}
	if o.status {
		item["plugins_versions"] = a.pluginVersions(o, true)
	}
	compat.WriteJSON(ctx, http.StatusOK, map[string]any{"result": []any{item}})
}

// ---- embeddings ----

func (a *API) embeddings(ctx *fasthttp.RequestCtx, raw json.RawMessage, field string) ([][]float32, bool) {
	var es [][]float32
	if len(raw) == 0 || json.Unmarshal(raw, &es) != nil || len(es) == 0 {
		fail(ctx, http.StatusBadRequest, codeMissingParam, fmt.Sprintf("Required field '%s' must be a non-empty array of embeddings", field))
		return nil, false
	}
	for _, e := range es {
		if !a.validEmbedding(ctx, e) {
			return nil, false
		}
	}
	return es, true
}

func (a *API) validEmbedding(ctx *fasthttp.RequestCtx, e []float32) bool {
	dim := a.d.Engine.Info().TemplateDim
	if dim <= 0 {
		dim = 512
	}
	if len(e) != dim {
		fail(ctx, http.StatusBadRequest, codeEmbeddingDim, fmt.Sprintf("Embedding has %d values; the model's embeddings have %d", len(e), dim))
		return false
	}
	var n float64
	for _, x := range e {
		n += float64(x) * float64(x)
	}
	if n == 0 || math.IsNaN(n) || math.IsInf(n, 0) {
		fail(ctx, http.StatusBadRequest, codeIncorrectArg, "Embedding must be a finite, non-zero vector")
		return false
	}
	return true
}

func normalized(e []float32) []float32 {
	var n float64
	for _, x := range e {
		n += float64(x) * float64(x)
	}
	n = math.Sqrt(n)
	out := make([]float32, len(e))
	for i, x := range e {
		out[i] = float32(float64(x) / n)
	}
	return out
}

func embBody(ctx *fasthttp.RequestCtx) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(ctx.PostBody(), &m); err != nil || m == nil {
		fail(ctx, http.StatusBadRequest, codeUndefined, "Request body must be a JSON object")
		return nil, false
	}
	return m, true
}

type embSimilarity struct {
	Embedding  []float32 `json:"embedding"`
	Similarity float64   `json:"similarity"`
}

func (a *API) embRecognize(ctx *fasthttp.RequestCtx, _ compat.Params, k Key) {
	o, ok := parseOpts(ctx)
	if !ok {
		return
	}
	m, ok := embBody(ctx)
	if !ok {
		return
	}
	es, ok := a.embeddings(ctx, m["embeddings"], "embeddings")
	if !ok {
		return
	}
	part, thr := Partition(k.Key), a.d.Threshold()
	type item struct {
		Embedding    []float32     `json:"embedding"`
		Similarities []subjectJSON `json:"similarities"`
	}
	result := make([]item, 0, len(es))
	for _, e := range es {
		sims, ok := a.searchSubjects(ctx, part, normalized(e), o.predCount, thr)
		if !ok {
			return
		}
		result = append(result, item{Embedding: e, Similarities: sims})
	}
	compat.WriteJSON(ctx, http.StatusOK, map[string]any{"result": result})
}

func (a *API) embVerifyFace(ctx *fasthttp.RequestCtx, p compat.Params, k Key) {
	m, ok := embBody(ctx)
	if !ok {
		return
	}
	part := Partition(k.Key)
	ref, ok := a.refTemplate(ctx, part, p["image_id"], codeEmbNotFound)
	if !ok {
		return
	}
	es, ok := a.embeddings(ctx, m["embeddings"], "embeddings")
	if !ok {
		return
	}
	a.writeSims(ctx, ref.Vector, es)
}

func (a *API) embVerify(ctx *fasthttp.RequestCtx, _ compat.Params, _ Key) {
	m, ok := embBody(ctx)
	if !ok {
		return
	}
	var src []float32
	if raw := m["source"]; len(raw) == 0 || json.Unmarshal(raw, &src) != nil || len(src) == 0 {
		fail(ctx, http.StatusBadRequest, codeMissingParam, "Required field 'source' must be an embedding")
		return
	}
	if !a.validEmbedding(ctx, src) {
		return
	}
	targets, ok := a.embeddings(ctx, m["targets"], "targets")
	if !ok {
		return
	}
	a.writeSims(ctx, src, targets)
}

// writeSims scores each embedding against ref, best first.
func (a *API) writeSims(ctx *fasthttp.RequestCtx, ref []float32, es [][]float32) {
	thr := a.d.Threshold()
	result := make([]embSimilarity, 0, len(es))
	for _, e := range es {
		result = append(result, embSimilarity{Embedding: e, Similarity: compat.Similarity(service.Cosine(e, ref), thr)})
	}
	for i := 1; i < len(result); i++ {
		for j := i; j > 0 && result[j].Similarity > result[j-1].Similarity; j-- {
			result[j], result[j-1] = result[j-1], result[j]
		}
	}
	compat.WriteJSON(ctx, http.StatusOK, map[string]any{"result": result})
}
