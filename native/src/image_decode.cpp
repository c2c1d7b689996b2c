// Header prober (JPEG SOF, PNG IHDR, WebP VP8/VP8L/VP8X, BMP, TIFF, GIF) and
// decoding under limits. JPEG goes through libjpeg-turbo directly: DCT-scaled
// decodes, region decodes, truncation detection and no stderr noise. Other
// formats go through cv::imdecode once the header has passed the limits.
#include "image_decode.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common.h"

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

namespace {

void apply_orientation(cv::Mat& m, int o) {
  cv::Mat r;
  switch (o) {
    case 2: cv::flip(m, r, 1); break;
    case 3: cv::flip(m, r, -1); break;
    case 4: cv::flip(m, r, 0); break;
    case 5: cv::transpose(m, r); break;
    case 6: cv::rotate(m, r, cv::ROTATE_90_CLOCKWISE); break;
    case 7: cv::transpose(m, r); cv::flip(r, r, -1); break;
    case 8: cv::rotate(m, r, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: return;
  }
  m = r;
}

// Oriented rect -> raw (stored) rect; W,H raw size.
cv::Rect raw_rect(const cv::Rect& r, int o, int W, int H) {
  switch (o) {
    case 2: return {W - r.x - r.width, r.y, r.width, r.height};
    case 3: return {W - r.x - r.width, H - r.y - r.height, r.width, r.height};
    case 4: return {r.x, H - r.y - r.height, r.width, r.height};
    case 5: return {r.y, r.x, r.height, r.width};
    case 6: return {r.y, H - r.x - r.width, r.height, r.width};
    case 7: return {W - r.y - r.height, H - r.x - r.width, r.height, r.width};
    case 8: return {W - r.y - r.height, r.x, r.height, r.width};
    default: return r;
  }
}
// Raw rect -> oriented rect (the inverse map).
cv::Rect oriented_rect(const cv::Rect& r, int o, int W, int H) {
  switch (o) {
    case 2: return {W - r.x - r.width, r.y, r.width, r.height};
    case 3: return {W - r.x - r.width, H - r.y - r.height, r.width, r.height};
    case 4: return {r.x, H - r.y - r.height, r.width, r.height};
    case 5: return {r.y, r.x, r.height, r.width};
    case 6: return {H - r.y - r.height, r.x, r.height, r.width};
    case 7: return {H - r.y - r.height, W - r.x - r.width, r.height, r.width};
    case 8: return {r.y, W - r.x - r.width, r.height, r.width};
    default: return r;
  }
}

struct JpegErr {
  jpeg_error_mgr mgr;
  jmp_buf jb;
  bool truncated = false;
  bool no_memory = false;  // over kJpegMaxMemory
  char msg[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr c) {
  JpegErr* e = reinterpret_cast<JpegErr*>(c->err);
  (*c->err->format_message)(c, e->msg);
  // With max_memory_to_use set, whole-image buffers that do not fit ask for
  // a backing store, which this build does not have.
  const int code = c->err->msg_code;
  if (code == JERR_NO_BACKING_STORE || code == JERR_OUT_OF_MEMORY) e->no_memory = true;
  longjmp(e->jb, 1);
}
void jpeg_emit(j_common_ptr c, int level) {
  if (level >= 0) return;  // trace messages
  JpegErr* e = reinterpret_cast<JpegErr*>(c->err);
  int code = c->err->msg_code;
  if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER) e->truncated = true;
  c->err->num_warnings++;
}
void jpeg_output_silent(j_common_ptr) {}
// Refuses "scan bombs": progressive files with thousands of tiny scans that
// cost seconds of CPU for a few kilobytes.
void jpeg_progress(j_common_ptr c) {
  if (!c->is_decompressor) return;
  j_decompress_ptr d = reinterpret_cast<j_decompress_ptr>(c);
  if (d->input_scan_number > 300) {
    JpegErr* e = reinterpret_cast<JpegErr*>(c->err);
    std::snprintf(e->msg, sizeof(e->msg), "too many scans (%d)", d->input_scan_number);
    longjmp(e->jb, 1);
  }
}

struct JpegJob {
  const uint8_t* data;
  size_t len;
  int denom;
  bool region;        // decode only raw rows/cols of `want` (scaled coordinates)
  bool dc_only = false;  // progressive at 1/8: stop reading once every DC is in
  cv::Rect want;      // in scaled raw coordinates
  cv::Mat out;        // BGR
  cv::Rect got;       // scaled raw rect actually returned
  std::string error;
  bool truncated = false;
  bool too_large = false;  // the decoder needed more than kJpegMaxMemory
};

// C-style body: only POD locals between setjmp and longjmp.
bool run_jpeg(JpegJob* job) {
  jpeg_decompress_struct cinfo;
  JpegErr err;
  std::memset(&cinfo, 0, sizeof(cinfo));
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_emit;
  err.mgr.output_message = jpeg_output_silent;
  err.msg[0] = 0;
  unsigned char* row_cmyk = nullptr;
  if (setjmp(err.jb)) {
    std::free(row_cmyk);
    jpeg_destroy_decompress(&cinfo);
    job->error = err.msg;
    job->too_large = err.no_memory;
    return false;
  }
  jpeg_create_decompress(&cinfo);
  // A progressive or multi-scan file is buffered whole as DCT coefficients
  // (2 bytes a sample: 150 MB for 50 MP at 4:2:0, 300 MB at 4:4:4) whatever
  // the output scale: bound the library's own memory.
  cinfo.mem->max_memory_to_use = long(kJpegMaxMemory);
  jpeg_progress_mgr progress;
  progress.progress_monitor = jpeg_progress;
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, job->data, (unsigned long)job->len);
  jpeg_read_header(&cinfo, TRUE);
  cinfo.scale_num = 1;
  cinfo.scale_denom = (unsigned)job->denom;
  bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_EXT_BGR;
  cinfo.dct_method = JDCT_ISLOW;
  // A 1/8 decode needs only the DC coefficients. In a progressive file they
  // come first: buffered-image mode lets us stop reading after them and
  // skip the entropy decoding of every AC scan (most of the file).
  const bool dc_only = job->dc_only && cinfo.progressive_mode && job->denom == 8 && !job->region;
  if (dc_only) {
    cinfo.buffered_image = TRUE;
    cinfo.do_block_smoothing = FALSE;  // no guessed AC: the 1/8 image is the block means
  }
  jpeg_start_decompress(&cinfo);
  if (dc_only) {
    for (;;) {
      bool have_dc = cinfo.coef_bits != nullptr;
      for (int c = 0; have_dc && c < cinfo.num_components; c++)
        if (cinfo.coef_bits[c][0] < 0) have_dc = false;
      if (have_dc) break;
      int rc = jpeg_consume_input(&cinfo);
      if (rc == JPEG_SUSPENDED || rc == JPEG_REACHED_EOI) break;
    }
    // Output of the current scan: the library reads on until that scan is
    // complete for each row it emits.
    jpeg_start_output(&cinfo, cinfo.input_scan_number);
  }
  JDIMENSION ow = cinfo.output_width, oh = cinfo.output_height;
  JDIMENSION x0 = 0, cw = ow, y0 = 0, y1 = oh;
  if (job->region) {
    int wx0 = std::max(0, job->want.x), wy0 = std::max(0, job->want.y);
    int wx1 = std::min<int>(int(ow), job->want.x + job->want.width);
    int wy1 = std::min<int>(int(oh), job->want.y + job->want.height);
    if (wx1 <= wx0 || wy1 <= wy0) {
      jpeg_abort_decompress(&cinfo);
      jpeg_destroy_decompress(&cinfo);
      job->error = "empty region";
      return false;
    }
    x0 = JDIMENSION(wx0);
    cw = JDIMENSION(wx1 - wx0);
    if (cw < ow) jpeg_crop_scanline(&cinfo, &x0, &cw);  // widens to iMCU bounds
    y0 = JDIMENSION(wy0);
    y1 = JDIMENSION(wy1);
    if (y0 > 0) jpeg_skip_scanlines(&cinfo, y0);
  }
  JDIMENSION out_w = cinfo.output_width;  // after crop
  job->out.create(int(y1 - y0), int(out_w), CV_8UC3);
  if (cmyk) row_cmyk = static_cast<unsigned char*>(std::malloc(size_t(out_w) * 4));
  while (cinfo.output_scanline < y1) {
    JDIMENSION row = cinfo.output_scanline - y0;
    unsigned char* dst = job->out.ptr<unsigned char>(int(row));
    if (cmyk) {
      JSAMPROW rp = row_cmyk;
      jpeg_read_scanlines(&cinfo, &rp, 1);
      bool inv = cinfo.saw_Adobe_marker;
      for (JDIMENSION x = 0; x < out_w; x++) {
        int C = row_cmyk[4 * x], M = row_cmyk[4 * x + 1], Y = row_cmyk[4 * x + 2], K = row_cmyk[4 * x + 3];
        if (!inv) { C = 255 - C; M = 255 - M; Y = 255 - Y; K = 255 - K; }
        dst[3 * x] = (unsigned char)(Y * K / 255);
        dst[3 * x + 1] = (unsigned char)(M * K / 255);
        dst[3 * x + 2] = (unsigned char)(C * K / 255);
      }
    } else {
      JSAMPROW rp = dst;
      jpeg_read_scanlines(&cinfo, &rp, 1);
    }
  }
  if (dc_only) {
    jpeg_finish_output(&cinfo);
    jpeg_abort_decompress(&cinfo);
  } else if (job->region && y1 < oh) {
    jpeg_abort_decompress(&cinfo);
  } else {
    jpeg_finish_decompress(&cinfo);
  }
  std::free(row_cmyk);
  row_cmyk = nullptr;
  job->truncated = err.truncated;
  job->got = cv::Rect(int(x0), int(y0), int(out_w), int(y1 - y0));
  jpeg_destroy_decompress(&cinfo);
  return true;
}

[[noreturn]] void jpeg_failed(const JpegJob& job) {
  if (job.too_large)
    fail(VZ_ERR_TOO_LARGE, "JPEG needs over " + std::to_string(kJpegMaxMemory >> 20) +
                               " MiB of decoder memory (a progressive or multi-scan file this large)");
  fail(VZ_ERR_DECODE, "corrupt JPEG: " + job.error);
}

}  // namespace

