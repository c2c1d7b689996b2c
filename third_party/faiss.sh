#!/usr/bin/env bash
# Builds FAISS 1.7.3 with its C API (libfaiss_c) from Debian bookworm's source
# package and installs it into $PREFIX (default /usr/local).
#
# Why: Debian's libfaiss-dev ships no C API, and go-faiss links -lfaiss_c.
# The build is tuned for AVX2/FMA/F16C (x86-64-v3) because the generic build
# is several times slower at exact search (issue 3 measured 430 ms per query
# at 10^6 templates with Debian's build).
#
# Idempotent: a stamp file records the version and flags; a matching stamp
# skips the ~4 minute build. The source and build tree are cached in
# $VIZOR_CACHE (default /var/cache/vizor) so a rebuild skips the download.
set -euo pipefail

VERSION=1.7.3
PREFIX=${PREFIX:-/usr/local}
CACHE=${VIZOR_CACHE:-/var/cache/vizor}
ARCH_FLAGS=${FAISS_ARCH_FLAGS:--march=x86-64-v3 -mtune=generic}
STAMP="$PREFIX/lib/vizor-faiss.stamp"
WANT="faiss $VERSION c_api shared flags=[$ARCH_FLAGS]"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -f "$PREFIX/lib/libfaiss_c.so" ]]; then
  echo "faiss: $WANT already installed in $PREFIX"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi

mkdir -p "$CACHE"
cd "$CACHE"
SRC=$(ls -d faiss-$VERSION* 2>/dev/null | head -1 || true)
if [[ -z "$SRC" || ! -f "$SRC/CMakeLists.txt" ]]; then
  # apt-get source needs a deb-src entry for bookworm.
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    echo "faiss: adding a deb-src entry for bookworm"
    $SUDO tee /etc/apt/sources.list.d/vizor-deb-src.sources >/dev/null <<'SRCEOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRCEOF
    $SUDO apt-get update -q
  fi
  apt-get source --download-only faiss
  dpkg-source --no-check -x faiss_$VERSION*.dsc "faiss-$VERSION"
  SRC=faiss-$VERSION
fi

echo "faiss: building $SRC with $ARCH_FLAGS (about 4 minutes on 2 cores)"
cmake -S "$SRC" -B build-$VERSION -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" \
  -DFAISS_ENABLE_C_API=ON -DBUILD_SHARED_LIBS=ON -DFAISS_ENABLE_GPU=OFF \
  -DFAISS_ENABLE_PYTHON=OFF -DBUILD_TESTING=OFF -DFAISS_OPT_LEVEL=generic \
  -DBLA_VENDOR=OpenBLAS \
  -DCMAKE_CXX_FLAGS="-O3 $ARCH_FLAGS" -DCMAKE_C_FLAGS="-O3 $ARCH_FLAGS" >/dev/null
cmake --build build-$VERSION -j"$(nproc)" --target faiss faiss_c
$SUDO cmake --install build-$VERSION >/dev/null
# Older releases do not install the C API headers and library; copy them.
$SUDO mkdir -p "$PREFIX/include/faiss/c_api/impl" "$PREFIX/include/faiss/c_api/utils"
( cd "$SRC/c_api" && find . -name '*.h' -exec $SUDO install -D -m644 {} "$PREFIX/include/faiss/c_api/{}" \; )
$SUDO install -m755 "$(find build-$VERSION -name 'libfaiss_c.so' | head -1)" "$PREFIX/lib/"
$SUDO ldconfig
echo "$WANT" | $SUDO tee "$STAMP" >/dev/null
echo "faiss: installed into $PREFIX"
