package facenet

import (
	"encoding/json"
	"math"
	"testing"
)

func TestDistanceNeverNegativeZero(t *testing.T) {
	for _, c := range []struct {
		score float32
		want  string
	}{{1.0000001, "0"}, {1, "0"}, {1.2, "0"}, {0.6, "0.4"}, {-1, "2"}, {-1.0000001, "2"}} {
		d := distance(c.score)
		b, _ := json.Marshal(d)
		if string(b) != c.want || math.Signbit(d) {
			t.Errorf("distance(%v) = %s (signbit %v), want %s", c.score, b, math.Signbit(d), c.want)
		}
	}
}
