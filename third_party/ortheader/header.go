//go:build vizor_ort_header

// Package ortheader exists only to pin github.com/yalue/onnxruntime_go in
// go.mod: the native build takes onnxruntime_c_api.h from that module in the
// Go module cache (native/CMakeLists.txt). The build tag keeps the package
// out of every normal build; `go mod tidy` still sees the import.
package ortheader

import _ "github.com/yalue/onnxruntime_go"
