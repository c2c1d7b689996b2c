/*
 * vizor_c.h: the one public C ABI of Vizor's native face engine.
 *
 * Rules of this header (they keep cgo and other FFI callers safe):
 *  - Only plain C types cross it: opaque handles, fixed-size structs, POD arrays.
 *    No OpenCV, CUDA or C++ type appears here.
 *  - Every entry point returns a vz_status by value. A non-OK status owns a
 *    heap message that the caller frees with vz_Status_Free. There is no
 *    thread-local "last error": a Go goroutine may move between OS threads.
 *  - Every entry point catches all C++ exceptions, argument checks included.
 *  - Calls are batch-shaped: one crossing analyses a whole batch of images.
 *  - Outputs are allocated by the engine and released with the paired _Free
 *    call; the engine never keeps a caller pointer after a call returns.
 *  - A vz_engine is safe to use from many threads at once; the engine bounds
 *    its own parallelism with a pool of networks (see threads in the config).
 */
#ifndef VIZOR_C_H
#define VIZOR_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2: vz_cancel and vz_analyze_options.cancel, VZ_ERR_CANCELLED,
 *    vz_engine_config.max_faces.
 * 3: vz_face.liveness_status (VZ_LIVENESS_*). */
#define VZ_ABI_VERSION 3

/* Fixed sizes of inline arrays. */
#define VZ_MAX_MODELS 16
#define VZ_NAME_LEN 64
#define VZ_PATH_LEN 256
#define VZ_SHA256_LEN 65 /* 64 hex digits + NUL */
#define VZ_LANDMARKS68 68
#define VZ_LANDMARKS5 5
#define VZ_EXPRESSIONS 7
#define VZ_MESSAGE_LEN 256

/* Status and error codes. */
typedef enum vz_code {
  VZ_OK = 0,
  VZ_ERR_INVALID_ARGUMENT = 1, /* a NULL pointer, a bad option value */
  VZ_ERR_DECODE = 2,           /* empty, truncated, corrupt or unreadable image */
  VZ_ERR_TOO_LARGE = 3,        /* declared pixels, bytes, aspect ratio or detector work over a limit */
  VZ_ERR_UNSUPPORTED = 4,      /* a format the decoder does not read (e.g. GIF, animations) */
  VZ_ERR_NO_FACE = 5,          /* per image: no face at the requested threshold */
  VZ_ERR_MODEL = 6,            /* manifest or model file missing, bad checksum, load failure */
  VZ_ERR_BACKEND = 7,          /* backend requested is not available in this build/host */
  VZ_ERR_TOO_SMALL = 8,        /* image smaller than the minimum useful size (e.g. 1x1) */
  VZ_ERR_CANCELLED = 9,        /* per image: the call's vz_cancel was set before it completed */
  VZ_ERR_INTERNAL = 100
} vz_code;

typedef struct vz_status {
  int32_t code;  /* vz_code */
  char* message; /* NULL when code == VZ_OK; else heap text owned by the caller */
} vz_status;

/* Frees the message of a status (safe on an OK status and on NULL). */
void vz_Status_Free(vz_status* status);

/* ---------------------------------------------------------------- engine */

typedef struct vz_engine vz_engine; /* opaque */

typedef struct vz_engine_config {
  const char* models_dir;    /* directory holding the ONNX files and `manifest` */
  const char* manifest_path; /* NULL or "": <models_dir>/manifest */
  int32_t workers;           /* concurrent analyses (size of the net pool); 0: hardware threads */
  int32_t threads_per_worker;/* threads inside one forward pass (OpenCV DNN, ONNX Runtime intra-op); 0: 1 */
  const char* backend;       /* "cpu" (default) or "cuda" */
  const char* precision;     /* "fp32" (default) or "fp16" (cuda only) */
  int64_t max_pixels;        /* refuse images declaring more pixels; 0: 50,000,000 */
  int64_t max_bytes;         /* refuse encoded inputs larger than this; 0: 32 MiB */
  int32_t verify_checksums;  /* non-zero: check each model's sha256 against the manifest */
  int32_t max_faces;         /* faces per image taken past detection (largest first), whatever
                                the call asks; 0: 64 */
} vz_engine_config;

