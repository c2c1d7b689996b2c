// The header prober (JPEG SOF, PNG IHDR, WebP VP8/VP8L/VP8X, BMP, TIFF, GIF)
// and the limits checked on what it reads, before any decoder runs. A header
// that could be read as two sizes is refused: the size checked here must be
// the size the decoder allocates.
#include <algorithm>
#include <cstring>
#include <vector>

#include "common.h"
#include "image_decode.h"

namespace vz {
namespace {

inline uint16_t be16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
inline uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline uint32_t le24(const uint8_t* p) { return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16); }

// EXIF orientation from an APP1 payload ("Exif\0\0" + TIFF). 1 when absent.
int exif_orientation(const uint8_t* p, size_t n) {
  if (n < 14 || std::memcmp(p, "Exif\0\0", 6) != 0) return 1;
  const uint8_t* t = p + 6;
  size_t tn = n - 6;
  bool le;
  if (t[0] == 'I' && t[1] == 'I') le = true;
  else if (t[0] == 'M' && t[1] == 'M') le = false;
  else return 1;
  auto r16 = [&](size_t o) -> uint32_t { return le ? le16(t + o) : be16(t + o); };
  auto r32 = [&](size_t o) -> uint32_t { return le ? le32(t + o) : be32(t + o); };
  if (r16(2) != 42) return 1;
  uint32_t ifd = r32(4);
  if (ifd + 2 > tn) return 1;
  uint32_t count = r16(ifd);
  for (uint32_t i = 0; i < count; i++) {
    size_t e = ifd + 2 + size_t(i) * 12;
    if (e + 12 > tn) return 1;
    if (r16(e) == 0x0112) {
      uint32_t v = r16(e + 8);
      return (v >= 1 && v <= 8) ? int(v) : 1;
    }
  }
  return 1;
}

bool probe_jpeg(const uint8_t* d, size_t n, ImageHeader& h, std::string* why) {
  size_t i = 2;
  int orientation = 1;
  bool have_sof = false;
  auto no = [&](const char* m) {
    if (why) *why = m;
    return false;
  };
  // Walks every marker up to the first scan: libjpeg reads the frame header
  // it meets there, so a second SOF (which libjpeg refuses anyway) is refused
  // here before anything is allocated, whatever size it declares.
  while (i + 4 <= n) {
    if (d[i] != 0xFF) {
      if (have_sof) break;  // entropy data or junk after the frame header: the decoder judges it
      return no("jpeg: bad marker");
    }
    uint8_t m = d[i + 1];
    if (m == 0xFF) { i++; continue; }  // fill byte
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { i += 2; continue; }
    if (m == 0xD9 || m == 0xDA) break;  // EOI or SOS
    uint16_t seglen = be16(d + i + 2);
    if (seglen < 2) break;
    if (i + 2 + seglen > n) break;
    const uint8_t* seg = d + i + 4;
    size_t segn = seglen - 2;
    if (m == 0xE1) {
      int o = exif_orientation(seg, segn);
      if (o != 1) orientation = o;
    }
    bool sof = (m >= 0xC0 && m <= 0xCF) && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof) {
      if (segn < 6) break;
      if (have_sof) return no("jpeg: more than one frame header (SOF) before the first scan");
      have_sof = true;
      h.format = "jpeg";
      h.height = be16(seg + 1);
      h.width = be16(seg + 3);
      if (h.height == 0) return no("jpeg: height defined by DNL");  // not supported here
    }
    i += 2 + seglen;
  }
  if (!have_sof) return no("jpeg: no frame header (truncated or corrupt)");
  h.orientation = orientation;
  return true;
}

