#!/usr/bin/env bash
# Installs ONNX Runtime's CPU library for the native engine's "ort" runtime
# (native/src/ort_runtime.cpp) into build/onnxruntime/lib, and brings the
# C API header into the Go module cache.
#
# Library: the npm package onnxruntime-node ships libonnxruntime.so.1 (MIT)
# as a prebuilt binary; the tarball and the library are both sha256-checked
# before anything is installed. Header: the Go module
# github.com/yalue/onnxruntime_go (pinned in go.mod) carries
# onnxruntime_c_api.h; CMake finds it with `go list -m` (no copy in the repo).
# The header's ORT_API_VERSION must not exceed the library's version
# (v1.27.0 -> API 24; onnxruntime 1.24.3 serves API 24).
#
# Idempotent: a stamp records what is installed; the tarball is cached in
# $VIZOR_CACHE (default /var/cache/vizor).
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_NPM=onnxruntime-node
ORT_VERSION=1.24.3
TGZ_SHA256=aa1bb5fa261ea68de05dd53efbba210cd7adf2d2850f4c3a201054c74cc78040
LIB_SHA256=92ba8e44d31b80a34f5e805076a044122c3be1fffe0d88ed790de7267b0b2682
LIB_IN_TGZ=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
DEST=build/onnxruntime
CACHE=${VIZOR_CACHE:-/var/cache/vizor}
STAMP="$DEST/vizor-ort.stamp"
WANT="$ORT_NPM@$ORT_VERSION lib=$LIB_SHA256"

# The header comes with the Go module; `go mod download` is a no-op when the
# module cache already holds it.
if command -v go >/dev/null 2>&1; then
  go mod download github.com/yalue/onnxruntime_go
else
  echo "onnxruntime: go not found; the build needs it to locate onnxruntime_c_api.h" >&2
fi

if [[ "$(uname -m)" != x86_64 ]]; then
  echo "onnxruntime: only linux x86_64 is pinned here (got $(uname -m)); build with -DVIZOR_ORT_DIR=<your build>" >&2
  exit 0
fi

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -f "$DEST/lib/libonnxruntime.so.1" ]]; then
  echo "onnxruntime: $ORT_NPM@$ORT_VERSION already installed in $DEST"
  exit 0
fi

mkdir -p "$CACHE"
TGZ="$CACHE/$ORT_NPM-$ORT_VERSION.tgz"
check() { [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]; }
if [[ ! -f "$TGZ" ]] || ! check "$TGZ" "$TGZ_SHA256"; then
  echo "onnxruntime: fetching $ORT_NPM@$ORT_VERSION from the npm registry"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$ORT_NPM@$ORT_VERSION" >/dev/null)
  mv "$tmp/$ORT_NPM-$ORT_VERSION.tgz" "$TGZ.part"
  if ! check "$TGZ.part" "$TGZ_SHA256"; then
    echo "onnxruntime: $ORT_NPM-$ORT_VERSION.tgz sha256 mismatch" >&2
    rm -f "$TGZ.part"
    exit 1
  fi
  mv "$TGZ.part" "$TGZ"
fi

mkdir -p "$DEST/lib"
tar -xzf "$TGZ" -O "$LIB_IN_TGZ" >"$DEST/lib/libonnxruntime.so.1.part"
if ! check "$DEST/lib/libonnxruntime.so.1.part" "$LIB_SHA256"; then
  echo "onnxruntime: libonnxruntime.so.1 sha256 mismatch" >&2
  rm -f "$DEST/lib/libonnxruntime.so.1.part"
  exit 1
fi
mv "$DEST/lib/libonnxruntime.so.1.part" "$DEST/lib/libonnxruntime.so.1"
ln -sf libonnxruntime.so.1 "$DEST/lib/libonnxruntime.so"
echo "$WANT" >"$STAMP"
echo "onnxruntime: installed $ORT_NPM@$ORT_VERSION into $DEST/lib"