cv::Mat decode_image(const uint8_t* data, size_t len, const ImageHeader& hdr, int denom, double* scale) {
  cv::Mat img;
  if (hdr.format == "jpeg") {
    if (denom != 1 && denom != 2 && denom != 4 && denom != 8) denom = 1;
    JpegJob job{data, len, denom, false, false, {}, {}, {}, {}, false};
    // The DC-only shortcut never reads the end of the file, so it is only
    // taken when the file ends with EOI; otherwise the full decode checks
    // for truncation.
    job.dc_only = denom == 8 && len >= 4 && data[len - 2] == 0xFF && data[len - 1] == 0xD9;
    if (!run_jpeg(&job)) jpeg_failed(job);
    if (job.truncated) fail(VZ_ERR_DECODE, "truncated JPEG (premature end of data)");
    img = job.out;
    apply_orientation(img, hdr.orientation);
    if (scale) *scale = double(img.cols) / double(hdr.oriented_width());
    return img;
  }
  cv::Mat buf(1, int(len), CV_8U, const_cast<uint8_t*>(data));
  try {
    img = cv::imdecode(buf, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    fail(VZ_ERR_DECODE, std::string("cannot decode ") + hdr.format + ": " + e.what());
  }
  if (img.empty()) fail(VZ_ERR_DECODE, "cannot decode " + hdr.format + " (corrupt or truncated)");
  // The pixels must be the size the header promised (or its transpose,
  // when imdecode applied an EXIF orientation): anything else means the
  // header checks above judged another image than the one decoded.
  const bool same = img.cols == hdr.width && img.rows == hdr.height;
  const bool turned = img.cols == hdr.height && img.rows == hdr.width;
  if (!same && !turned)
    fail(VZ_ERR_DECODE, hdr.format + " header declares " + std::to_string(hdr.width) + "x" +
                            std::to_string(hdr.height) + " but the decoder read " + std::to_string(img.cols) + "x" +
                            std::to_string(img.rows));
  if (img.depth() != CV_8U) img.convertTo(img, CV_8U, img.depth() == CV_16U ? 1.0 / 257 : 1.0);
  if (scale) *scale = double(img.cols) / double(std::max(1, hdr.oriented_width()));
  return img;
}

cv::Mat decode_jpeg_region(const uint8_t* data, size_t len, const ImageHeader& hdr, int denom, cv::Rect roi,
                           cv::Point2d* origin, double* scale) {
  CV_Assert(hdr.format == "jpeg");
  const int W = hdr.width, H = hdr.height;
  roi &= cv::Rect(0, 0, hdr.oriented_width(), hdr.oriented_height());
  if (roi.empty()) fail(VZ_ERR_INTERNAL, "empty region");
  cv::Rect raw = raw_rect(roi, hdr.orientation, W, H);
  // Scaled raw coordinates, rounded outwards.
  cv::Rect want(raw.x / denom, raw.y / denom, 0, 0);
  want.width = (raw.x + raw.width + denom - 1) / denom - want.x;
  want.height = (raw.y + raw.height + denom - 1) / denom - want.y;
  JpegJob job{data, len, denom, true, false, want, {}, {}, {}, false};
  if (!run_jpeg(&job)) jpeg_failed(job);
  // Trim the iMCU-widened columns back to what was asked.
  int dx = want.x - job.got.x;
  cv::Rect keep(dx, 0, std::min(want.width, job.out.cols - dx), job.out.rows);
  cv::Mat img = job.out(keep).clone();
  cv::Rect got_raw(want.x * denom, want.y * denom, keep.width * denom, keep.height * denom);
  int Ws = W, Hs = H;  // oriented_rect needs raw size in source pixels
  cv::Rect o = oriented_rect(got_raw, hdr.orientation, Ws, Hs);
  apply_orientation(img, hdr.orientation);
  // Rounding at the far image edge can make got_raw overhang; origin is
  // computed from the near edge, which is exact for each orientation.
  if (origin) *origin = cv::Point2d(o.x, o.y);
  if (scale) *scale = 1.0 / denom;
  return img;
}

}  // namespace vz
