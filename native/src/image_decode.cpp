// Decoding under limits, once check_image (image_probe.cpp) has passed the
// header. JPEG goes through libjpeg-turbo directly: DCT-scaled decodes,
// region decodes, truncation detection, a memory cap and no stderr noise.
// Other formats go through cv::imdecode.
#include "image_decode.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>
#include <jerror.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common.h"

namespace vz {

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
