package config

import "testing"

func TestPlanMemory(t *testing.T) {
	c := defaults()
	c.EngineWorkers, c.BatchMax = 2, 8
	c.MaxBodyBytes, c.MaxPixels = 16<<20, 40_000_000
	// 24 GiB: the engine's worst case leaves room for more than the cap.
	if p := c.PlanMemory(24 << 30); p.InFlight != 64 || p.PerRequest != 48<<20 {
		t.Errorf("24 GiB: %v", p)
	}
	// 4 GiB: 3 GiB budget - 2 x (256 MiB + 8 x 130.4 MiB) leaves ~0.4 GiB,
	// 48 MiB a request.
	p := c.PlanMemory(4 << 30)
	want := int((p.Budget - p.Engine) / p.PerRequest)
	if p.InFlight != want || want < 2 || want > 16 {
		t.Errorf("4 GiB: %v (want %d in flight)", p, want)
	}
	// Too little memory for the engine's worst case: the floor, not zero.
	if p := c.PlanMemory(1 << 30); p.InFlight != 2 {
		t.Errorf("1 GiB: %v", p)
	}
	// A smaller body limit admits more requests on the same machine.
	small := c
	small.MaxBodyBytes = 2 << 20
	if a, b := small.PlanMemory(4<<30).InFlight, c.PlanMemory(4<<30).InFlight; a <= b {
		t.Errorf("2 MiB bodies: %d in flight, 16 MiB: %d", a, b)
	}
}

func TestAutomaticInFlightResolved(t *testing.T) {
	c, _, err := Load([]string{"-max-body-bytes", "1MiB"}, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxInFlight < 2 || c.MaxInFlight > 64 {
		t.Fatalf("automatic max_in_flight %d", c.MaxInFlight)
	}
	c, _, err = Load([]string{"-max-in-flight", "7"}, func(string) string { return "" }, nil)
	if err != nil || c.MaxInFlight != 7 {
		t.Fatalf("explicit max_in_flight: %d %v", c.MaxInFlight, err)
	}
	if Default().MaxInFlight < 2 {
		t.Fatalf("Default() leaves max_in_flight unresolved")
	}
}
