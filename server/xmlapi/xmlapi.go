// Package xmlapi is the "biometric XML search API" flavour
// (shared/reference-apis/biometric-xml-search-api.txt): POST
// /api/v1/{search,verify,enrol,delete} take JSON (or multipart/form-data)
// and answer XML; GET /health, /partitions, /stats, /version answer JSON.
// Errors are XML <ErrorResponse> documents with status, code and message.
package xmlapi

import (
	"encoding/json"
	"errors"
	"runtime"
	"sort"
	"strconv"

	"github.com/beevik/etree"
	"github.com/valyala/fasthttp"

	"vizor/server"
	"vizor/server/openapi"
	"vizor/server/service"
)

// API is the flavour.
type API struct {
	svc     *service.Service
	maxBody int
}

// New builds the flavour over svc. maxBody bounds multipart parsing.
func New(svc *service.Service, maxBody int) *API {
	return &API{svc: svc, maxBody: maxBody}
}

// Routes implements server.Flavour.
func (a *API) Routes() []server.Route {
	return []server.Route{
		{Method: "POST", Path: "/api/v1/search", Name: "search", Op: service.OpSearch, Limited: true, Handler: a.search},
		{Method: "POST", Path: "/api/v1/verify", Name: "verify", Op: service.OpVerify, Limited: true, Handler: a.verify},
		{Method: "POST", Path: "/api/v1/enrol", Name: "enrol", Op: service.OpEnrol, Limited: true, Handler: a.enrol},
		{Method: "POST", Path: "/api/v1/delete", Name: "delete", Op: service.OpDelete, Limited: true, Handler: a.delete},
		{Method: "POST", Path: "/api/v1/pad_policy", Name: "pad_policy", Op: OpPADPolicy, Handler: a.padPolicy},
		{Method: "GET", Path: "/health", Name: "health", Handler: a.health},
		{Method: "GET", Path: "/version", Name: "version", Handler: a.version},
		{Method: "GET", Path: "/partitions", Name: "partitions", Op: service.OpRead, Handler: a.partitions},
		{Method: "GET", Path: "/stats", Name: "stats", Op: service.OpRead, Handler: a.stats},
		// The API's own description is public, like /health and /version.
		{Method: "GET", Path: "/openapi.json", Name: "openapi", Handler: openapi.Document(openapi.XMLAPI)},
		{Method: "GET", Path: "/docs", Name: "docs", Handler: openapi.Page(openapi.XMLAPI)},
		{Method: "GET", Path: "/xmlapi.xsd", Name: "xsd", Handler: openapi.XMLSchema()},
	}
}

// WriteError implements server.Flavour: an XML ErrorResponse.
func (a *API) WriteError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	doc, root := newDoc("ErrorResponse")
	add(root, "status", strconv.Itoa(status))
	add(root, "code", code)
	add(root, "message", msg)
	if r := server.From(ctx); r.ID != "" {
		add(root, "request_id", r.ID)
	}
	writeXML(ctx, status, doc)
}

// fail maps a service error to this API's status codes.
func (a *API) fail(ctx *fasthttp.RequestCtx, err error) {
	req := server.From(ctx)
	var ae *apiError
	if errors.As(err, &ae) {
		req.ErrCode = ae.code
		a.WriteError(ctx, ae.status, ae.code, ae.msg)
		return
	}
	if errors.Is(err, server.ErrForbidden) {
		req.ErrCode = "forbidden"
		a.WriteError(ctx, fasthttp.StatusForbidden, "forbidden", err.Error())
		return
	}
	status, code := statusOf(err)
	req.ErrCode = code
	if status >= 500 {
		req.Detail = service.LogDetail(err) // the cause, for the log only
	}
	msg := service.Message(err)
	doc, root := newDoc("ErrorResponse")
	add(root, "status", strconv.Itoa(status))
	add(root, "code", code)
	add(root, "message", msg)
	var se *service.Error
	if errors.As(err, &se) && se.Gate != "" {
		add(root, "gate", se.Gate)
		if se.Threshold != 0 {
			add(root, "gate_score", score(se.Score))
			add(root, "threshold", score(se.Threshold))
		}
	}
	if req.ID != "" {
		add(root, "request_id", req.ID)
	}
	if status == fasthttp.StatusServiceUnavailable {
		ctx.Response.Header.Set("Retry-After", "1")
	}
	writeXML(ctx, status, doc)
}

