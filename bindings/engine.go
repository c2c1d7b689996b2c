// Package bindings is Vizor's cgo binding over the native engine's C ABI
// (native/include/vizor_c.h). It compiles no C++: it links libvizor.so, which
// CMake builds into build/native/ (an rpath to it is embedded, so binaries
// built in this tree find it without environment variables).
//
// One cgo crossing analyses a whole batch. Inputs are pinned for the duration
// of the call only and every output is copied into Go memory before the
// native result is freed, so C never keeps a Go pointer.
package bindings

/*
#cgo CFLAGS: -I${SRCDIR}/../native/include
#cgo LDFLAGS: -L${SRCDIR}/../build/native -lvizor -Wl,-rpath,${SRCDIR}/../build/native
#include <stdlib.h>
#include "vizor_c.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"unsafe"
)

// Config configures an engine. Zero values take the documented defaults.
type Config struct {
	ModelsDir        string // directory with the ONNX files and manifest.json
	ManifestPath     string // "": <ModelsDir>/manifest.json
	Workers          int    // concurrent analyses inside the engine; 0: number of CPUs
	ThreadsPerWorker int    // threads per forward pass (OpenCV and ONNX Runtime intra-op); 0: 1
	Backend          string // "cpu" (default) or "cuda"
	Precision        string // "fp32" (default) or "fp16"
	MaxPixels        int64  // refuse images declaring more pixels; 0: 50 megapixels
	MaxBytes         int64  // refuse larger encoded inputs; 0: 32 MiB
	VerifyChecksums  bool   // check each model's sha256 against the manifest at load
	// MaxFaces caps the faces per image taken past detection (largest
	// first), whatever Options.MaxFaces asks; 0: 64.
	MaxFaces int
	// MaxInFlight bounds concurrent native calls from Go (a semaphore);
	// callers beyond it wait or give up with their context. 0: 2 x Workers.
	MaxInFlight int
}

// ABIVersion is the version of vizor_c.h this package was compiled against;
// Info().ABIVersion is the loaded library's.
const ABIVersion = int(C.VZ_ABI_VERSION)

// Engine is a loaded native engine. It is safe for concurrent use.
type Engine struct {
	mu     sync.RWMutex // Close takes it exclusively; calls share it
	h      *C.vz_engine
	sem    chan struct{}
	info   Info
	labels []string // expression labels, by index
}

// Open loads the manifest and every model it names.
func Open(cfg Config) (*Engine, error) {
	if cfg.ModelsDir == "" {
		return nil, &Error{Kind: ErrInvalidArgument, Message: "models dir is empty"}
	}
	manifest := cfg.ManifestPath
	if manifest == "" {
		manifest = filepath.Join(cfg.ModelsDir, "manifest.json")
	}
	cs := newCStrings()
	defer cs.free()
	var cc C.vz_engine_config
	cc.models_dir = cs.add(cfg.ModelsDir)
	cc.manifest_path = cs.add(manifest)
	cc.workers = C.int32_t(cfg.Workers)
	cc.threads_per_worker = C.int32_t(cfg.ThreadsPerWorker)
	cc.backend = cs.add(orDefault(cfg.Backend, "cpu"))
	cc.precision = cs.add(orDefault(cfg.Precision, "fp32"))
	cc.max_pixels = C.int64_t(cfg.MaxPixels)
	cc.max_bytes = C.int64_t(cfg.MaxBytes)
	cc.max_faces = C.int32_t(cfg.MaxFaces)
	if cfg.VerifyChecksums {
		cc.verify_checksums = 1
	}
	var h *C.vz_engine
	if err := takeStatus(C.vz_Engine_Create(&cc, &h)); err != nil {
		return nil, err
	}
	e := &Engine{h: h}
	var ci C.vz_engine_info
	if err := takeStatus(C.vz_Engine_Info(h, &ci)); err != nil {
		C.vz_Engine_Destroy(h)
		return nil, err
	}
	e.info = infoFromC(&ci)
	inFlight := cfg.MaxInFlight
	if inFlight <= 0 {
		inFlight = 2 * e.info.Workers
		if inFlight <= 0 {
			inFlight = 2 * runtime.NumCPU()
		}
	}
	e.sem = make(chan struct{}, inFlight)
	e.labels, e.info.MatchThreshold = manifestExtras(manifest)
	return e, nil
}

// Close releases the engine. It waits for calls in flight, is safe to call
// twice, and later calls return ErrClosed.
func (e *Engine) Close() error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h != nil {
		C.vz_Engine_Destroy(e.h)
		e.h = nil
	}
	return nil
}

// Info returns the engine's versions, backend and models.
func (e *Engine) Info() Info { return e.info }

// Analyze runs the pipeline over a batch of encoded images in one native
// call. The returned slice has one Result per input, in order; per-image
// failures (including a stage that failed on that image only) are in
// Result.Err. The error is non-nil only when the whole call failed (closed
// engine, invalid options, internal error) or ctx ended before it completed:
// then the native work stops at its next stage boundary and the error is
// ctx.Err().
func (e *Engine) Analyze(ctx context.Context, images [][]byte, opts Options) ([]Result, error) {
	if len(images) == 0 {
		return nil, nil
	}
	if len(images) > math.MaxInt32 {
		return nil, &Error{Kind: ErrInvalidArgument, Message: "batch too large"}
	}
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-e.sem }()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.h == nil {
		return nil, ErrClosed
	}

	// The image descriptors live in C memory; the bytes they point to are
	// Go memory, pinned until the call returns.
	var pin runtime.Pinner
	defer pin.Unpin()
	descs := (*[1 << 30]C.vz_image)(C.calloc(C.size_t(len(images)), C.size_t(unsafe.Sizeof(C.vz_image{}))))[:len(images):len(images)]
	defer C.free(unsafe.Pointer(&descs[0]))
	for i, img := range images {
		if len(img) > 0 {
			pin.Pin(&img[0])
			descs[i].data = (*C.uint8_t)(unsafe.Pointer(&img[0]))
			descs[i].len = C.int64_t(len(img))
		}
	}
	co := C.vz_analyze_options{
		stages:        C.uint32_t(opts.Stages),
		attributes:    C.uint32_t(opts.Attributes),
		max_faces:     C.int32_t(opts.MaxFaces),
		det_threshold: C.float(opts.DetThreshold),
		min_face_px:   C.int32_t(opts.MinFacePx),
	}
	if ctx.Done() != nil {
		tok, stop, err := cancelToken(ctx)
		if err != nil {
			return nil, err
		}
		defer stop()
		co.cancel = tok
	}
	var out *C.vz_batch_result
	if err := takeStatus(C.vz_Engine_Analyze(e.h, &descs[0], C.int32_t(len(images)), &co, &out)); err != nil {
		return nil, err
	}
	defer C.vz_BatchResult_Free(out)
	results := e.copyResults(out, len(images))
	if err := ctx.Err(); err != nil {
		for _, r := range results {
			if errors.Is(r.Err, ErrCancelled) {
				return nil, err
			}
		}
	}
	return results, nil
}

// cancelToken makes a native cancellation token that ctx's end sets. The
// token lives in C memory (C never holds a Go pointer); release waits for a
// setter already running before it frees the token.
func cancelToken(ctx context.Context) (*C.vz_cancel, func(), error) {
	var tok *C.vz_cancel
	if err := takeStatus(C.vz_Cancel_Create(&tok)); err != nil {
		return nil, nil, err
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		_ = takeStatus(C.vz_Cancel_Set(tok))
	})
	release := func() {
		if !stop() {
			<-fired
		}
		C.vz_Cancel_Destroy(tok)
	}
	return tok, release, nil
}

// AnalyzeOne is Analyze for a single image; the image's own failure is
// returned as the error.
func (e *Engine) AnalyzeOne(ctx context.Context, image []byte, opts Options) (Result, error) {
	rs, err := e.Analyze(ctx, [][]byte{image}, opts)
	if err != nil {
		return Result{}, err
	}
	return rs[0], rs[0].Err
}

// Probe reads an encoded image's header: its format and declared size,
// without decoding pixels.
func Probe(data []byte) (format string, width, height int, err error) {
	if len(data) == 0 {
		return "", 0, 0, &Error{Kind: ErrDecode, Message: "empty image"}
	}
	var fmtBuf [16]C.char
	var w, h C.int32_t
	var pin runtime.Pinner
	pin.Pin(&data[0])
	defer pin.Unpin()
	st := C.vz_Image_Probe((*C.uint8_t)(unsafe.Pointer(&data[0])), C.int64_t(len(data)), &fmtBuf[0], &w, &h)
	if err := takeStatus(st); err != nil {
		return "", 0, 0, err
	}
	return C.GoString(&fmtBuf[0]), int(w), int(h), nil
}

func (e *Engine) copyResults(out *C.vz_batch_result, n int) []Result {
	cres := unsafe.Slice(out.images, int(out.count))
	results := make([]Result, n)
	for i := 0; i < n && i < len(cres); i++ {
		r := &cres[i]
		res := Result{
			Width:  int(r.width),
			Height: int(r.height),
			Timings: Timings{
				Decode: float64(r.timings.decode), Detect: float64(r.timings.detect),
				Landmarks: float64(r.timings.landmarks), Align: float64(r.timings.align),
				Liveness: float64(r.timings.liveness), Embed: float64(r.timings.embed),
				Quality: float64(r.timings.quality), Attributes: float64(r.timings.attributes),
				Total: float64(r.timings.total),
			},
		}
		if code := int(r.code); code != codeOK {
			res.Err = newError(code, C.GoString(&r.message[0]))
			results[i] = res
			continue
		}
		if r.num_faces > 0 {
			cf := unsafe.Slice(r.faces, int(r.num_faces))
			res.Faces = make([]Face, len(cf))
			for j := range cf {
				res.Faces[j] = e.faceFromC(&cf[j])
			}
		}
		results[i] = res
	}
	return results
}

func (e *Engine) faceFromC(f *C.vz_face) Face {
	face := Face{
		Box:      Rect{X: float32(f.x), Y: float32(f.y), W: float32(f.w), H: float32(f.h)},
		DetScore: float32(f.det_score),
		Liveness: float32(f.liveness),
	}
	switch f.liveness_status {
	case C.VZ_LIVENESS_SCORED:
		face.LivenessStatus = LivenessScored
	case C.VZ_LIVENESS_GREYSCALE:
		face.LivenessStatus = LivenessGreyscale
	case C.VZ_LIVENESS_FACE_TOO_SMALL:
		face.LivenessStatus = LivenessFaceTooSmall
	default:
		face.LivenessStatus = LivenessNotComputed
	}
	lm5 := make([]Point, C.VZ_LANDMARKS5)
	for k := range lm5 {
		lm5[k] = Point{float32(f.landmarks5[2*k]), float32(f.landmarks5[2*k+1])}
	}
	face.Landmarks5 = lm5
	if !allZero(f.landmarks68[:]) {
		lm := make([]Point, C.VZ_LANDMARKS68)
		for k := range lm {
			lm[k] = Point{float32(f.landmarks68[2*k]), float32(f.landmarks68[2*k+1])}
		}
		face.Landmarks68 = lm
	}
	if q := f.quality; q.score >= 0 {
		face.Quality = &Quality{
			Score: float32(q.score), Size: float32(q.size), Confidence: float32(q.confidence),
			Pose: float32(q.pose), Sharpness: float32(q.sharpness), Exposure: float32(q.exposure),
			EyesOpen: float32(q.eyes_open),
		}
	}
	if a := &f.attributes; attributesPresent(a) {
		attrs := &Attributes{
			Age: float32(a.age), GenderScore: float32(a.gender_score),
			LeftEyeOpen: float32(a.left_eye_open), RightEyeOpen: float32(a.right_eye_open),
		}
		if !math.IsNaN(float64(a.yaw)) {
			attrs.Pose = &Pose{Yaw: float32(a.yaw), Pitch: float32(a.pitch), Roll: float32(a.roll)}
		}
		switch a.gender {
		case 0:
			attrs.Gender = "female"
		case 1:
			attrs.Gender = "male"
		}
		if idx := int(a.expression); idx >= 0 {
			attrs.ExpressionScores = make(map[string]float32, len(e.labels))
			for k, l := range e.labels {
				if k < C.VZ_EXPRESSIONS {
					attrs.ExpressionScores[l] = float32(a.expression_scores[k])
				}
			}
			if idx < len(e.labels) {
				attrs.Expression = e.labels[idx]
			}
		}
		face.Attributes = attrs
	}
	if f.template_data != nil && f.template_dim > 0 {
		src := unsafe.Slice((*float32)(unsafe.Pointer(f.template_data)), int(f.template_dim))
		face.Template = append([]float32(nil), src...)
	}
	return face
}

func attributesPresent(a *C.vz_attributes) bool {
	return a.age >= 0 || a.gender >= 0 || !math.IsNaN(float64(a.yaw)) || a.expression >= 0 || a.left_eye_open >= 0
}

func allZero(v []C.float) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

func infoFromC(ci *C.vz_engine_info) Info {
	info := Info{
		ABIVersion:    int(ci.abi_version),
		EngineVersion: C.GoString(&ci.engine_version[0]),
		OpenCVVersion: C.GoString(&ci.opencv_version[0]),
		Backend:       C.GoString(&ci.backend[0]),
		CUDABuilt:     ci.cuda_built != 0,
		CUDADevices:   int(ci.cuda_devices),
		Workers:       int(ci.workers),
		TemplateDim:   int(ci.template_dim),
		RecognizerID:  C.GoString(&ci.recognizer_id[0]),
	}
	for i := 0; i < int(ci.num_models) && i < C.VZ_MAX_MODELS; i++ {
		m := &ci.models[i]
		info.Models = append(info.Models, ModelInfo{
			Role: C.GoString(&m.role[0]), Name: C.GoString(&m.name[0]), ID: C.GoString(&m.id[0]),
			File: C.GoString(&m.file[0]), SHA256: C.GoString(&m.sha256[0]),
			InputW: int(m.input_w), InputH: int(m.input_h), InputC: int(m.input_c),
			Loaded: m.loaded != 0,
		})
	}
	return info
}

// takeStatus converts a native status into a Go error and frees its message.
func takeStatus(st C.vz_status) error {
	if st.code == codeOK {
		return nil
	}
	msg := ""
	if st.message != nil {
		msg = C.GoString(st.message)
	}
	C.vz_Status_Free(&st)
	return newError(int(st.code), msg)
}

// fer2013Labels is the class order of the FER2013-style expression model,
// used when the manifest does not list labels.
var fer2013Labels = []string{"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}

// DefaultMatchThreshold is the cosine score at or above which two templates
// are taken as the same person when the manifest's recognizer entry names no
// calibrated "match_threshold".
const DefaultMatchThreshold = 0.45

// manifestExtras reads what only the Go side needs from the manifest: the
// expression labels and the recognizer's calibrated match threshold.
func manifestExtras(manifest string) (labels []string, threshold float32) {
	labels, threshold = fer2013Labels, DefaultMatchThreshold
	raw, err := os.ReadFile(manifest)
	if err != nil {
		return
	}
	var m struct {
		Models []struct {
			Role           string   `json:"role"`
			Labels         []string `json:"labels"`
			MatchThreshold float32  `json:"match_threshold"`
		} `json:"models"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return
	}
	for _, x := range m.Models {
		switch {
		case x.Role == "expression" && len(x.Labels) > 0:
			labels = x.Labels
		case x.Role == "recognizer" && x.MatchThreshold > 0:
			threshold = x.MatchThreshold
		}
	}
	return
}

type cStrings []*C.char

func newCStrings() *cStrings { return &cStrings{} }

func (c *cStrings) add(s string) *C.char {
	p := C.CString(s)
	*c = append(*c, p)
	return p
}

func (c *cStrings) free() {
	for _, p := range *c {
		C.free(unsafe.Pointer(p))
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// String renders a face briefly, for logs and the CLI.
func (f Face) String() string {
	return fmt.Sprintf("face(%.0f,%.0f %.0fx%.0f det=%.2f)", f.Box.X, f.Box.Y, f.Box.W, f.Box.H, f.DetScore)
}
