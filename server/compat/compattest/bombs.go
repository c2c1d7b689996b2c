package compattest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
)

// Bomb is a hostile image: small to send, huge (or contradictory) once a
// decoder believes its header. Bombs are generated, never stored.
type Bomb struct {
	Name string
	Ext  string // file name extension for APIs that check it
	Data []byte
	// Engine marks bombs the Go header check lets through on purpose (the
	// declared size is within max_pixels): the engine must refuse them
	// (tile budget, aspect ratio).
	Engine bool
}

// Bombs returns the corpus: every format's header declaring a size far over
// any pixel limit, a GIF that Go would decode, a TIFF whose directory repeats
// its size tags, a PNG decompression bomb, an ICO whose entry lies about its
// size, and a thin 16x1,000,000 PNG that is within the pixel limit but makes
// a tiling detector work a thousand times over.
func Bombs() []Bomb {
	return []Bomb{
		{Name: "gif-65535x65535", Ext: "gif", Data: GIF(65535, 65535)},
		{Name: "png-header-100000x100000", Ext: "png", Data: PNGHeader(100000, 100000)},
		{Name: "png-zlib-bomb-20000x20000", Ext: "png", Data: PNGZeros(20000, 20000)},
		{Name: "jpeg-header-65500x65500", Ext: "jpg", Data: JPEGHeader(65500, 65500)},
		{Name: "webp-vp8x-16384x16384", Ext: "webp", Data: WebPHeader(16384, 16384)},
		{Name: "bmp-header-100000x100000", Ext: "bmp", Data: BMPHeader(100000, 100000)},
		{Name: "tiff-header-100000x100000", Ext: "tiff", Data: TIFF([]TIFFTag{{256, 4, 100000}, {257, 4, 100000}})},
		{Name: "tiff-repeated-size-tags", Ext: "tiff", Data: TIFF([]TIFFTag{{256, 4, 100000}, {257, 4, 100000}, {256, 3, 64}, {257, 3, 64}})},
		{Name: "ico-png-entry-100000x100000", Ext: "ico", Data: ICO(16, 16, PNGHeader(100000, 100000))},
		{Name: "ico-bmp-entry-60000x60000", Ext: "ico", Data: ICO(16, 16, DIBHeader(60000, 60000))},
		{Name: "png-grey-16x1000000", Ext: "png", Data: PNGZeros(16, 1000000), Engine: true},
	}
}

func pngChunk(buf *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	buf.Write(n[:])
	c := crc32.NewIEEE()
	c.Write([]byte(typ))
	c.Write(data)
	buf.WriteString(typ)
	buf.Write(data)
	binary.BigEndian.PutUint32(n[:], c.Sum32())
	buf.Write(n[:])
}

func pngIHDR(buf *bytes.Buffer, w, h int) {
	buf.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 0 // 8-bit greyscale
	pngChunk(buf, "IHDR", ihdr)
}

// PNGHeader is a valid PNG signature and IHDR declaring w x h, a tiny IDAT
// and IEND: the header is all a prober sees.
func PNGHeader(w, h int) []byte {
	var buf bytes.Buffer
	pngIHDR(&buf, w, h)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(make([]byte, 1024))
	_ = zw.Close()
	pngChunk(&buf, "IDAT", z.Bytes())
	pngChunk(&buf, "IEND", nil)
	return buf.Bytes()
}

// PNGZeros is a complete, valid w x h 8-bit grey PNG of zeros: a
// compression ratio near 1000:1, so 400 megapixels fit in about 400 KB.
func PNGZeros(w, h int) []byte {
	var buf bytes.Buffer
	pngIHDR(&buf, w, h)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	row := make([]byte, w+1) // filter byte 0 + pixels
	for y := 0; y < h; y++ {
		_, _ = zw.Write(row)
	}
	_ = zw.Close()
	pngChunk(&buf, "IDAT", z.Bytes())
	pngChunk(&buf, "IEND", nil)
	return buf.Bytes()
}

// GIF is a single-frame GIF89a whose logical screen and frame are w x h,
// with a little LZW data: a Go decoder allocates w*h bytes for the frame
// before it reads a pixel.
func GIF(w, h int) []byte {
	var b bytes.Buffer
	b.WriteString("GIF89a")
	_ = binary.Write(&b, binary.LittleEndian, uint16(w))
	_ = binary.Write(&b, binary.LittleEndian, uint16(h))
	b.Write([]byte{0x80, 0, 0}) // global colour table of 2 entries
	b.Write([]byte{0, 0, 0, 255, 255, 255})
	b.WriteByte(0x2C) // image descriptor
	_ = binary.Write(&b, binary.LittleEndian, [4]uint16{0, 0, uint16(w), uint16(h)})
	b.WriteByte(0)
	b.WriteByte(2) // LZW minimum code size
	for i := 0; i < 64; i++ {
		b.WriteByte(255)
		b.Write(bytes.Repeat([]byte{0}, 255))
	}
	b.WriteByte(0)
	b.WriteByte(0x3B)
	return b.Bytes()
}

