package bindings

import (
	"errors"
	"fmt"
)

// Sentinel errors, one per native error code. Errors returned by this
// package wrap them, so callers test with errors.Is(err, bindings.ErrDecode).
var (
	ErrInvalidArgument = errors.New("invalid argument")
	ErrDecode          = errors.New("image could not be decoded")
	ErrTooLarge        = errors.New("image too large")
	ErrUnsupported     = errors.New("unsupported image format")
	ErrNoFace          = errors.New("no face detected")
	ErrModel           = errors.New("model error")
	ErrBackend         = errors.New("backend unavailable")
	ErrTooSmall        = errors.New("image too small")
	ErrCancelled       = errors.New("analysis cancelled")
	ErrInternal        = errors.New("internal engine error")
	ErrClosed          = errors.New("engine closed")
)

// Native codes, mirroring vz_code in native/include/vizor_c.h.
const (
	codeOK              = 0
	codeInvalidArgument = 1
	codeDecode          = 2
	codeTooLarge        = 3
	codeUnsupported     = 4
	codeNoFace          = 5
	codeModel           = 6
	codeBackend         = 7
	codeTooSmall        = 8
	codeCancelled       = 9
)

// Error is a native failure: the code's sentinel plus the engine's message.
type Error struct {
	Kind    error // one of the sentinels above
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Kind.Error()
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Message)
}

func (e *Error) Unwrap() error { return e.Kind }

func kindOf(code int) error {
	switch code {
	case codeInvalidArgument:
		return ErrInvalidArgument
	case codeDecode:
		return ErrDecode
	case codeTooLarge:
		return ErrTooLarge
	case codeUnsupported:
		return ErrUnsupported
	case codeNoFace:
		return ErrNoFace
	case codeModel:
		return ErrModel
	case codeBackend:
		return ErrBackend
	case codeTooSmall:
		return ErrTooSmall
	case codeCancelled:
		return ErrCancelled
	default:
		return ErrInternal
	}
}

func newError(code int, msg string) error {
	if code == codeOK {
		return nil
	}
	return &Error{Kind: kindOf(code), Message: msg}
}