typedef struct vz_model_info {
  char role[VZ_NAME_LEN];   /* detector, landmarker, recognizer, liveness, age, ... */
  char name[VZ_NAME_LEN];   /* manifest name, e.g. fr_feature */
  char id[VZ_NAME_LEN];     /* model id stamped on templates, e.g. faceplugin-fr_feature-512 */
  char file[VZ_PATH_LEN];
  char sha256[VZ_SHA256_LEN];
  int32_t input_w, input_h, input_c;
  int32_t loaded;           /* 1 when the net loaded */
} vz_model_info;

typedef struct vz_engine_info {
  int32_t abi_version;
  char engine_version[VZ_NAME_LEN];
  char opencv_version[VZ_NAME_LEN];
  char backend[VZ_NAME_LEN];      /* the backend in use: "cpu", "cuda", "cuda-fp16" */
  int32_t cuda_built;             /* OpenCV was built with the CUDA DNN backend */
  int32_t cuda_devices;           /* CUDA devices visible (0 when not built) */
  int32_t workers;
  int32_t template_dim;           /* recognizer output length (512 for fr_feature) */
  char recognizer_id[VZ_NAME_LEN];/* the id templates carry */
  int32_t num_models;
  vz_model_info models[VZ_MAX_MODELS];
} vz_engine_info;

/* Creates an engine: loads the manifest and every model it names. */
vz_status vz_Engine_Create(const vz_engine_config* config, vz_engine** out);
/* Destroys an engine (NULL is a no-op). Callers must not use it afterwards. */
void vz_Engine_Destroy(vz_engine* engine);
/* Fills *out with versions, backend and the loaded models. */
vz_status vz_Engine_Info(const vz_engine* engine, vz_engine_info* out);

/* --------------------------------------------------------------- analyse */

/* Stages (bit flags). Later stages pull in what they need: TEMPLATE implies
 * LANDMARKS and ALIGN; QUALITY implies LANDMARKS. */
enum {
  VZ_STAGE_DETECT = 1u << 0,
  VZ_STAGE_LANDMARKS = 1u << 1,
  VZ_STAGE_TEMPLATE = 1u << 2,
  VZ_STAGE_LIVENESS = 1u << 3,
  VZ_STAGE_QUALITY = 1u << 4,
  VZ_STAGE_ATTRIBUTES = 1u << 5,
  VZ_STAGE_ALL = 0x3Fu
};

/* Attributes (bit flags), used with VZ_STAGE_ATTRIBUTES. */
enum {
  VZ_ATTR_AGE = 1u << 0,
  VZ_ATTR_GENDER = 1u << 1,
  VZ_ATTR_POSE = 1u << 2,
  VZ_ATTR_EXPRESSION = 1u << 3,
  VZ_ATTR_EYES = 1u << 4,
  VZ_ATTR_ALL = 0x1Fu
};

/* A cancellation token. It lives in C memory, so a caller in a garbage-collected
 * language can set it from any thread while a call runs. An analysis that
 * sees it set stops at the next stage boundary (between images, detector
 * tile chunks and batched stages); the images it had not finished report
 * VZ_ERR_CANCELLED. Destroy it only after every call using it has returned. */
typedef struct vz_cancel vz_cancel; /* opaque */

vz_status vz_Cancel_Create(vz_cancel** out);
/* Sets the token (idempotent, thread-safe). */
vz_status vz_Cancel_Set(vz_cancel* cancel);
/* Destroys a token (NULL is a no-op). */
void vz_Cancel_Destroy(vz_cancel* cancel);

typedef struct vz_analyze_options {
  uint32_t stages;        /* VZ_STAGE_* flags; 0: DETECT|LANDMARKS|TEMPLATE|LIVENESS|QUALITY */
  uint32_t attributes;    /* VZ_ATTR_* flags */
  int32_t max_faces;      /* keep at most this many, largest first, dropped right after
                             detection; 0 (or over the engine's max_faces): the engine's cap */
  float det_threshold;    /* detector confidence; <= 0: the engine's calibrated default */
  int32_t min_face_px;    /* smallest face height to look for, in source pixels; 0: automatic.
                             A value whose search needs more than the detector's tile budget
                             (native/README.md) is refused per image with VZ_ERR_TOO_LARGE. */
  const vz_cancel* cancel;/* NULL, or a token that stops the call early */
} vz_analyze_options;

