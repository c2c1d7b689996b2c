// Package report holds an accuracy evaluation's results and writes them as
// JSON (every number, for machines), Markdown (tables, for people) and PNG
// plots (gonum/plot).
package report

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"

	"vizor/bench/eval/dataset"
	"vizor/bench/eval/metrics"
)

// Result is everything an evaluation measured.
type Result struct {
	Generated      string              `json:"generated"`
	Commit         string              `json:"commit,omitempty"`
	Command        string              `json:"command"`
	Dataset        DatasetInfo         `json:"dataset"`
	Engine         EngineInfo          `json:"engine"`
	Enrolment      Enrolment           `json:"enrolment"`
	Verification   Verification        `json:"verification"`
	Calibration    metrics.Calibration `json:"calibration"`
	Identification *Identification     `json:"identification,omitempty"`
	Plots          []string            `json:"plots,omitempty"`
	Caveats        []string            `json:"caveats,omitempty"`
}

// DatasetInfo describes the input.
type DatasetInfo struct {
	Root       string         `json:"root"`
	Source     string         `json:"source"`
	Images     int            `json:"images"`
	Identities int            `json:"identities"`
	Skipped    []dataset.Skip `json:"skipped,omitempty"`
}

// EngineInfo identifies what produced the templates.
type EngineInfo struct {
	RecognizerID  string `json:"recognizer_id"`
	EngineVersion string `json:"engine_version,omitempty"`
	Backend       string `json:"backend,omitempty"`
	TemplateDim   int    `json:"template_dim,omitempty"`
}

// Enrolment is the failure-to-enrol count: images that gave no usable
// template (decode error, no face, below the quality gate).
type Enrolment struct {
	Attempted  int       `json:"attempted"`
	Enrolled   int       `json:"enrolled"`
	FTE        float64   `json:"fte_rate"`
	MinQuality float64   `json:"min_quality"`
	Failures   []Failure `json:"failures,omitempty"`
	Samples    []Sample  `json:"samples"`
	// AtGates is the failure-to-enrol rate a quality gate would add.
	AtGates []GateFTE `json:"fte_at_quality_gates,omitempty"`
}

// GateFTE is the failure-to-enrol rate with a quality gate at Gate.
type GateFTE struct {
	Gate     float64  `json:"gate"`
	FTE      float64  `json:"fte_rate"`
	Rejected []string `json:"rejected"`
}

// Failure is one image that failed to enrol.
type Failure struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

// Sample is what the engine made of one image.
type Sample struct {
	File     string  `json:"file"`
	Identity string  `json:"identity,omitempty"`
	Faces    int     `json:"faces"`
	DetScore float64 `json:"det_score,omitempty"`
	Quality  float64 `json:"quality,omitempty"`
	Liveness float64 `json:"liveness,omitempty"`
	Enrolled bool    `json:"enrolled"`
	Cached   bool    `json:"cached"`
}

// PairScore is one scored comparison.
type PairScore struct {
	A       string  `json:"a"`
	B       string  `json:"b"`
	Score   float64 `json:"score"`
	Genuine bool    `json:"genuine"`
}

// Verification is the 1:1 part.
type Verification struct {
	GenuinePairs    int                 `json:"genuine_pairs"`
	ImpostorPairs   int                 `json:"impostor_pairs"`
	SkippedPairs    int                 `json:"skipped_pairs"` // an image failed to enrol
	Genuine         metrics.Summary     `json:"genuine"`
	Impostor        metrics.Summary     `json:"impostor"`
	AUC             float64             `json:"auc"`
	EER             metrics.Point       `json:"eer"`
	AtFMR           []metrics.FMRTarget `json:"fnmr_at_fmr"`
	Requested       metrics.FMRTarget   `json:"threshold_for_requested_fmr"`
	Threshold       float64             `json:"threshold"` // the configured threshold
	AtThreshold     metrics.Point       `json:"at_threshold"`
	Accuracy        float64             `json:"accuracy_at_threshold"`
	Curve           []metrics.Point     `json:"curve"`
	LowestGenuine   []PairScore         `json:"lowest_genuine"`
	HighestImpostor []PairScore         `json:"highest_impostor"`
	Pairs           []PairScore         `json:"pairs"`
}

// Identification is the 1:N part.
type Identification struct {
	Protocol    string           `json:"protocol"`
	GallerySize int              `json:"gallery_size"`
	MatedProbes int              `json:"mated_probes"`
	Rank1       float64          `json:"rank1"`
	Rank5       float64          `json:"rank5"`
	Misses      []Miss           `json:"misses,omitempty"`
	Watchlist   Watchlist        `json:"watchlist"`
	Searches    []metrics.Search `json:"searches"`
}

// Miss is a mated probe whose mate was not at rank 1.
type Miss struct {
	Probe string  `json:"probe"`
	Mate  string  `json:"mate"`
	Rank  int     `json:"rank"`
	Top   string  `json:"top"`
	Score float64 `json:"top_score"`
	Mated float64 `json:"mate_score"`
}

// Watchlist is the open-set part.
type Watchlist struct {
	Protocol    string                   `json:"protocol"`
	Enrolled    []string                 `json:"enrolled"`
	Mated       int                      `json:"mated"`
	NonMated    int                      `json:"non_mated"`
	AtThreshold metrics.WatchlistPoint   `json:"at_threshold"`
	Curve       []metrics.WatchlistPoint `json:"curve"`
}

// WriteJSON writes r to path, indented. NaN and ±Inf (not representable in
// JSON) are written as null: an undefined rate, or a threshold that rejects
// everything.
func WriteJSON(path string, r *Result) error {
	restore := blankNonFinite(reflect.ValueOf(r).Elem(), nil)
	out, err := json.MarshalIndent(r, "", "  ")
	for _, f := range restore {
		f()
	}
	if err != nil {
		return err
	}
	out = bytes.ReplaceAll(out, []byte(sentinelText), []byte("null"))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}

// sentinel stands in for non-finite floats while encoding; no measured
// score or rate takes this value.
const sentinel = 1.2345678901e-300

var sentinelText = strconv.FormatFloat(sentinel, 'g', -1, 64)

// blankNonFinite replaces every non-finite float reachable through
// settable fields and slice elements with the sentinel, returning undo
// functions. Map values are not settable; the maps in Result hold scores,
// which are finite.
func blankNonFinite(v reflect.Value, undo []func()) []func() {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if x := v.Float(); (math.IsNaN(x) || math.IsInf(x, 0)) && v.CanSet() {
			vv := v
			undo = append(undo, func() { vv.SetFloat(x) })
			v.SetFloat(sentinel)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			undo = blankNonFinite(v.Elem(), undo)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				undo = blankNonFinite(v.Field(i), undo)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			undo = blankNonFinite(v.Index(i), undo)
		}
	}
	return undo
}

// ReadJSON reads a result written by WriteJSON (nulls read back as 0).
func ReadJSON(path string) (*Result, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	return &r, json.Unmarshal(raw, &r)
}
