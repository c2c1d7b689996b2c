// Package masshealth serves the MassHealth face verification API
// (masshealth-face-verification-api.txt): /health, /model_info, /compare,
// /verify_user and /batch_compare. A user's stored verification images (up
// to 10) come from Vizor's gallery (partition "masshealth", one subject per
// userId) instead of a Supabase bucket; /upload_verification_images stores
// them. Scores are Vizor's cosine scores mapped to [0,1] with the
// calibrated match threshold at 0.5 (compat.Similarity), so the API's
// default threshold 0.5 is Vizor's calibrated one. README.md ("MassHealth
// API") has the details.
package masshealth

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/valyala/fasthttp"

	"vizor/server"
	"vizor/server/compat"
	"vizor/server/service"
)

// Partition holds the users' verification images.
const Partition = "masshealth"

// Limits of the documented API.
const (
	MaxImages = 10 // per /verify_user request, and stored per user
	MaxPairs  = 10 // per /batch_compare request
)

// DefaultThreshold is the documented default, in similarity units.
const DefaultThreshold = 0.5

// API is the MassHealth flavour.
type API struct {
	d     compat.Deps
	port  int
	model modelStats
	users userLocks // per-user check-and-store of verification images
}

type modelStats struct {
	path       string
	params     int64
	layers     int
	inputShape string
	output     string
	name, id   string
}

// New builds the flavour; addr is its listen address (for /health).
func New(d compat.Deps, addr string) *API {
	a := &API{d: d}
	if _, p, err := net.SplitHostPort(addr); err == nil {
		a.port, _ = strconv.Atoi(p)
	}
	info := d.Engine.Info()
	for _, m := range info.Models {
		if m.Role != "recognizer" {
			continue
		}
		a.model.name, a.model.id = m.Name, m.ID
		a.model.path = m.File
		if !filepath.IsAbs(a.model.path) {
			a.model.path = filepath.Join(d.Cfg.ModelsDir, m.File)
		}
		if abs, err := filepath.Abs(a.model.path); err == nil {
			a.model.path = abs
		}
		a.model.inputShape = fmt.Sprintf("(None, %d, %d, %d)", m.InputH, m.InputW, m.InputC)
	}
	a.model.output = fmt.Sprintf("(None, %d)", info.TemplateDim)
	if st, err := onnxStats(a.model.path); err == nil {
		a.model.params, a.model.layers = st.params, st.nodes
	}
	return a
}

// Name implements compat.API.
func (a *API) Name() string { return "masshealth" }

type errBody struct {
	Error string `json:"error"`
}

// WriteError implements compat.API.
func (a *API) WriteError(ctx *fasthttp.RequestCtx, status int, msg string) {
	compat.WriteJSON(ctx, status, errBody{msg})
}

func fail(ctx *fasthttp.RequestCtx, status int, msg string) {
	compat.From(ctx).Detail = msg
	compat.WriteJSON(ctx, status, errBody{msg})
}

// Routes implements compat.API.
func (a *API) Routes() []compat.Route {
	return []compat.Route{
		{Method: "GET", Pattern: "/health", Name: "health", Handler: a.health},
		{Method: "GET", Pattern: "/model_info", Name: "model_info", Handler: a.modelInfo},
		{Method: "POST", Pattern: "/compare", Name: "compare", Limited: true, Handler: a.compare},
		{Method: "POST", Pattern: "/verify_user", Name: "verify_user", Limited: true, Handler: a.verifyUser},
		{Method: "POST", Pattern: "/batch_compare", Name: "batch_compare", Limited: true, Handler: a.batchCompare},
		{Method: "POST", Pattern: "/upload_verification_images", Name: "upload_verification_images", Limited: true, Handler: a.upload},
		{Method: "GET", Pattern: "/verification_images/{userId}", Name: "list_verification_images", Handler: a.listImages},
		{Method: "DELETE", Pattern: "/verification_images/{userId}", Name: "delete_verification_images", Handler: a.deleteImages},
	}
}

// ready reports whether the engine's recognizer and the store are up (the
// API's "model loaded" and "Supabase connected").
func (a *API) ready(ctx *fasthttp.RequestCtx) (bool, bool) {
	comp, _ := a.d.Svc.Health(compat.From(ctx).Ctx)
	return comp["recognition"] && comp["detection"], comp["gallery"]
}

func (a *API) health(ctx *fasthttp.RequestCtx, _ compat.Params) {
	model, store := a.ready(ctx)
	_, statErr := os.Stat(a.model.path)
	wd, _ := os.Getwd()
	dataDir, _ := filepath.Abs(a.d.Cfg.DataDir)
	status, code := "healthy", http.StatusOK
	sto := a.d.Svc.Storage()
	if !sto.Writable {
		status = "degraded" // reads work; stores fail (a full disk...)
	}
	if !model || !store {
		status, code = "unhealthy", http.StatusServiceUnavailable
	}
	info := a.d.Engine.Info()
	out := map[string]any{
		"status":             status,
		"model_loaded":       model,
		"model_path":         a.model.path,
		"model_exists":       statErr == nil,
		"tensorflow_version": "none: Vizor " + server.Version + " runs ONNX models in its native engine " + info.EngineVersion + " (OpenCV " + info.OpenCVVersion + ")",
		"working_directory":  wd,
		"port":               a.port,
		"supabase_connected": store,
		"supabase_url":       "vizor-gallery://" + dataDir + "#" + Partition,
	}
	if !sto.Writable {
		out["storage_error"] = sto.Cause
	}
	compat.WriteJSON(ctx, code, out)
}