bool probe_tiff(const uint8_t* d, size_t n, ImageHeader& h, std::string* why) {
  bool le = d[0] == 'I';
  auto r16 = [&](size_t o) -> uint32_t { return le ? le16(d + o) : be16(d + o); };
  auto r32 = [&](size_t o) -> uint32_t { return le ? le32(d + o) : be32(d + o); };
  auto no = [&](const std::string& m) {
    if (why) *why = m;
    return false;
  };
  uint32_t ifd = r32(4);
  if (ifd < 8 || size_t(ifd) + 2 > n) return no("tiff: bad IFD offset");
  uint32_t count = r16(ifd);
  if (size_t(ifd) + 2 + size_t(count) * 12 > n) return no("tiff: first IFD is truncated");
  // Only the first IFD is decoded (OpenCV reads page one). libtiff keeps the
  // FIRST of two entries with the same tag while a last-wins reader would
  // see another size: any repeated tag is refused, so that the size checked
  // here is the size the decoder allocates.
  int64_t w = -1, hh = -1, tile_w = 0, tile_h = 0, rows_per_strip = -1, samples = 1, bits = 1;
  std::vector<uint32_t> seen;
  seen.reserve(count);
  for (uint32_t i = 0; i < count; i++) {
    size_t e = size_t(ifd) + 2 + size_t(i) * 12;
    uint32_t tag = r16(e), type = r16(e + 2), cnt = r32(e + 4);
    if (std::find(seen.begin(), seen.end(), tag) != seen.end())
      return no("tiff: tag " + std::to_string(tag) + " appears twice in the IFD");
    seen.push_back(tag);
    if (tag == 258 && type == 3) {
      // BitsPerSample: one SHORT per sample, inline up to two; the decoder
      // sizes its buffer by the first. Unreadable: assume 16.
      size_t at = cnt <= 2 ? e + 8 : size_t(r32(e + 8));
      bits = at + 2 <= n ? int64_t(r16(at)) : 16;
      continue;
    }
    const bool size_tag = tag == 256 || tag == 257 || tag == 277 || tag == 278 || tag == 322 || tag == 323;
    if (!size_tag) continue;
    // Size tags are one SHORT or LONG (TIFF 6.0); anything else is a file
    // the prober and libtiff could read differently.
    if ((type != 3 && type != 4) || cnt != 1)
      return no("tiff: size tag " + std::to_string(tag) + " is not a single SHORT or LONG");
    int64_t v = type == 3 ? r16(e + 8) : r32(e + 8);
    if (tag == 256) w = v;
    if (tag == 257) hh = v;
    if (tag == 277) samples = v;
    if (tag == 278) rows_per_strip = v;
    if (tag == 322) tile_w = v;
    if (tag == 323) tile_h = v;
  }
  if (w <= 0 || hh <= 0 || w > 0x7fffffff || hh > 0x7fffffff) return no("tiff: no image size");
  if ((tile_w > 0) != (tile_h > 0)) return no("tiff: TileWidth without TileLength (or the reverse)");
  if (samples < 1 || samples > 16 || bits < 1 || bits > 64) return no("tiff: bad SamplesPerPixel or BitsPerSample");
  h.format = "tiff";
  h.width = int(w);
  h.height = int(hh);
  // Besides the image, OpenCV's TIFF reader holds one strip or tile: a tile
  // is at most the image rounded up to 16 (tiles are multiples of 16); a
  // strip is RowsPerStrip rows, the whole image when absent or 2^32-1, and
  // not clamped to the image otherwise. At least 4 bytes a pixel: the RGBA
  // path (JPEG-in-TIFF, odd layouts) reads 8-bit RGBA.
  int64_t buf_px;
  if (tile_w > 0) {
    if (tile_w > ((w + 15) & ~int64_t(15)) || tile_h > ((hh + 15) & ~int64_t(15)))
      return no("tiff: tile " + std::to_string(tile_w) + "x" + std::to_string(tile_h) + " is larger than the image " +
                std::to_string(w) + "x" + std::to_string(hh));
    buf_px = tile_w * tile_h;
  } else {
    const int64_t rows = (rows_per_strip <= 0 || rows_per_strip == 0xffffffffll) ? hh : rows_per_strip;
    buf_px = w * rows;
  }
  h.buffer_bytes = buf_px * std::max<int64_t>(4, samples * ((bits + 7) / 8));
  return true;
}

// Reads the size a VP8 (lossy) or VP8L (lossless) bitstream chunk declares.
bool webp_bitstream_size(const uint8_t* c, size_t avail, int* w, int* h, std::string* why) {
  auto no = [&](const char* m) {
    if (why) *why = m;
    return false;
  };
  if (std::memcmp(c, "VP8 ", 4) == 0) {
    if (avail < 18) return no("webp: truncated VP8 header");
    if (!(c[11] == 0x9d && c[12] == 0x01 && c[13] == 0x2a)) return no("webp: bad VP8 start code");
    // The top two bits are an upscaling hint libwebp does not apply.
    *w = le16(c + 14) & 0x3fff;
    *h = le16(c + 16) & 0x3fff;
    return true;
  }
  if (std::memcmp(c, "VP8L", 4) == 0) {
    if (avail < 13) return no("webp: truncated VP8L header");
    if (c[8] != 0x2f) return no("webp: bad VP8L signature");
    uint32_t b = le32(c + 9);
    *w = int((b & 0x3fff) + 1);
    *h = int(((b >> 14) & 0x3fff) + 1);
    return true;
  }
  return no("webp: unknown chunk");
}

