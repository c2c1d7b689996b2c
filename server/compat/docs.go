package compat

import (
	"github.com/valyala/fasthttp"

	"vizor/server/openapi"
)

// Documented is an API with an OpenAPI document (server/openapi): its
// listener serves it at /openapi.json with a page at /docs, open to all
// like the original services' (no key: the document holds no secret).
type Documented interface {
	OpenAPI() string // the document's name, one of openapi.Names
}

func docRoutes(name string) []Route {
	doc, page := openapi.Document(name), openapi.Page(name)
	return []Route{
		{Method: "GET", Pattern: "/openapi.json", Name: "openapi", Handler: func(ctx *fasthttp.RequestCtx, _ Params) { doc(ctx) }},
		{Method: "GET", Pattern: "/docs", Name: "docs", Handler: func(ctx *fasthttp.RequestCtx, _ Params) { page(ctx) }},
	}
}