func (a *API) modelInfo(ctx *fasthttp.RequestCtx, _ compat.Params) {
	model, _ := a.ready(ctx)
	compat.WriteJSON(ctx, http.StatusOK, map[string]any{
		"model_loaded":     model,
		"total_parameters": a.model.params,
		"input_shape":      a.model.inputShape,
		"output_shape":     a.model.output,
		"model_layers":     a.model.layers,
		"model_name":       a.model.name,
		"model_id":         a.model.id,
		"model_family":     "ArcFace-style 512-d face embedding (ONNX); similarity_score = (1 + tanh(5 * (cosine - match_threshold))) / 2",
		"match_threshold":  a.d.Threshold(),
	})
}

// threshold reads an optional threshold in [0,1].
func threshold(ctx *fasthttp.RequestCtx, raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return DefaultThreshold, true
	}
	var t float64
	if err := json.Unmarshal(raw, &t); err != nil || t < 0 || t > 1 || math.IsNaN(t) {
		fail(ctx, http.StatusBadRequest, "threshold must be a number between 0 and 1")
		return 0, false
	}
	return t, true
}

func body(ctx *fasthttp.RequestCtx) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(ctx.PostBody(), &m); err != nil || m == nil {
		fail(ctx, http.StatusBadRequest, "Request body must be a JSON object")
		return nil, false
	}
	return m, padField(ctx, m)
}

