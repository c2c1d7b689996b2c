package bindings

import "context"

// Analyzer is what a caller of the engine needs. *Engine runs the pipeline
// in this process; engineproc.Pool runs it in supervised worker processes
// (so a native crash costs one request, not the server). Both are safe for
// concurrent use and Close is safe to call twice.
type Analyzer interface {
	Analyze(ctx context.Context, images [][]byte, opts Options) ([]Result, error)
	Info() Info
	Close() error
}

var _ Analyzer = (*Engine)(nil)

// DebugCrash is nil in every normal build. Built with the vizor_crashtest
// tag (tests only), it crashes the process with a real SIGSEGV in native
// code, so that tests can prove a crashing worker costs one request.
var DebugCrash func()

// DebugCrashMarker, within an image's first 256 bytes (a JPEG comment, say),
// makes a vizor_crashtest build crash the engine worker that receives it.
const DebugCrashMarker = "VIZOR-DEBUG-CRASH"

// AnalyzeOne runs a single image through a; the image's own failure is
// returned as the error.
func AnalyzeOne(ctx context.Context, a Analyzer, image []byte, opts Options) (Result, error) {
	rs, err := a.Analyze(ctx, [][]byte{image}, opts)
	if err != nil {
		return Result{}, err
	}
	return rs[0], rs[0].Err
}
