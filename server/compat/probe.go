package compat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"

	"vizor/bindings"
	"vizor/server/service"
)

// Header is what an encoded image declares before any pixel is decoded.
type Header struct {
	Format        string // Sniff's name
	Width, Height int
}

// CheckImage reads only the header of an encoded image and refuses it
// before any decoder (Go's or the engine's) allocates pixels: over
// maxPixels (> 0) it is ErrImageTooLarge, an unreadable or self-
// contradicting header is ErrBadImage. The declared size is the engine's
// prober's (bindings.Probe, the same reader the engine checks its limits
// with); where Go's own header reader (image.DecodeConfig) also reads it,
// both must agree, because a Go decoder allocates by what Go reads and the
// engine by what the prober reads. TIFF directories that repeat a tag are
// refused outright: readers disagree on which copy wins (libtiff the
// first, others the last), so one of them would allocate a size the check
// never saw. ICO files are judged by the entry Normalize would decode.
func CheckImage(b []byte, maxPixels int64) (Header, error) {
	f := Sniff(b)
	var h Header
	var err error
	switch f {
	case "":
		return Header{}, badImage("unrecognised image format (JPEG, PNG, WebP, BMP, TIFF, GIF or ICO expected)", nil)
	case "ico":
		h, err = icoHeader(b)
	default:
		h, err = probeHeader(b, f)
	}
	if err != nil {
		return Header{}, err
	}
	h.Format = f
	if f == "ico" && int64(h.Width)*int64(h.Height) > maxICOPixels {
		// Icons are at most 256x256; a bitmap entry is decoded in Go
		// twice over (RGBA, then NRGBA), so it gets its own bound.
		return h, &service.Error{Kind: service.ErrImageTooLarge,
			Msg: fmt.Sprintf("ico entry declares %dx%d pixels, over the limit of %d for icons", h.Width, h.Height, maxICOPixels)}
	}
	if maxPixels > 0 && int64(h.Width)*int64(h.Height) > maxPixels {
		return h, &service.Error{Kind: service.ErrImageTooLarge,
			Msg: fmt.Sprintf("%s image declares %dx%d pixels, over the limit of %d", f, h.Width, h.Height, maxPixels)}
	}
	return h, nil
}

func badImage(msg string, cause error) error {
	return &service.Error{Kind: service.ErrBadImage, Msg: msg, Cause: cause}
}

// probeHeader reads a non-ICO header with the engine's prober and, where Go
// can read it too, cross-checks the two.
func probeHeader(b []byte, f string) (Header, error) {
	if f == "tiff" {
		if err := tiffDuplicateTags(b); err != nil {
			return Header{}, err
		}
	}
	_, w, h, err := bindings.Probe(b)
	if err != nil {
		return Header{}, badImage("cannot read the image header", err)
	}
	if w <= 0 || h <= 0 {
		return Header{}, badImage(fmt.Sprintf("%s header declares %dx%d pixels", f, w, h), nil)
	}
	// Go's readers fail on variants they do not support (some BMP and TIFF
	// compressions): the engine may still read those, so only a successful
	// Go read is compared. JPEG sizes come back EXIF-oriented from the
	// prober, so the sides are compared as an unordered pair.
	if c, _, gerr := image.DecodeConfig(bytes.NewReader(b)); gerr == nil {
		same := (c.Width == w && c.Height == h) || (f == "jpeg" && c.Width == h && c.Height == w)
		if !same {
			return Header{}, badImage(fmt.Sprintf("contradictory %s header: %dx%d or %dx%d", f, w, h, c.Width, c.Height), nil)
		}
	} else if f == "gif" {
		// Normalize decodes GIFs in Go: what Go cannot read is refused here.
		return Header{}, badImage("gif: cannot read the header", gerr)
	}
	return Header{Width: w, Height: h}, nil
}

// tiffDuplicateTags refuses a TIFF whose first directory names a tag twice
// (or is cut short), the one directory every reader here decodes.
func tiffDuplicateTags(b []byte) error {
	if len(b) < 8 {
		return badImage("tiff: truncated header", nil)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 'M' {
		bo = binary.BigEndian
	}
	off := int64(bo.Uint32(b[4:8]))
	if off < 8 || off+2 > int64(len(b)) {
		return badImage("tiff: directory offset out of bounds", nil)
	}
	n := int64(bo.Uint16(b[off : off+2]))
	if off+2+12*n > int64(len(b)) {
		return badImage("tiff: directory runs past the end of the file", nil)
	}
	seen := make(map[uint16]bool, n)
	for i := int64(0); i < n; i++ {
		e := off + 2 + 12*i
		tag := bo.Uint16(b[e : e+2])
		if seen[tag] {
			return badImage(fmt.Sprintf("contradictory tiff header: tag %d appears twice", tag), nil)
		}
		seen[tag] = true
	}
	return nil
}

// maxICOPixels bounds an ICO entry: 1024x1024, four times the format's
// largest standard size.
const maxICOPixels = 1024 * 1024

// icoEntry is one image of an ICO directory.
type icoEntry struct {
	w, h      int // directory sizes (0 means 256)
	off, size int
}

var errICO = errors.New("ico")

// icoLargest returns the entry Normalize decodes: the largest by directory
// size, and its bytes.
func icoLargest(b []byte) (icoEntry, []byte, error) {
	if len(b) < 6 {
		return icoEntry{}, nil, badImage("ico: truncated header", errICO)
	}
	n := int(binary.LittleEndian.Uint16(b[4:6]))
	if n == 0 || len(b) < 6+16*n {
		return icoEntry{}, nil, badImage("ico: truncated or empty directory", errICO)
	}
	best, bestArea := icoEntry{}, -1
	for i := 0; i < n; i++ {
		d := b[6+16*i:]
		e := icoEntry{w: int(d[0]), h: int(d[1]),
			size: int(binary.LittleEndian.Uint32(d[8:12])), off: int(binary.LittleEndian.Uint32(d[12:16]))}
		if e.w == 0 {
			e.w = 256
		}
		if e.h == 0 {
			e.h = 256
		}
		if e.w*e.h > bestArea {
			best, bestArea = e, e.w*e.h
		}
	}
	if best.off < 0 || best.size <= 0 || best.off > len(b) || best.size > len(b)-best.off {
		return icoEntry{}, nil, badImage("ico: entry out of bounds", errICO)
	}
	return best, b[best.off : best.off+best.size], nil
}

// icoHeader is the size the chosen ICO entry declares inside itself (a PNG
// header, or a bitmap header whose height counts the image and its mask).
func icoHeader(b []byte) (Header, error) {
	_, data, err := icoLargest(b)
	if err != nil {
		return Header{}, err
	}
	if Sniff(data) == "png" {
		return probeHeader(data, "png")
	}
	if len(data) < 40 {
		return Header{}, badImage("ico: short bitmap header", errICO)
	}
	w := int64(int32(binary.LittleEndian.Uint32(data[4:8])))
	h := int64(int32(binary.LittleEndian.Uint32(data[8:12])))
	if h < 0 {
		h = -h
	}
	h /= 2
	if w <= 0 || h <= 0 || w > 1<<30 || h > 1<<30 {
		return Header{}, badImage(fmt.Sprintf("ico: bitmap declares %dx%d pixels", w, h), errICO)
	}
	return Header{Width: int(w), Height: int(h)}, nil
}
