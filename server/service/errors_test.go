package service

import (
	"errors"
	"strings"
	"testing"
)

// A 5xx's log line carries its cause (a full disk says so); the client's
// message does not.
func TestLogDetailCarriesTheCause(t *testing.T) {
	cause := errors.New("write data/gallery.db: no space left on device")
	err := &Error{Kind: ErrInternal, Msg: "gallery failure", Cause: cause}
	if got := LogDetail(err); !strings.Contains(got, "no space left on device") || !strings.Contains(got, "gallery failure") {
		t.Fatalf("LogDetail = %q", got)
	}
	if strings.Contains(Message(err), "no space") {
		t.Fatalf("client message leaks the cause: %q", Message(err))
	}
	if got := LogDetail(errors.New("plain")); got != "plain" {
		t.Fatalf("plain error: %q", got)
	}
}

func TestReasonDropsTheKindText(t *testing.T) {
	err := &Error{Kind: ErrImageTooLarge, Msg: "png image declares 9x9 pixels"}
	if got := Reason(err); got != "png image declares 9x9 pixels" {
		t.Fatalf("Reason = %q", got)
	}
	if got := Reason(ErrNoFace); got != ErrNoFace.Error() {
		t.Fatalf("sentinel: %q", got)
	}
}

func TestLogDetailSaysNestedWordsOnce(t *testing.T) {
	inner := &Error{Kind: ErrInternal, Msg: "gallery failure", Cause: errors.New("write x: no space left on device")}
	outer := &Error{Kind: ErrInternal, Msg: "gallery failure", Cause: inner}
	if got := LogDetail(outer); got != "internal error: gallery failure: write x: no space left on device" {
		t.Fatalf("LogDetail = %q", got)
	}
}
