package service

import "unicode/utf8"

// ProbeFaces is how many faces (largest first) a gated request considers:
// the engine is asked for no more (backend.Engine passes it as
// max_faces), because every face past detection costs landmarks, PAD,
// quality and a template, and these requests use one. A crowd photo of 600
// faces costs detection and ProbeFaces faces (about 25 ms each on a CPU
// core), not 600. Ten leaves face_index its use, picking one of a few
// people; face_index must be below it, and Probe.FacesDetected counts at
// most this many.
const ProbeFaces = 10

// inRange reports whether v is a number in [lo, hi]: NaN is not (every
// comparison with NaN is false, so a plain "v < lo || v > hi" lets it
// through), and neither are the infinities.
func inRange(v, lo, hi float32) bool { return v >= lo && v <= hi }

// checkOptions refuses thresholds that are not numbers in their range.
func checkOptions(o Options) error {
	for _, f := range []struct {
		name   string
		v      *float32
		lo, hi float32
	}{
		{"threshold", o.MatchThreshold, -1, 1},
		{"min_score", o.MinScore, -1, 1},
		{"quality_threshold", o.QualityThreshold, 0, 1},
		{"pad_threshold", o.PADThreshold, 0, 1},
	} {
		if f.v != nil && !inRange(*f.v, f.lo, f.hi) {
			return newErr(ErrInvalid, "%s must be a number in [%g,%g], got %v", f.name, f.lo, f.hi, float64(*f.v))
		}
	}
	if o.Face < 0 || int(o.Face) >= ProbeFaces {
		return newErr(ErrInvalid, "face_index must be in [0,%d]", ProbeFaces-1)
	}
	return nil
}

// ValidateNewID is ValidateID for an id about to be stored: it must also
// survive every API that renders it. XML 1.0 cannot carry U+FFFE, U+FFFF
// or any control character but tab and newlines, and writers replace or
// drop them, so two distinct ids would print the same; Unicode
// noncharacters (U+FDD0..U+FDEF, U+xFFFE/U+xFFFF) and C1 controls are not
// meant for interchange either. Ids stored before this rule keep working:
// only enrolment refuses them.
func ValidateNewID(kind, id string) error {
	if err := ValidateID(kind, id); err != nil {
		return err
	}
	for i, r := range id {
		if !xmlFaithful(r) {
			return newErr(ErrInvalid, "%s contains %U at byte %d, which XML cannot carry faithfully", kind, r, i)
		}
	}
	return nil
}

func xmlFaithful(r rune) bool {
	switch {
	case r == utf8.RuneError: // ValidateID has refused invalid UTF-8; U+FFFD itself is fine
		return true
	case r < 0x20 || (r >= 0x7f && r <= 0x9f):
		return false
	case r >= 0xd800 && r <= 0xdfff:
		return false
	case r >= 0xfdd0 && r <= 0xfdef:
		return false
	case r&0xfffe == 0xfffe: // U+xFFFE and U+xFFFF in every plane
		return false
	}
	return r <= utf8.MaxRune
}