func str(m map[string]json.RawMessage, k string) string {
	var s string
	if raw, ok := m[k]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// decode reads one base64 image and converts formats the engine does not
// read.
func (a *API) decode(s string) ([]byte, error) {
	up, err := compat.Base64Field(s, a.d.BodyImageLimit())
	switch {
	case errors.Is(err, compat.ErrTooLarge):
		return nil, &service.Error{Kind: service.ErrImageTooLarge, Msg: fmt.Sprintf("image larger than %d MB", a.d.BodyImageLimit()>>20)}
	case err != nil:
		return nil, &service.Error{Kind: service.ErrBadImage, Msg: "image is not valid base64"}
	}
	img, _, err := compat.Normalize(up.Data, a.d.Cfg.MaxPixels)
	return img, err
}

// extract gets a gated template from one base64 image.
func (a *API) extract(ctx *fasthttp.RequestCtx, op, s string) (service.Probe, error) {
	img, err := a.decode(s)
	if err != nil {
		return service.Probe{}, err
	}
	return a.d.Svc.Extract(compat.From(ctx).Ctx, op, img, a.opts(ctx))
}

// reason is a short client message for an extraction failure.
func reason(err error) string {
	switch service.Kind(err) {
	case service.ErrNoFace:
		return "no face detected"
	case service.ErrBadImage, service.ErrImageTooLarge:
		return "invalid image: " + service.Message(err)
	}
	return service.Message(err)
}

// status maps an extraction failure to an HTTP status: the client's image
// (400), the engine (503), anything else (500).
func status(err error) int {
	switch service.Kind(err) {
	case service.ErrTimeout, service.ErrUnavailable:
		return http.StatusServiceUnavailable
	case service.ErrInternal:
		return http.StatusInternalServerError
	case service.ErrImageTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

type scored struct {
	score float64
	match bool
}

func (a *API) score(cos float32, thr float64) scored {
	s := compat.Similarity(cos, a.d.Threshold())
	return scored{score: s, match: isMatch(s, thr)}
}

func (a *API) compare(ctx *fasthttp.RequestCtx, _ compat.Params) {
	m, ok := body(ctx)
	if !ok {
		return
	}
	i1, i2 := str(m, "image1"), str(m, "image2")
	if i1 == "" || i2 == "" {
		fail(ctx, http.StatusBadRequest, "Missing image1 or image2")
		return
	}
	thr, ok := threshold(ctx, m["threshold"])
	if !ok {
		return
	}
	res, pads, err := a.comparePair(ctx, i1, i2)
	if err != nil {
		fail(ctx, status(err), err.Error())
		return
	}
	sc := a.score(res, thr)
	out := map[string]any{
		"match": sc.match, "similarity_score": sc.score, "threshold": thr, "confidence": compat.Confidence(sc.score, thr),
	}
	if p := padPair(pads); len(p) > 0 {
		out["pad"] = p
	}
	compat.WriteJSON(ctx, http.StatusOK, out)
}

type pairErr struct {
	which int
	err   error
}

func (e *pairErr) Error() string { return fmt.Sprintf("image%d: %s", e.which, reason(e.err)) }
func (e *pairErr) Unwrap() error { return e.err }

// compareTwo returns the cosine score of two base64 images.
func (a *API) compareTwo(ctx *fasthttp.RequestCtx, s1, s2 string) (float32, error) {
	cos, _, err := a.comparePair(ctx, s1, s2)
	return cos, err
}

func (a *API) batchCompare(ctx *fasthttp.RequestCtx, _ compat.Params) {
	m, ok := body(ctx)
	if !ok {
		return
	}
	var pairs []map[string]string
	if raw, ok := m["pairs"]; !ok || json.Unmarshal(raw, &pairs) != nil || len(pairs) == 0 {
		fail(ctx, http.StatusBadRequest, "Missing pairs")
		return
	}
	if len(pairs) > MaxPairs {
		fail(ctx, http.StatusBadRequest, fmt.Sprintf("Maximum %d pairs allowed per request", MaxPairs))
		return
	}
	thr, ok := threshold(ctx, m["threshold"])
	if !ok {
		return
	}
	type out struct {
		cos float32
		err error
	}
	outs := make([]out, len(pairs))
	var wg sync.WaitGroup
	for i, p := range pairs {
		if p["image1"] == "" || p["image2"] == "" {
			outs[i].err = errors.New("missing image1 or image2")
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i].cos, outs[i].err = a.compareTwo(ctx, p["image1"], p["image2"])
		}()
	}
	wg.Wait()
	matches := make([]bool, len(pairs))
	details := make([]map[string]any, len(pairs))
	okN := 0
	for i, o := range outs {
		if o.err != nil {
			details[i] = map[string]any{"pair_index": i, "match": false, "error": "Failed to process this pair", "reason": o.err.Error()}
			continue
		}
		sc := a.score(o.cos, thr)
		matches[i] = sc.match
		okN++
		details[i] = map[string]any{"pair_index": i, "match": sc.match, "similarity_score": sc.score, "confidence": compat.Confidence(sc.score, thr)}
	}
	compat.WriteJSON(ctx, http.StatusOK, map[string]any{
		"matches": matches, "detailed_results": details, "threshold": thr,
		"total_pairs": len(pairs), "successful_pairs": okN,
	})
}

// images reads a JSON array of base64 strings.
func images(m map[string]json.RawMessage) ([]string, bool) {
	var xs []string
	raw, ok := m["images"]
	if !ok || json.Unmarshal(raw, &xs) != nil || len(xs) == 0 {
		return nil, false
	}
	return xs, true
}

func (a *API) verifyUser(ctx *fasthttp.RequestCtx, _ compat.Params) {
	m, ok := body(ctx)
	if !ok {
		return
	}
	user := str(m, "userId")
	imgs, ok := images(m)
	if user == "" || !ok {
		fail(ctx, http.StatusBadRequest, "Missing userId or images")
		return
	}
	if len(imgs) > MaxImages {
		fail(ctx, http.StatusBadRequest, fmt.Sprintf("Maximum %d images allowed per request", MaxImages))
		return
	}
	thr, ok := threshold(ctx, m["threshold"])
	if !ok {
		return
	}
	if model, store := a.ready(ctx); !model || !store {
		fail(ctx, http.StatusServiceUnavailable, "Model not loaded or verification image store not connected")
		return
	}
	refs, err := a.storedImages(user)
	if err != nil {
		a.storeErr(ctx, err)
		return
	}
	if len(refs) == 0 {
		fail(ctx, http.StatusNotFound, "No verification images found for user "+user)
		return
	}
	probes := make([]service.Probe, len(imgs))
	errs := make([]error, len(imgs))
	var wg sync.WaitGroup
	for i, s := range imgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			probes[i], errs[i] = a.extract(ctx, service.OpVerify, s)
		}()
	}
	wg.Wait()
	matched := 0
	details := make([]map[string]any, len(imgs))
	for i := range imgs {
		d := map[string]any{"provided_image_index": i}
		details[i] = d
		if errs[i] != nil {
			if st := status(errs[i]); st >= 500 {
				fail(ctx, st, service.Message(errs[i]))
				return
			}
			d["matches"], d["has_match"], d["best_score"], d["error"] = []any{}, false, 0.0, reason(errs[i])
			continue
		}
		scores := make([]refImage, len(refs))
		for j, r := range refs {
			scores[j] = refImage{r.name, a.score(service.Cosine(probes[i].Template, r.vec), thr).score}
		}
		var has bool
		details[i], has = comparison(i, scores, thr)
		compat.AddPAD(details[i], probes[i].PAD)
		if has {
			matched++
		}
	}
	pct := compat.Round(100*float64(matched)/float64(len(imgs)), 2)
	compat.WriteJSON(ctx, http.StatusOK, map[string]any{
		"user_id":                   user,
		"verification_passed":       passed(matched),
		"images_matched":            matched,
		"total_images_provided":     len(imgs),
		"match_percentage":          pct,
		"threshold":                 thr,
		"verification_images_found": len(refs),
		"detailed_comparisons":      details,
	})
}
