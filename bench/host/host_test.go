package host

import "testing"

func TestCPUModelIsNamed(t *testing.T) {
	if m := CPUModel(); m == "" {
		t.Fatal("empty CPU model")
	}
}