// statusOf is this API's table of status codes.
func statusOf(err error) (int, string) {
	switch service.Kind(err) {
	case service.ErrInvalid:
		return fasthttp.StatusBadRequest, "invalid_request"
	case service.ErrBadImage:
		return fasthttp.StatusBadRequest, "bad_image"
	case service.ErrNoFace:
		return fasthttp.StatusBadRequest, "no_face"
	case service.ErrImageTooLarge:
		return fasthttp.StatusRequestEntityTooLarge, "image_too_large"
	case service.ErrAlignment:
		return fasthttp.StatusUnprocessableEntity, "alignment_failed"
	case service.ErrSpoof:
		return fasthttp.StatusUnavailableForLegalReasons, "spoof_detected"
	case service.ErrMorph:
		return fasthttp.StatusUnprocessableEntity, "morph_detected"
	case service.ErrQuality:
		return fasthttp.StatusUnprocessableEntity, "quality_rejected"
	case service.ErrExtraction:
		return fasthttp.StatusUnprocessableEntity, "extraction_failed"
	case service.ErrPartitionNotFound:
		return fasthttp.StatusNotFound, "partition_not_found"
	case service.ErrSubjectNotFound:
		return fasthttp.StatusNotFound, "subject_not_found"
	case service.ErrNotFound:
		return fasthttp.StatusNotFound, "not_found"
	case service.ErrModelMismatch:
		return fasthttp.StatusConflict, "model_mismatch"
	case service.ErrUnavailable:
		return fasthttp.StatusServiceUnavailable, "unavailable"
	case service.ErrTimeout:
		return fasthttp.StatusServiceUnavailable, "timeout"
	}
	return fasthttp.StatusInternalServerError, "internal"
}

func newDoc(root string) (*etree.Document, *etree.Element) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	return doc, doc.CreateElement(root)
}

func add(e *etree.Element, tag, text string) *etree.Element {
	c := e.CreateElement(tag)
	c.SetText(text)
	return c
}

