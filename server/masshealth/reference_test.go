package masshealth

import "testing"

// The reference service's verify_user rules: strict match, is_match items
// with capitalised bands, best_score among matches only, pass on any match.
func TestComparisonFollowsReference(t *testing.T) {
	refs := []refImage{{"verify1.jpg", 0.5}, {"verify2.jpg", 0.87}, {"verify3.jpg", 0.77}}
	e, has := comparison(2, refs, 0.5)
	if !has || e["has_match"] != true || e["best_score"] != 0.87 || e["provided_image_index"] != 2 {
		t.Fatalf("entry %v", e)
	}
	ms := e["matches"].([]map[string]any)
	if len(ms) != 3 {
		t.Fatalf("matches %v", ms)
	}
	// 0.5 at threshold 0.5 is not a match (strictly above); 0.77 is Medium.
	if ms[0]["is_match"] != false || ms[0]["confidence"] != "Low" || ms[1]["is_match"] != true || ms[1]["confidence"] != "High" ||
		ms[2]["confidence"] != "Medium" || ms[2]["verification_image"] != "verify3.jpg" {
		t.Fatalf("matches %v", ms)
	}
	if _, ok := ms[0]["match"]; ok {
		t.Fatal("items name the outcome is_match, not match")
	}
	// No match: best_score is 0 even though some score was close.
	e, has = comparison(0, []refImage{{"verify1.jpg", 0.49}}, 0.5)
	if has || e["best_score"] != 0.0 {
		t.Fatalf("entry %v", e)
	}
	if passed(0) || !passed(1) {
		t.Fatal("verification_passed: any provided image matching passes")
	}
}