// JPEGHeader is SOI, a baseline SOF0 declaring w x h (3 components) and EOI.
func JPEGHeader(w, h int) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3,
		1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1}
	return append(b, 0xFF, 0xD9)
}

// WebPHeader is an extended (VP8X) WebP declaring a w x h canvas, with a
// lossless image chunk of that size and no real pixel data.
func WebPHeader(w, h int) []byte {
	var c bytes.Buffer
	c.WriteString("VP8X")
	_ = binary.Write(&c, binary.LittleEndian, uint32(10))
	c.Write([]byte{0, 0, 0, 0})
	c.Write([]byte{byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)})
	// The image chunk: a lossless bitstream header of the same size.
	c.WriteString("VP8L")
	_ = binary.Write(&c, binary.LittleEndian, uint32(16))
	bits := uint32(w-1) | uint32(h-1)<<14
	c.WriteByte(0x2f)
	_ = binary.Write(&c, binary.LittleEndian, bits)
	c.Write(make([]byte, 11))
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(4+c.Len()))
	b.WriteString("WEBP")
	b.Write(c.Bytes())
	return b.Bytes()
}

// DIBHeader is a 40-byte BITMAPINFOHEADER for a 24-bit w x h bitmap as ICO
// stores it (height doubled for the mask), plus a few pixel bytes.
func DIBHeader(w, h int) []byte {
	d := make([]byte, 40+64)
	binary.LittleEndian.PutUint32(d[0:], 40)
	binary.LittleEndian.PutUint32(d[4:], uint32(w))
	binary.LittleEndian.PutUint32(d[8:], uint32(2*h))
	binary.LittleEndian.PutUint16(d[12:], 1)
	binary.LittleEndian.PutUint16(d[14:], 24)
	return d
}

// BMPHeader is a BMP file header plus DIBHeader's bitmap header (height not
// doubled) declaring w x h.
func BMPHeader(w, h int) []byte {
	dib := DIBHeader(w, h)
	binary.LittleEndian.PutUint32(dib[8:], uint32(h))
	f := make([]byte, 14)
	f[0], f[1] = 'B', 'M'
	binary.LittleEndian.PutUint32(f[2:], uint32(14+len(dib)))
	binary.LittleEndian.PutUint32(f[10:], 14+40)
	return append(f, dib...)
}

// TIFFTag is one directory entry: tag, type (3 SHORT, 4 LONG), value.
type TIFFTag struct {
	Tag, Type uint16
	Value     uint32
}

// TIFF is a little-endian TIFF whose only directory holds tags in the given
// order (uncompressed 8-bit grey, one strip), followed by a few pixel bytes.
func TIFF(size []TIFFTag) []byte {
	tags := append([]TIFFTag(nil), size...)
	tags = append(tags, TIFFTag{258, 3, 8}, TIFFTag{259, 3, 1}, TIFFTag{262, 3, 1},
		TIFFTag{273, 4, 0}, TIFFTag{277, 3, 1}, TIFFTag{278, 4, 1 << 20}, TIFFTag{279, 4, 64})
	n := len(tags)
	dataOff := uint32(8 + 2 + 12*n + 4)
	var b bytes.Buffer
	b.WriteString("II*\x00")
	_ = binary.Write(&b, binary.LittleEndian, uint32(8))
	_ = binary.Write(&b, binary.LittleEndian, uint16(n))
	for _, t := range tags {
		v := t.Value
		if t.Tag == 273 {
			v = dataOff
		}
		_ = binary.Write(&b, binary.LittleEndian, t.Tag)
		_ = binary.Write(&b, binary.LittleEndian, t.Type)
		_ = binary.Write(&b, binary.LittleEndian, uint32(1))
		if t.Type == 3 {
			_ = binary.Write(&b, binary.LittleEndian, uint16(v))
			_ = binary.Write(&b, binary.LittleEndian, uint16(0))
		} else {
			_ = binary.Write(&b, binary.LittleEndian, v)
		}
	}
	_ = binary.Write(&b, binary.LittleEndian, uint32(0))
	b.Write(make([]byte, 64))
	return b.Bytes()
}

// ICO is an icon whose directory declares one w x h entry holding entry (a
// PNG file or a bitmap header), whatever entry itself declares.
func ICO(w, h int, entry []byte) []byte {
	b := []byte{0, 0, 1, 0, 1, 0, byte(w), byte(h), 0, 0, 1, 0, 32, 0}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(entry)))
	b = binary.LittleEndian.AppendUint32(b, 22)
	return append(b, entry...)
}
