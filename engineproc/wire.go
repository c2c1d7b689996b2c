package engineproc

import (
	"context"
	"errors"

	"vizor/bindings"
)

// The pipe protocol between the server and a worker process: gob values on
// the worker's stdin (parent -> worker) and stdout (worker -> parent). The
// parent first sends a hello (the engine config), the worker answers with a
// helloReply (its engine's info, or why it could not open one); after that
// the parent sends one request at a time, plus cancel frames for it, and the
// worker answers each request once. gob frames itself, and both ends are the
// same binary, so the types need no versioning.

type hello struct {
	Config bindings.Config
}

type helloReply struct {
	Info bindings.Info
	Err  *wireErr
}

// toWorker is a request or, with Cancel set, the cancellation of request ID.
type toWorker struct {
	ID     uint64
	Cancel bool
	Images [][]byte
	Opts   bindings.Options
}

type fromWorker struct {
	ID      uint64
	Results []wireResult
	Err     *wireErr // the whole call failed
}

type wireResult struct {
	Width, Height int
	Faces         []bindings.Face
	Timings       bindings.Timings
	Err           *wireErr
}

// wireErr carries an error across the pipe: the bindings sentinel it wraps
// (by index in kinds, -1 for none) and its message.
type wireErr struct {
	Kind int
	Msg  string
}

// kinds are the sentinels an error may wrap, in a fixed order both ends
// share (they run the same binary).
var kinds = []error{
	bindings.ErrInvalidArgument, bindings.ErrDecode, bindings.ErrTooLarge, bindings.ErrUnsupported,
	bindings.ErrNoFace, bindings.ErrModel, bindings.ErrBackend, bindings.ErrTooSmall,
	bindings.ErrInternal, bindings.ErrClosed, bindings.ErrCancelled, context.Canceled, context.DeadlineExceeded,
}

func toWire(err error) *wireErr {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var be *bindings.Error
	if errors.As(err, &be) {
		msg = be.Message
	}
	for i, k := range kinds {
		if errors.Is(err, k) {
			return &wireErr{Kind: i, Msg: msg}
		}
	}
	return &wireErr{Kind: -1, Msg: msg}
}

func (w *wireErr) toErr() error {
	if w == nil {
		return nil
	}
	if w.Kind < 0 || w.Kind >= len(kinds) {
		return &bindings.Error{Kind: bindings.ErrInternal, Message: w.Msg}
	}
	k := kinds[w.Kind]
	if k == context.Canceled || k == context.DeadlineExceeded {
		return k
	}
	return &bindings.Error{Kind: k, Message: w.Msg}
}

func resultsToWire(rs []bindings.Result) []wireResult {
	out := make([]wireResult, len(rs))
	for i, r := range rs {
		out[i] = wireResult{Width: r.Width, Height: r.Height, Faces: r.Faces, Timings: r.Timings, Err: toWire(r.Err)}
	}
	return out
}

func resultsFromWire(ws []wireResult) []bindings.Result {
	out := make([]bindings.Result, len(ws))
	for i, w := range ws {
		out[i] = bindings.Result{Width: w.Width, Height: w.Height, Faces: w.Faces, Timings: w.Timings, Err: w.Err.toErr()}
	}
	return out
}
