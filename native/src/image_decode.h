// Header probing and limits (image_probe.cpp), limited decoding of encoded
// images (image_decode.cpp).
#pragma once
#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

namespace vz {

struct ImageHeader {
  std::string format;   // jpeg, png, webp, bmp, tiff, gif
  int width = 0;        // as stored in the file
  int height = 0;
  int orientation = 1;  // EXIF orientation (JPEG), 1..8
  bool animated = false;
  // Bytes of the decoder's working buffer besides the image (a TIFF strip
  // or tile); 0 for the other formats (their row buffers are small).
  int64_t buffer_bytes = 0;
  // Size after orientation (what the caller sees).
  int oriented_width() const { return orientation >= 5 ? height : width; }
  int oriented_height() const { return orientation >= 5 ? width : height; }
};

// Reads only the header. Returns false when the format is not recognised or
// the header is truncated; `why` says which.
bool probe_image(const uint8_t* data, size_t len, ImageHeader& out, std::string* why = nullptr);

struct DecodeLimits {
  int64_t max_pixels = 50000000;
  int64_t max_bytes = 32ll << 20;
  int min_side = 16;
  // Longest side over shortest side. Detection tiles the long side at the
  // scale the short side asks for, so cost grows with the ratio, not with
  // the pixels (native/README.md, "Limits").
  int max_aspect = 20;
  // A decoder's working buffer besides the image (TIFF strip or tile): with
  // the image itself (3 bytes a pixel, 150 MB at 50 MP) a decode stays under
  // 256 MB.
  int64_t max_buffer_bytes = 64ll << 20;
};

// libjpeg's own memory per decode (its whole-image coefficient buffer for
// progressive and multi-scan files): over it, TOO_LARGE.
constexpr int64_t kJpegMaxMemory = 160ll << 20;

// Checks size limits from the header (pixels, working buffer, aspect
// ratio); throws vz::Error (DECODE, TOO_LARGE, UNSUPPORTED, TOO_SMALL).
// Returns the header.
ImageHeader check_image(const uint8_t* data, size_t len, const DecodeLimits& lim);

// Decodes to 8-bit BGR with the EXIF orientation applied. For JPEG,
// `denom` in {1,2,4,8} asks libjpeg for a DCT-scaled decode (1/denom); other
// formats ignore it and decode at full size (the actual scale is returned in
// *scale as decoded/source). Throws vz::Error(VZ_ERR_DECODE) on corrupt or
// truncated data.
cv::Mat decode_image(const uint8_t* data, size_t len, const ImageHeader& hdr, int denom,
                     double* scale);

// JPEG only: decodes the region `roi` (oriented source pixels) at 1/denom
// scale. Returns the crop and its origin/scale so that
// source = origin + pixel / scale.
cv::Mat decode_jpeg_region(const uint8_t* data, size_t len, const ImageHeader& hdr, int denom,
                           cv::Rect roi, cv::Point2d* origin, double* scale);

}  // namespace vz
