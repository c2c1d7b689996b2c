package masshealth

import (
	"strings"

	"vizor/server/compat"
)

// The decisions of /verify_user and /compare where the document is silent
// and the reference service's code decides (README.md, "MassHealth API"):
// a score matches when it is strictly above the threshold; a matches[] item
// names its outcome is_match and carries the capitalised band ("High",
// "Medium", "Low") the reference code puts there (its /compare and
// /batch_compare lower-case it, as the document shows); best_score is the
// best score among the matching stored images (0 when none matches); the
// user passes when at least one provided image matches.

// isMatch is the reference rule: strictly above the threshold.
func isMatch(score, thr float64) bool { return score > thr }

// refImage is one stored verification image's score against a probe.
type refImage struct {
	name  string
	score float64
}

// comparison is one detailed_comparisons entry for the provided image
// index i; hasMatch reports whether any stored image matched.
func comparison(i int, refs []refImage, thr float64) (entry map[string]any, hasMatch bool) {
	ms := make([]map[string]any, 0, len(refs))
	best := 0.0
	for j, r := range refs {
		m := isMatch(r.score, thr)
		ms = append(ms, map[string]any{"verification_image_index": j, "verification_image": r.name,
			"similarity_score": r.score, "is_match": m, "confidence": capitalised(compat.Confidence(r.score, thr))})
		if m {
			hasMatch = true
			best = max(best, r.score)
		}
	}
	return map[string]any{"provided_image_index": i, "matches": ms, "has_match": hasMatch, "best_score": best}, hasMatch
}

// passed is the reference decision of verification_passed.
func passed(matched int) bool { return matched > 0 }

func capitalised(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
