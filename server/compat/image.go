package compat

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"strings"

	"golang.org/x/image/bmp"

	"vizor/server/service"
)

// Sniff names an encoded image's format from its first bytes: jpeg, png,
// gif, bmp, tiff, webp, ico, or "" when unknown.
func Sniff(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif"
	case bytes.HasPrefix(b, []byte("BM")) && len(b) >= 26:
		return "bmp"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return "tiff"
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	case len(b) >= 6 && b[0] == 0 && b[1] == 0 && b[2] == 1 && b[3] == 0 && (b[4] != 0 || b[5] != 0):
		return "ico"
	}
	return ""
}

// ErrImage is an image the compatibility layer cannot read or convert.
var ErrImage = errors.New("image could not be decoded")

// Normalize checks an image's header against maxPixels (CheckImage: too
// large is service.ErrImageTooLarge, unreadable or contradictory
// service.ErrBadImage) and returns bytes the engine decodes. Nothing is
// decoded before that check. JPEG, PNG, BMP, TIFF and static WebP pass
// unchanged (the engine reads them). GIF (the engine refuses it) becomes a
// PNG of its first frame; ICO becomes its largest entry (a PNG entry as is,
// a BMP entry converted to PNG).
func Normalize(b []byte, maxPixels int64) ([]byte, string, error) {
	h, err := CheckImage(b, maxPixels)
	if err != nil {
		return nil, h.Format, err
	}
	f := h.Format
	switch f {
	case "gif":
		img, err := gif.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, f, badImage("gif: "+err.Error(), errors.Join(ErrImage, err))
		}
		out, err := encodePNG(img)
		return out, f, asBadImage(err)
	case "ico":
		out, err := icoToPNG(b)
		return out, f, asBadImage(err)
	}
	return b, f, nil
}

// asBadImage gives a conversion failure the service's ErrBadImage kind (the
// flavours map kinds to statuses); service errors pass unchanged.
func asBadImage(err error) error {
	var se *service.Error
	if err == nil || errors.As(err, &se) {
		return err
	}
	return badImage(strings.TrimPrefix(err.Error(), ErrImage.Error()+": "), err)
}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("%w: png: %v", ErrImage, err)
	}
	return buf.Bytes(), nil
}

// icoToPNG picks the largest image of an ICO file. ICO entries are either a
// whole PNG file or a BMP without its 14-byte file header whose height
// counts the XOR bitmap and the AND mask together.
func icoToPNG(b []byte) ([]byte, error) {
	_, data, err := icoLargest(b)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		return data, nil
	}
	if len(data) < 40 {
		return nil, fmt.Errorf("%w: ico: short bitmap header", ErrImage)
	}
	hdr := int(binary.LittleEndian.Uint32(data[0:4]))
	if hdr < 40 || hdr > len(data) {
		return nil, fmt.Errorf("%w: ico: bad bitmap header", ErrImage)
	}
	dib := bytes.Clone(data)
	height := int32(binary.LittleEndian.Uint32(dib[8:12]))
	binary.LittleEndian.PutUint32(dib[8:12], uint32(height/2))
	bpp := int(binary.LittleEndian.Uint16(dib[14:16]))
	if binary.LittleEndian.Uint32(dib[16:20]) == 3 { // BI_BITFIELDS: x/image/bmp reads 32-bit BI_RGB
		binary.LittleEndian.PutUint32(dib[16:20], 0)
	}
	colors := int(binary.LittleEndian.Uint32(dib[32:36]))
	if bpp <= 8 && colors == 0 {
		colors = 1 << bpp
	}
	if bpp > 8 {
		colors = 0
	}
	pixOff := 14 + hdr + 4*colors
	file := make([]byte, 14, 14+len(dib))
	file[0], file[1] = 'B', 'M'
	binary.LittleEndian.PutUint32(file[2:6], uint32(14+len(dib)))
	binary.LittleEndian.PutUint32(file[10:14], uint32(pixOff))
	if hdr > 40 { // x/image/bmp wants a 40-byte header: drop the extra fields
		file = append(file, dib[:40]...)
		file = append(file, dib[hdr:]...)
		binary.LittleEndian.PutUint32(file[14:18], 40)
		binary.LittleEndian.PutUint32(file[10:14], uint32(14+40+4*colors))
		binary.LittleEndian.PutUint32(file[2:6], uint32(len(file)))
	} else {
		file = append(file, dib...)
	}
	img, err := bmp.Decode(bytes.NewReader(file))
	if err != nil {
		return nil, fmt.Errorf("%w: ico: %v", ErrImage, err)
	}
	// ICO bitmaps often carry an alpha channel of zeros (the AND mask says
	// what is transparent): keep the colours, make every pixel opaque.
	bb := img.Bounds()
	out := image.NewNRGBA(bb)
	for y := bb.Min.Y; y < bb.Max.Y; y++ {
		for x := bb.Min.X; x < bb.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			if c.A == 0 {
				r, g, b, _ := img.At(x, y).RGBA()
				c = color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 0}
			}
			c.A = 255
			out.SetNRGBA(x, y, c)
		}
	}
	return encodePNG(out)
}

// DecodeBase64 decodes standard or URL-safe base64, padded or not, with an
// optional data-URL prefix ("data:image/jpeg;base64,") and whitespace.
func DecodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "data:") {
		if i := strings.Index(s, ","); i >= 0 {
			s = s[i+1:]
		}
	}
	if strings.ContainsAny(s, " \n\r\t") {
		s = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
				return -1
			}
			return r
		}, s)
	}
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
