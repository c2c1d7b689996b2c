package compreface

import "vizor/server/openapi"

// OpenAPI implements compat.Documented: the listener serves this API's
// document at /openapi.json and its page at /docs.
func (a *API) OpenAPI() string { return openapi.CompreFace }
