package openapi_test

import (
	"context"
	"errors"
	"testing"

	"vizor/bindings"
	"vizor/server/compat"
	"vizor/server/compreface"
	"vizor/server/config"
	"vizor/server/facenet"
	"vizor/server/masshealth"
	"vizor/server/openapi"
	"vizor/server/openapi/openapitest"
	"vizor/server/ui"
	"vizor/server/xmlapi"
)

// noEngine lets the flavours be built to list their routes; nothing here
// analyses an image.
type noEngine struct{}

func (noEngine) AnalyzeDetail(context.Context, []byte, compat.DetailOptions) (compat.Analysis, error) {
	return compat.Analysis{}, errors.New("no engine in this test")
}
func (noEngine) Info() bindings.Info { return bindings.Info{} }

// Every route a flavour registers is in its document: a new endpoint
// cannot ship undocumented (the e2e suites check the ones they call; this
// checks them all).
func TestEveryRouteDocumented(t *testing.T) {
	check := func(name, method, path string) {
		t.Helper()
		d := openapitest.MustLoad(name)
		if !d.Has(method, path) {
			t.Errorf("%s: %s %s is served but not in the document", name, method, path)
		}
	}
	for _, r := range ui.With(xmlapi.New(nil, 0), nil).Routes() {
		check(openapi.XMLAPI, r.Method, r.Path)
	}
	// The console's detection call exists when the server has an engine.
	check(openapi.XMLAPI, "POST", ui.DetectPath)
	check(openapi.XMLAPI, "GET", "/metrics") // added by the core

	d := compat.Deps{Cfg: config.Config{DataDir: t.TempDir()}, Engine: noEngine{}}
	cf, err := compreface.New(d)
	if err != nil {
		t.Fatal(err)
	}
	apis := []compat.API{cf, facenet.New(d), masshealth.New(d, "127.0.0.1:9002")}
	for _, api := range apis {
		doc, ok := api.(compat.Documented)
		if !ok {
			t.Fatalf("%s has no OpenAPI document", api.Name())
		}
		for _, r := range api.Routes() {
			check(doc.OpenAPI(), r.Method, r.Pattern)
		}
	}
}
