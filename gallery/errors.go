package gallery

import (
	"errors"
	"fmt"
)

// Errors returned by the gallery. Test with errors.Is: most are wrapped with
// detail (the partition, subject, template id or file concerned).
var (
	ErrPartitionNotFound = errors.New("gallery: partition not found")
	ErrSubjectNotFound   = errors.New("gallery: subject not found")
	ErrTemplateNotFound  = errors.New("gallery: template not found")
	ErrImageNotFound     = errors.New("gallery: no image stored for template")
	ErrModelMismatch     = errors.New("gallery: template model does not match the partition's model")
	ErrDimMismatch       = errors.New("gallery: template dimension does not match the partition's dimension")
	ErrInvalidName       = errors.New("gallery: invalid name")
	ErrInvalidTemplate   = errors.New("gallery: invalid template")
	ErrInvalidSpec       = errors.New("gallery: invalid index spec")
	ErrSubjectExists     = errors.New("gallery: subject already exists")
	ErrCorrupt           = errors.New("gallery: corrupt store")
	ErrClosed            = errors.New("gallery: closed")
)

func corruptf(file, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, file, fmt.Sprintf(format, args...))
}
