package main

import (
	"testing"

	"github.com/valyala/fasthttp"

	"vizor/server"
	"vizor/server/config"
)

type oneRoute struct{}

func (oneRoute) Routes() []server.Route {
	return []server.Route{{Method: "GET", Path: "/health", Name: "health", Handler: func(*fasthttp.RequestCtx) {}}}
}
func (oneRoute) WriteError(*fasthttp.RequestCtx, int, string, string) {}

// The ui setting adds the console's routes or leaves the flavour as it is.
func TestConsoleSetting(t *testing.T) {
	has := func(fl server.Flavour, path string) bool {
		for _, r := range fl.Routes() {
			if r.Path == path {
				return true
			}
		}
		return false
	}
	cfg, _, err := config.Load(nil, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.UI {
		t.Fatal("ui is not on by default")
	}
	on := withConsole(cfg, oneRoute{}, nil)
	if !has(on, "/ui/") || !has(on, "/ui/api/detect") || !has(on, "/health") {
		t.Fatalf("ui on: routes %v", on.Routes())
	}
	cfg, _, err = config.Load([]string{"-ui=no"}, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if off := withConsole(cfg, oneRoute{}, nil); has(off, "/ui/") || has(off, "/ui/api/detect") || !has(off, "/health") {
		t.Fatalf("ui off: routes %v", off.Routes())
	}
}
