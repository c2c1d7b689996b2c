package weaviate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/weaviate/weaviate-go-client/v5/weaviate/fault"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"vizor/gallery"
)

// wrap turns a client error into the gallery's sentinels: a missing tenant
// is a missing partition; a cluster that cannot be reached, times out or
// cannot gather enough replicas for the consistency level is
// ErrUnavailable (nothing was acknowledged; the caller may retry).
func (b *Backend) wrap(err error, op string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gallery.ErrClosed) || errors.Is(err, gallery.ErrUnavailable) {
		return err
	}
	msg := err.Error()
	low := strings.ToLower(msg)
	where := fmt.Sprintf("weaviate at %s: %s", b.cfg.Host, op)
	switch {
	case isNoTenant(low):
		return fmt.Errorf("%w: %s", gallery.ErrPartitionNotFound, where)
	case strings.Contains(low, "vector lengths don't match") || strings.Contains(low, "new node has a vector with length") ||
		strings.Contains(low, "dimension"):
		return fmt.Errorf("%w: %s: %s", gallery.ErrDimMismatch, where, msg)
	case unavailable(err, low):
		return fmt.Errorf("%w: %s: %s", gallery.ErrUnavailable, where, msg)
	}
	return fmt.Errorf("%s: %w", where, err)
}

func isNoTenant(low string) bool {
	return strings.Contains(low, "tenant") && (strings.Contains(low, "not found") || strings.Contains(low, "does not exist") ||
		strings.Contains(low, "not exist"))
}

func unavailable(err error, low string) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var we *fault.WeaviateClientError
	if errors.As(err, &we) {
		if we.DerivedFromError != nil || we.StatusCode >= 500 || we.StatusCode == 0 {
			return true
		}
	}
	if s, ok := status.FromError(errors.Unwrap(err)); ok && s.Code() != codes.OK && s.Code() != codes.Unknown {
		switch s.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.ResourceExhausted, codes.Internal:
			return true
		}
	}
	for _, s := range []string{"replica", "consistency", "connection refused", "connection reset", "no such host",
		"unavailable", "deadline exceeded", "broken pipe", "eof", "leader", "raft", "timeout"} {
		if strings.Contains(low, s) {
			return true
		}
	}
	return false
}

func statusCode(err error) int {
	var we *fault.WeaviateClientError
	if errors.As(err, &we) {
		return we.StatusCode
	}
	return 0
}

func isAlreadyExists(err error) bool {
	low := strings.ToLower(err.Error())
	return strings.Contains(low, "already exists") || strings.Contains(low, "already exist")
}