func writeXML(ctx *fasthttp.RequestCtx, status int, doc *etree.Document) {
	doc.Indent(2)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/xml; charset=utf-8")
	_, _ = doc.WriteTo(ctx)
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	enc := json.NewEncoder(ctx)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// score formats a score with up to 4 decimals.
func score(f float32) string {
	s := strconv.FormatFloat(float64(f), 'f', 4, 32)
	for len(s) > 1 && s[len(s)-1] == '0' && s[len(s)-2] != '.' {
		s = s[:len(s)-1]
	}
	return s
}

func coord(f float32) string { return strconv.FormatFloat(float64(f), 'f', 1, 32) }

// faceElement says which face of the probe was used (a Vizor extension).
func faceElement(root *etree.Element, p service.Probe, requested bool) {
	f := root.CreateElement("face")
	add(f, "index", strconv.Itoa(p.FaceIndex))
	sel := "largest"
	if requested {
		sel = "face_index"
	}
	add(f, "selection", sel)
	add(f, "faces_detected", strconv.Itoa(p.FacesDetected))
	b := f.CreateElement("box")
	b.CreateAttr("x", coord(p.Box.X))
	b.CreateAttr("y", coord(p.Box.Y))
	b.CreateAttr("width", coord(p.Box.W))
	b.CreateAttr("height", coord(p.Box.H))
	add(f, "detection_score", score(p.DetScore))
	if p.Liveness >= 0 {
		add(f, "liveness_score", score(p.Liveness))
	}
	padElement(f, p.PAD)
}

func (a *API) options(in *input) (service.Options, error) {
	o := service.Options{Partition: in.partition}
	if in.faceIndex != nil {
		if *in.faceIndex < 0 {
			return o, &apiError{status: 400, code: "invalid_field", msg: "face_index must be >= 0"}
		}
		o.Face = service.FaceIndex(*in.faceIndex)
	}
	if in.topK != nil {
		if *in.topK < 1 {
			return o, &apiError{status: 400, code: "invalid_field", msg: "top_k must be >= 1"}
		}
		o.TopK = *in.topK
	}
	if in.minScore != nil {
		v := float32(*in.minScore)
		o.MinScore = &v
	}
	if in.threshold != nil {
		v := float32(*in.threshold)
		o.MatchThreshold = &v
	}
	return o, nil
}

// begin parses the request, checks required fields and the API key's scope.
func (a *API) begin(ctx *fasthttp.RequestCtx, op string, needImage, needSubject bool) (*input, service.Options, bool) {
	in, aerr := parse(ctx, op, a.maxBody)
	if aerr != nil {
		a.fail(ctx, aerr)
		return nil, service.Options{}, false
	}
	if needImage && len(in.image) == 0 {
		a.fail(ctx, badRequest("missing_field", "field \"image\" is required"))
		return nil, service.Options{}, false
	}
	if needSubject && in.subject == "" {
		a.fail(ctx, badRequest("missing_field", "field \"subject_id\" is required"))
		return nil, service.Options{}, false
	}
	o, err := a.options(in)
	if err == nil {
		o.PAD, err = padRequest(server.From(ctx), in.padPolicy)
	}
	if err != nil {
		a.fail(ctx, err)
		return nil, o, false
	}
	part := in.partition
	if part == "" {
		part = a.svc.Config().DefaultPartition
	}
	if err := server.From(ctx).Allow(op, part); err != nil {
		a.fail(ctx, err)
		return nil, o, false
	}
	return in, o, true
}

func (a *API) search(ctx *fasthttp.RequestCtx) {
	in, o, ok := a.begin(ctx, service.OpSearch, true, false)
	if !ok {
		return
	}
	res, err := a.svc.Search(server.From(ctx).Ctx, in.image, o)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	doc, root := newDoc("SearchResponse")
	add(root, "status", "OK")
	cs := root.CreateElement("candidates")
	for _, c := range res.Candidates {
		ce := cs.CreateElement("candidate")
		add(ce, "subject_id", c.Subject)
		add(ce, "score", score(c.Score))
		add(ce, "rank", strconv.Itoa(c.Rank))
	}
	add(root, "quality_score", score(res.Probe.Quality))
	add(root, "model_id", res.Probe.ModelID)
	add(root, "partition", res.Partition)
	faceElement(root, res.Probe, in.faceIndex != nil)
	writeXML(ctx, fasthttp.StatusOK, doc)
}

func (a *API) verify(ctx *fasthttp.RequestCtx) {
	in, o, ok := a.begin(ctx, service.OpVerify, true, true)
	if !ok {
		return
	}
	res, err := a.svc.Verify(server.From(ctx).Ctx, in.image, in.subject, o)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	doc, root := newDoc("VerifyResponse")
	add(root, "status", "OK")
	add(root, "match", strconv.FormatBool(res.Match))
	add(root, "score", score(res.Score))
	add(root, "subject_id", res.Subject)
	add(root, "quality_score", score(res.Probe.Quality))
	add(root, "model_id", res.Probe.ModelID)
	add(root, "threshold", score(res.Threshold))
	add(root, "partition", res.Partition)
	faceElement(root, res.Probe, in.faceIndex != nil)
	writeXML(ctx, fasthttp.StatusOK, doc)
}

func (a *API) enrol(ctx *fasthttp.RequestCtx) {
	in, o, ok := a.begin(ctx, service.OpEnrol, true, true)
	if !ok {
		return
	}
	res, err := a.svc.Enrol(server.From(ctx).Ctx, in.image, in.subject, o)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	doc, root := newDoc("EnrolResponse")
	add(root, "status", "OK")
	add(root, "subject_id", res.Subject)
	add(root, "quality_score", score(res.Probe.Quality))
	add(root, "model_id", res.Probe.ModelID)
	add(root, "template_id", res.TemplateID)
	add(root, "partition", res.Partition)
	faceElement(root, res.Probe, in.faceIndex != nil)
	writeXML(ctx, fasthttp.StatusOK, doc)
}

func (a *API) delete(ctx *fasthttp.RequestCtx) {
	in, o, ok := a.begin(ctx, service.OpDelete, false, true)
	if !ok {
		return
	}
	res, err := a.svc.Delete(server.From(ctx).Ctx, in.subject, o)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	doc, root := newDoc("DeleteResponse")
	add(root, "status", "OK")
	add(root, "subject_id", res.Subject)
	add(root, "templates_removed", strconv.Itoa(res.Removed))
	add(root, "partition", res.Partition)
	writeXML(ctx, fasthttp.StatusOK, doc)
}

// madNote is what /health says about the MAD slot when it is empty.
const madNote = "no MAD (morphing attack detection) model ships with Vizor: the enrol MAD gate is off and enrolments are not checked for morphing until a MAD model is configured (mad_model)"

func (a *API) health(ctx *fasthttp.RequestCtx) {
	comp, st := a.svc.Health(server.From(ctx).Ctx)
	out := map[string]bool{
		"faiss_index":      comp["gallery"],
		"onnx_detection":   comp["detection"],
		"onnx_recognition": comp["recognition"],
		"onnx_quality":     comp["quality"],
		"onnx_pad":         comp["pad"],
		"onnx_alignment":   comp["alignment"],
	}
	healthy := true
	for _, v := range out {
		healthy = healthy && v
	}
	mad := map[string]any{"enabled": a.svc.MADEnabled(), "status": "not_configured", "note": madNote}
	if a.svc.MADEnabled() {
		mad = map[string]any{"enabled": true, "status": "configured", "model": a.svc.Config().MAD.Name()}
	}
	cfg := a.svc.Config()
	body := map[string]any{
		"status":     "healthy",
		"components": out,
		"mad":        mad,
		"gates": []map[string]any{
			{"gate": "detection", "enabled": true},
			{"gate": "alignment", "enabled": true},
			{"gate": "pad", "enabled": cfg.PADThreshold > 0, "threshold": cfg.PADThreshold, "default_policy": padDefault(cfg)},
			{"gate": "mad", "enabled": a.svc.MADEnabled(), "enrol_only": true},
			{"gate": "quality", "enabled": true, "threshold": cfg.QualityThreshold, "probe_threshold": cfg.ProbeQualityThreshold},
			{"gate": "extraction", "enabled": true},
		},
		"model_id": st.ModelID,
	}
	// A gallery that cannot write (a full disk, a read-only or failing
	// filesystem) still searches: the server is degraded, not down.
	if sto := a.svc.Storage(); sto.Checked || !sto.Writable {
		so := map[string]any{"writable": sto.Writable, "free_bytes": sto.FreeBytes}
		if !sto.Writable {
			so["cause"] = sto.Cause
			body["status"] = "degraded"
		}
		body["storage"] = so
	}
	// Which gallery backend serves, and when it cannot, why (a cluster
	// below quorum names its unreachable nodes).
	if kind, err := a.svc.GalleryStatus(server.From(ctx).Ctx); kind != "" {
		g := map[string]any{"backend": kind, "ok": err == nil}
		if err != nil {
			g["cause"] = err.Error()
		}
		body["gallery"] = g
	}
	status := fasthttp.StatusOK
	if !healthy {
		body["status"] = "unhealthy"
		status = fasthttp.StatusServiceUnavailable
	}
	writeJSON(ctx, status, body)
}

func (a *API) version(ctx *fasthttp.RequestCtx) {
	info := a.svc.EngineStatus()
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"version":        server.Version,
		"api":            "biometric-xml-search/v1",
		"go":             runtime.Version(),
		"engine_version": info.Version,
		"abi_version":    info.ABIVersion,
		"backend":        info.Backend,
		"model_id":       info.ModelID,
		"models":         info.Models,
	})
}

func (a *API) partitions(ctx *fasthttp.RequestCtx) {
	req := server.From(ctx)
	ps, err := a.svc.Partitions(req.Ctx)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if req.AllowsPartition(p) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"partitions": out})
}

func (a *API) stats(ctx *fasthttp.RequestCtx) {
	req := server.From(ctx)
	st, err := a.svc.Stats(req.Ctx)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	subj := map[string]int{}
	tmpl := map[string]int{}
	total, totalT := 0, 0
	for p, c := range st.Partitions {
		if !req.AllowsPartition(p) {
			continue
		}
		subj[p] = c.Subjects
		tmpl[p] = c.Templates
		total += c.Subjects
		totalT += c.Templates
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"total_subjects":         total,
		"partitions":             subj,
		"total_templates":        totalT,
		"templates_by_partition": tmpl,
	})
}
