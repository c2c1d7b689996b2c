package bindings

import "vizor/internal/vec"

// Stage selects pipeline stages (mirrors VZ_STAGE_*). Later stages pull in
// what they need: StageTemplate implies landmarks and alignment.
type Stage uint32

const (
	StageDetect     Stage = 1 << 0
	StageLandmarks  Stage = 1 << 1
	StageTemplate   Stage = 1 << 2
	StageLiveness   Stage = 1 << 3
	StageQuality    Stage = 1 << 4
	StageAttributes Stage = 1 << 5

	// StageDefault is what a biometric request needs: template, PAD and quality.
	StageDefault = StageDetect | StageLandmarks | StageTemplate | StageLiveness | StageQuality
	StageAll     = StageDefault | StageAttributes
)

// Attribute selects optional per-face attributes (mirrors VZ_ATTR_*).
type Attribute uint32

const (
	AttrAge        Attribute = 1 << 0
	AttrGender     Attribute = 1 << 1
	AttrPose       Attribute = 1 << 2
	AttrExpression Attribute = 1 << 3
	AttrEyes       Attribute = 1 << 4
	AttrAll                  = AttrAge | AttrGender | AttrPose | AttrExpression | AttrEyes
)

// Options tunes one Analyze call. The zero value runs StageDefault with the
// engine's calibrated detection threshold and the engine's face cap.
type Options struct {
	Stages       Stage
	Attributes   Attribute
	MaxFaces     int     // keep at most this many faces, largest first, dropped before any per-face stage; 0 (or over Config.MaxFaces): the engine's cap, default 64
	DetThreshold float32 // detector confidence; 0: engine default
	MinFacePx    int     // smallest face height to look for; 0: automatic
}

// Point is an image coordinate in source pixels.
type Point struct {
	X float32 `json:"x"`
	Y float32 `json:"y"`
}

// Rect is a face box in source pixels.
type Rect struct {
	X float32 `json:"x"`
	Y float32 `json:"y"`
	W float32 `json:"w"`
	H float32 `json:"h"`
}

// Area is the box area in square pixels.
func (r Rect) Area() float32 { return r.W * r.H }

// Quality is the face quality score and its parts, each in [0,1] (1 best).
// The formula is documented in native/README.md.
type Quality struct {
	Score      float32 `json:"score"`
	Size       float32 `json:"size"`
	Confidence float32 `json:"confidence"`
	Pose       float32 `json:"pose"`
	Sharpness  float32 `json:"sharpness"`
	Exposure   float32 `json:"exposure"`
	EyesOpen   float32 `json:"eyes_open"`
}

// Attributes are the optional per-face attributes. Fields the caller did not
// ask for hold their "not computed" values: Age < 0, Gender "", Pose nil,
// Expression "", eye probabilities < 0.
type Attributes struct {
	Age              float32            `json:"age"`
	Gender           string             `json:"gender"` // "female" or "male"
	GenderScore      float32            `json:"gender_score"`
	Pose             *Pose              `json:"pose,omitempty"`
	Expression       string             `json:"expression"`
	ExpressionScores map[string]float32 `json:"expression_scores"`
	LeftEyeOpen      float32            `json:"left_eye_open"`
	RightEyeOpen     float32            `json:"right_eye_open"`
}

// Pose is the head pose in degrees.
type Pose struct {
	Yaw   float32 `json:"yaw"`
	Pitch float32 `json:"pitch"`
	Roll  float32 `json:"roll"`
}

// Face is one detected face. Landmarks68, Template and Quality are present
// only when the matching stage ran.
type Face struct {
	Box         Rect    `json:"box"`
	DetScore    float32 `json:"det_score"`
	Landmarks68 []Point `json:"landmarks68,omitempty"`
	Landmarks5  []Point `json:"landmarks5"`
	Liveness    float32 `json:"liveness"` // P(live) in [0,1] when LivenessStatus is "scored"; else < 0
	// LivenessStatus says whether Liveness holds a score, and why not:
	// LivenessScored, LivenessNotComputed, LivenessGreyscale or
	// LivenessFaceTooSmall (PAD withheld where the model cannot judge).
	LivenessStatus string      `json:"liveness_status"`
	Quality        *Quality    `json:"quality,omitempty"`
	Attributes     *Attributes `json:"attributes,omitempty"`
	Template       []float32   `json:"template,omitempty"` // L2-normalised; nil when not computed
}

// Timings are the per-stage costs of one image, in milliseconds.
type Timings struct {
	Decode     float64 `json:"decode"`
	Detect     float64 `json:"detect"`
	Landmarks  float64 `json:"landmarks"`
	Align      float64 `json:"align"`
	Liveness   float64 `json:"pad"`
	Embed      float64 `json:"embed"`
	Quality    float64 `json:"quality"`
	Attributes float64 `json:"attributes"`
	Total      float64 `json:"total"`
}

// Result is the analysis of one input image. Err is set (and Faces empty)
// when the image failed: decode errors, limits, or no face.
type Result struct {
	Width, Height int
	Faces         []Face // largest first
	Timings       Timings
	Err           error
}

// ModelInfo describes one loaded model.
type ModelInfo struct {
	Role, Name, ID, File, SHA256 string
	InputW, InputH, InputC       int
	Loaded                       bool
}

// Info describes the engine: versions, backend and models.
type Info struct {
	ABIVersion    int
	EngineVersion string
	OpenCVVersion string
	Backend       string
	CUDABuilt     bool
	CUDADevices   int
	Workers       int
	TemplateDim   int
	RecognizerID  string // the model id templates carry
	// MatchThreshold is the recognizer's calibrated same-person cosine
	// threshold (manifest "match_threshold", else DefaultMatchThreshold).
	MatchThreshold float32
	Models         []ModelInfo
}

// Cosine returns the cosine similarity of two templates (vec.Cosine: 0 for
// empty, zero or mismatched vectors).
func Cosine(a, b []float32) float32 { return vec.Cosine(a, b) }

// Face.LivenessStatus values (vz_liveness_status in vizor_c.h).
const (
	LivenessScored       = "scored"         // Liveness holds P(live)
	LivenessNotComputed  = "not_computed"   // stage not asked for, or no liveness model
	LivenessGreyscale    = "greyscale"      // PAD unavailable: the face region has no colour
	LivenessFaceTooSmall = "face_too_small" // PAD unavailable: face under the PAD minimum
)