/* One encoded image (JPEG, PNG, WebP, BMP, TIFF). The bytes are read during
 * the call only. */
typedef struct vz_image {
  const uint8_t* data;
  int64_t len;
} vz_image;

typedef struct vz_quality {
  float score;       /* overall quality in [0,1]; see native/README.md for the formula */
  float size;        /* each part in [0,1], 1 best */
  float confidence;
  float pose;
  float sharpness;
  float exposure;
  float eyes_open;
} vz_quality;

typedef struct vz_attributes {
  float age;            /* years; < 0 when not computed */
  int32_t gender;       /* 0 female, 1 male, -1 not computed */
  float gender_score;   /* probability of the reported gender */
  float yaw, pitch, roll; /* degrees; NaN when not computed */
  int32_t expression;   /* index into the manifest's expression labels; -1 not computed */
  float expression_scores[VZ_EXPRESSIONS];
  float left_eye_open, right_eye_open; /* probabilities; < 0 when not computed */
} vz_attributes;

/* Why a face has (or lacks) a liveness score. PAD is withheld, not guessed,
 * where the model has nothing to judge: a greyscale image carries no colour
 * cue, and a face smaller than the PAD input has too little texture
 * (native/README.md, "Presentation attack detection"). */
typedef enum vz_liveness_status {
  VZ_LIVENESS_SCORED = 0,         /* liveness holds P(live) */
  VZ_LIVENESS_NOT_COMPUTED = 1,   /* the stage was not asked for, or no liveness model */
  VZ_LIVENESS_GREYSCALE = 2,      /* unavailable: the face region has no colour */
  VZ_LIVENESS_FACE_TOO_SMALL = 3  /* unavailable: face box under the PAD minimum */
} vz_liveness_status;

typedef struct vz_face {
  float x, y, w, h;     /* box in source-image pixels */
  float det_score;      /* detector confidence */
  float landmarks68[VZ_LANDMARKS68 * 2]; /* x,y pairs in source pixels (when computed) */
  float landmarks5[VZ_LANDMARKS5 * 2];   /* eyes (subject's right then left as seen: image-left first), nose, mouth corners */
  float liveness;       /* P(live) in [0,1] when liveness_status is SCORED; else < 0 */
  vz_quality quality;   /* score < 0 when not computed */
  vz_attributes attributes;
  const float* template_data; /* L2-normalised, template_dim floats; NULL when not computed */
  int32_t template_dim;
  int32_t liveness_status;      /* vz_liveness_status */
} vz_face;

/* Stage timings of one image, milliseconds. */
typedef struct vz_timings {
  double decode, detect, landmarks, align, liveness, embed, quality, attributes, total;
} vz_timings;

typedef struct vz_image_result {
  int32_t code;                  /* vz_code for this image: OK, DECODE, TOO_LARGE, NO_FACE, ... */
  char message[VZ_MESSAGE_LEN];  /* reason when code != OK */
  int32_t width, height;         /* source size as declared by the file */
  int32_t num_faces;
  vz_face* faces;                /* num_faces entries, largest first */
  vz_timings timings;
} vz_image_result;

typedef struct vz_batch_result {
  int32_t count;
  vz_image_result* images; /* count entries, in input order */
} vz_batch_result;

/* Analyses a batch of encoded images. Per-image failures (decode errors, no
 * face, limits, cancellation, and any failure of a stage while it processed
 * that image) are reported in each vz_image_result while the other images
 * complete normally; the returned status is non-OK only when the whole call
 * failed (bad arguments, out of memory building the result). On OK,
 * *out is set and must be released with vz_BatchResult_Free. */
vz_status vz_Engine_Analyze(vz_engine* engine, const vz_image* images, int32_t count,
                            const vz_analyze_options* options, vz_batch_result** out);

/* Releases a batch result and every array it owns (NULL is a no-op). */
void vz_BatchResult_Free(vz_batch_result* result);

/* Reads only the header of an encoded image: format and declared size,
 * without decoding pixels. format gets a short name ("jpeg", "png", "webp",
 * "bmp", "tiff", "gif", ...). */
vz_status vz_Image_Probe(const uint8_t* data, int64_t len, char format[16], int32_t* width,
                         int32_t* height);

#ifdef __cplusplus
}
#endif

#endif /* VIZOR_C_H */
