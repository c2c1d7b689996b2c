package eval

import "testing"

func TestCache(t *testing.T) {
	c := &Cache{Dir: t.TempDir(), ModelID: "org/model:1"}
	k := Key([]byte("image bytes"))
	if _, ok := c.Get(k); ok {
		t.Fatal("hit on empty cache")
	}
	in := Template{SHA256: k, ModelID: c.ModelID, Vector: []float32{0.6, 0.8}, Faces: 1, Quality: 0.7}
	if err := c.Put(in); err != nil {
		t.Fatal(err)
	}
	out, ok := c.Get(k)
	if !ok || len(out.Vector) != 2 || out.Vector[1] != 0.8 || out.Quality != 0.7 {
		t.Fatalf("got %+v %v", out, ok)
	}
	other := &Cache{Dir: c.Dir, ModelID: "other"}
	if _, ok := other.Get(k); ok {
		t.Error("hit across model ids")
	}
}