bool probe_webp(const uint8_t* d, size_t n, ImageHeader& h, std::string* why) {
  auto no = [&](const std::string& m) {
    if (why) *why = m;
    return false;
  };
  if (n < 30) return no("webp: truncated header");
  const uint8_t* c = d + 12;
  h.format = "webp";
  if (std::memcmp(c, "VP8X", 4) != 0) return webp_bitstream_size(c, n - 12, &h.width, &h.height, why);
  h.animated = (c[8] & 0x02) != 0;
  h.width = int(le24(c + 12) + 1);
  h.height = int(le24(c + 15) + 1);
  if (h.animated) return true;  // refused by check_image
  // A still VP8X file: the canvas must be the size of its one bitstream
  // (libwebp refuses a mismatch, and the prober must not pass a small canvas
  // over a large frame). Walk the chunks to the VP8/VP8L one.
  size_t off = 12;
  int chunks = 0;
  while (off + 8 <= n) {
    if (++chunks > 64) return no("webp: too many chunks before the image data");
    const uint8_t* k = d + off;
    const size_t sz = le32(k + 4);
    if (std::memcmp(k, "VP8 ", 4) == 0 || std::memcmp(k, "VP8L", 4) == 0) {
      int bw = 0, bh = 0;
      if (!webp_bitstream_size(k, n - off, &bw, &bh, why)) return false;
      if (bw != h.width || bh != h.height)
        return no("webp: canvas " + std::to_string(h.width) + "x" + std::to_string(h.height) +
                  " contradicts its bitstream " + std::to_string(bw) + "x" + std::to_string(bh));
      return true;
    }
    if (std::memcmp(k, "ANMF", 4) == 0) return no("webp: animation frame in a still image");
    off += 8 + sz + (sz & 1);
  }
  return no("webp: no image data (VP8/VP8L chunk) in a VP8X file");
}

bool probe_png(const uint8_t* d, size_t n, ImageHeader& h, std::string* why) {
  auto no = [&](const char* m) {
    if (why) *why = m;
    return false;
  };
  if (n < 24 || std::memcmp(d + 12, "IHDR", 4) != 0 || be32(d + 8) != 13) return no("png: truncated header");
  uint32_t w = be32(d + 16), hh = be32(d + 20);
  if (w == 0 || hh == 0 || w > 0x7fffffff || hh > 0x7fffffff) return no("png: bad size");
  h.format = "png";
  h.width = int(w);
  h.height = int(hh);
  // Up to the first IDAT: a second IHDR is a contradiction (libpng refuses
  // it; we refuse it before any decoder sees the file).
  size_t off = 8 + 12 + 13;
  for (int chunks = 0; off + 8 <= n && chunks < 4096; chunks++) {
    const uint32_t sz = be32(d + off);
    const uint8_t* type = d + off + 4;
    if (std::memcmp(type, "IDAT", 4) == 0 || std::memcmp(type, "IEND", 4) == 0) break;
    if (std::memcmp(type, "IHDR", 4) == 0) return no("png: more than one IHDR");
    if (sz > 0x7fffffff) return no("png: bad chunk length");
    off += 12 + size_t(sz);
  }
  return true;
}

bool probe_gif(const uint8_t* d, size_t n, ImageHeader& h, std::string* why) {
  auto no = [&](const char* m) {
    if (why) *why = m;
    return false;
  };
  if (n < 13) return no("gif: truncated header");
  h.format = "gif";
  h.width = le16(d + 6);
  h.height = le16(d + 8);
  if (h.width == 0 || h.height == 0) return no("gif: bad size");
  // Decoders allocate the logical screen and each frame: the first frame must
  // lie inside the screen, or a reader that sizes by the frame sees another
  // image than the one checked here.
  size_t off = 13;
  if (d[10] & 0x80) off += 3u << ((d[10] & 7) + 1);  // global colour table
  for (int blocks = 0; off < n && blocks < 4096; blocks++) {
    if (d[off] == 0x21) {  // extension: label, then sub-blocks up to a 0 length
      off += 2;
      while (off < n && d[off] != 0) off += size_t(d[off]) + 1;
      off++;
      continue;
    }
    if (d[off] == 0x2C) {
      if (off + 10 > n) return no("gif: truncated image descriptor");
      const uint32_t x = le16(d + off + 1), y = le16(d + off + 3), fw = le16(d + off + 5), fh = le16(d + off + 7);
      if (x + fw > uint32_t(h.width) || y + fh > uint32_t(h.height))
        return no("gif: first frame lies outside the logical screen");
      return true;
    }
    break;  // trailer or junk: nothing more to check
  }
  return true;
}

}  // namespace

