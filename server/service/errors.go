package service

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error the service returns wraps exactly one of
// them; each API flavour maps them to its own status codes.
var (
	ErrInvalid           = errors.New("invalid request")            // a field is missing or out of range
	ErrBadImage          = errors.New("image could not be decoded") // not an image, corrupt, unsupported
	ErrImageTooLarge     = errors.New("image too large")            // bytes or declared pixels over the limit
	ErrNoFace            = errors.New("no face detected")           // detection gate
	ErrAlignment         = errors.New("face could not be aligned")
	ErrSpoof             = errors.New("presentation attack detected") // PAD gate
	ErrMorph             = errors.New("morphing attack detected")     // MAD gate (enrol)
	ErrQuality           = errors.New("face quality below threshold") // quality gate
	ErrExtraction        = errors.New("template extraction failed")
	ErrNotFound          = errors.New("not found") // parent of the two below
	ErrModelMismatch     = errors.New("template model mismatch")
	ErrUnavailable       = errors.New("service unavailable") // engine or store closed, overloaded
	ErrTimeout           = errors.New("request timed out")
	ErrInternal          = errors.New("internal error")
	ErrPartitionNotFound = &notFound{"partition not found"}
	ErrSubjectNotFound   = &notFound{"subject not found"}
)

// notFound errors are also ErrNotFound.
type notFound struct{ msg string }

func (e *notFound) Error() string        { return e.msg }
func (e *notFound) Is(target error) bool { return target == ErrNotFound }

// Error is a service failure: a sentinel Kind plus a message for the client
// and, for gate rejections, the gate's score and threshold.
type Error struct {
	Kind      error
	Msg       string
	Gate      string  // detection, alignment, pad, mad, quality, extraction
	Score     float32 // the gate's measured value, when Gate is set
	Threshold float32
	Cause     error // underlying error, for logs
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Msg
}

// Unwrap exposes the sentinel (and the cause, for errors.Is on it).
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

func newErr(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func gateErr(kind error, gate string, score, threshold float32, format string, args ...any) *Error {
	return &Error{Kind: kind, Gate: gate, Score: score, Threshold: threshold, Msg: fmt.Sprintf(format, args...)}
}

// Kind returns the sentinel an error wraps (ErrInternal when none).
func Kind(err error) error {
	if err == nil {
		return nil
	}
	for _, k := range []error{ErrInvalid, ErrBadImage, ErrImageTooLarge, ErrNoFace, ErrAlignment, ErrSpoof,
		ErrMorph, ErrQuality, ErrExtraction, ErrPartitionNotFound, ErrSubjectNotFound, ErrNotFound,
		ErrModelMismatch, ErrUnavailable, ErrTimeout} {
		if errors.Is(err, k) {
			return k
		}
	}
	return ErrInternal
}

// Message returns the client-facing message of an error.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	k := Kind(err)
	if k == ErrInternal {
		return ErrInternal.Error()
	}
	return err.Error()
}

// Reason is an error's message without its kind's text, for flavours that
// say the kind in their own words ("Image too large: <reason>").
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return Message(err)
}

// LogDetail is an error's message with its underlying cause, for the log
// line of a failed request (a client sees Message only: the cause may name
// files and system errors, such as "no space left on device").
func LogDetail(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Cause != nil {
		// Layers (gallery adapter, service) may wrap the same failure
		// in the same words: say them once.
		cause := LogDetail(e.Cause)
		if strings.HasPrefix(cause, e.Error()) {
			return cause
		}
		return e.Error() + ": " + cause
	}
	return err.Error()
}
