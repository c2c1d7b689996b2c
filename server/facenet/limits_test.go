package facenet

import (
	"bytes"
	"image"
	"image/jpeg"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"vizor/server/compat"
	"vizor/server/config"
)

// paddedJPEG is a small valid JPEG grown past n bytes with comment
// segments: a file over 5 MB whose pixels are few.
func paddedJPEG(t *testing.T, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 64, 64)), nil); err != nil {
		t.Fatal(err)
	}
	img := b.Bytes()
	out := append([]byte(nil), img[:2]...)
	seg := make([]byte, 65533)
	for len(out)+len(img) < n {
		out = append(out, 0xFF, 0xFE, 0xFF, 0xFF)
		out = append(out, seg...)
	}
	return append(out, img[2:]...)
}

func uploadCtx(t *testing.T, data []byte) *fasthttp.RequestCtx {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormFile("image", "big.jpg")
	_, _ = fw.Write(data)
	_ = w.Close()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.Header.SetContentType(w.FormDataContentType())
	ctx.Request.SetBody(buf.Bytes())
	return &ctx
}

// The document sets no image size limit: a 6 MB image is read (the body
// limit, max_body_bytes, is the only one); over that limit the answer is
// 413 "larger than", never a decoding error.
func TestImageLimitIsTheBodyLimit(t *testing.T) {
	big := paddedJPEG(t, 6<<20)
	cfg := config.Default()
	a := &API{d: compat.Deps{Cfg: cfg}}
	if _, _, ok := a.image(uploadCtx(t, big)); !ok {
		t.Fatal("a 6 MB image was refused under the default 16 MiB body limit")
	}
	cfg.MaxBodyBytes = 2 << 20
	a = &API{d: compat.Deps{Cfg: cfg}}
	ctx := uploadCtx(t, big)
	if _, _, ok := a.image(ctx); ok {
		t.Fatal("a 6 MB image was accepted under a 2 MiB body limit")
	}
	if body := string(ctx.Response.Body()); ctx.Response.StatusCode() != 413 || !strings.Contains(body, "larger than 2 MB") || strings.Contains(body, "decod") {
		t.Fatalf("%d %s", ctx.Response.StatusCode(), body)
	}
}