bool probe_image(const uint8_t* d, size_t n, ImageHeader& h, std::string* why) {
  h = ImageHeader{};
  if (!d || n == 0) {
    if (why) *why = "empty input";
    return false;
  }
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return probe_jpeg(d, n, h, why);
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return probe_png(d, n, h, why);
  if (n >= 6 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) return probe_gif(d, n, h, why);
  if (n >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0)
    return probe_webp(d, n, h, why);
  if (n >= 26 && d[0] == 'B' && d[1] == 'M') {
    uint32_t dib = le32(d + 14);
    int64_t w, hh;
    if (dib == 12) {
      w = le16(d + 18);
      hh = le16(d + 20);
    } else if (dib >= 40) {
      w = int32_t(le32(d + 18));
      hh = int32_t(le32(d + 22));
    } else {
      if (why) *why = "bmp: unknown header";
      return false;
    }
    // A negative height is a top-down bitmap (OpenCV reads |height| rows); a
    // negative width has no meaning.
    if (hh < 0) hh = -hh;
    if (w <= 0 || hh <= 0 || hh > 0x7fffffff) {
      if (why) *why = "bmp: bad size";
      return false;
    }
    h.format = "bmp";
    h.width = int(w);
    h.height = int(hh);
    return true;
  }
  if (n >= 8 && ((d[0] == 'I' && d[1] == 'I' && d[2] == 42 && d[3] == 0) ||
                 (d[0] == 'M' && d[1] == 'M' && d[2] == 0 && d[3] == 42)))
    return probe_tiff(d, n, h, why);
  if (why) *why = "unrecognised image format";
  return false;
}

ImageHeader check_image(const uint8_t* data, size_t len, const DecodeLimits& lim) {
  if (!data || len == 0) fail(VZ_ERR_DECODE, "empty image");
  if (lim.max_bytes > 0 && int64_t(len) > lim.max_bytes)
    fail(VZ_ERR_TOO_LARGE, "encoded image is " + std::to_string(len) + " bytes, over the limit of " +
                               std::to_string(lim.max_bytes));
  ImageHeader h;
  std::string why;
  if (!probe_image(data, len, h, &why)) fail(VZ_ERR_DECODE, "cannot read image header: " + why);
  if (h.format == "gif") fail(VZ_ERR_UNSUPPORTED, "GIF is not supported (decode to PNG or JPEG first)");
  if (h.animated) fail(VZ_ERR_UNSUPPORTED, "animated WebP is not supported");
  const std::string dims = std::to_string(h.width) + "x" + std::to_string(h.height);
  int64_t px = int64_t(h.width) * int64_t(h.height);
  if (px > lim.max_pixels)
    fail(VZ_ERR_TOO_LARGE, "image declares " + dims + " pixels, over the limit of " + std::to_string(lim.max_pixels));
  if (lim.max_buffer_bytes > 0 && h.buffer_bytes > lim.max_buffer_bytes)
    fail(VZ_ERR_TOO_LARGE, "image declares a strip or tile the decoder would hold as " +
                               std::to_string(h.buffer_bytes >> 20) + " MiB, over the limit of " +
                               std::to_string(lim.max_buffer_bytes >> 20) + " MiB (write it in smaller strips)");
  if (h.width < lim.min_side || h.height < lim.min_side)
    fail(VZ_ERR_TOO_SMALL, "image is " + dims + ", smaller than the minimum of " + std::to_string(lim.min_side) +
                               " px a side");
  const int lo = std::min(h.width, h.height), hi = std::max(h.width, h.height);
  if (lim.max_aspect > 0 && int64_t(hi) > int64_t(lo) * lim.max_aspect)
    fail(VZ_ERR_TOO_LARGE, "image is " + dims + ": its aspect ratio 1:" + std::to_string(hi / lo) +
                               " is over the limit of 1:" + std::to_string(lim.max_aspect) +
                               " (face search on such a strip costs far more than its pixels)");
  return h;
}

}  // namespace vz
