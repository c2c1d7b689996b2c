package masshealth

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/jpeg"
	"strings"
	"testing"

	"vizor/server/compat"
	"vizor/server/config"
	"vizor/server/service"
)

// The document sets no image size limit: a 6 MB base64 image is decoded
// (the body limit is the only one); over a smaller body limit it is "too
// large" (413), never "could not be decoded".
func TestImageLimitIsTheBodyLimit(t *testing.T) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 64, 64)), nil); err != nil {
		t.Fatal(err)
	}
	img := b.Bytes()
	big := append([]byte(nil), img[:2]...)
	for seg := make([]byte, 65533); len(big)+len(img) < 6<<20; {
		big = append(append(big, 0xFF, 0xFE, 0xFF, 0xFF), seg...)
	}
	big = append(big, img[2:]...)
	s := base64.StdEncoding.EncodeToString(big)

	cfg := config.Default()
	if _, err := (&API{d: compat.Deps{Cfg: cfg}}).decode(s); err != nil {
		t.Fatalf("6 MB image under the default body limit: %v", err)
	}
	cfg.MaxBodyBytes = 2 << 20
	_, err := (&API{d: compat.Deps{Cfg: cfg}}).decode(s)
	if service.Kind(err) != service.ErrImageTooLarge || status(err) != 413 || !strings.Contains(err.Error(), "larger than 2 MB") {
		t.Fatalf("over a 2 MiB body limit: %v (status %d)", err, status(err))
	}
}
