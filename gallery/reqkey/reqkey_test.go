package reqkey

import (
	"context"
	"testing"
)

func TestKeysCountPerRequest(t *testing.T) {
	if Next(context.Background()) != "" {
		t.Fatal("no request id: want no key")
	}
	if With(context.Background(), "") != context.Background() {
		t.Fatal("empty id must not wrap")
	}
	a, b := With(context.Background(), "req-1"), With(context.Background(), "req-1")
	if Next(a) != "req-1/1" || Next(a) != "req-1/2" {
		t.Fatal("keys of one request must count up")
	}
	// A retried request (same id) replays the same keys.
	if Next(b) != "req-1/1" {
		t.Fatal("retry must start again at 1")
	}
}
