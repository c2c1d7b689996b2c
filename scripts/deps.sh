#!/usr/bin/env bash
# Installs the system packages Vizor builds against and FAISS's C API.
# Idempotent: packages already present are not reinstalled and FAISS is
# rebuilt only when its stamp is missing or stale (third_party/faiss.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config dpkg-dev libopencv-dev libopenblas-dev liblapack-dev
      libjpeg-dev libpng-dev libwebp-dev libtiff-dev nodejs npm ca-certificates curl
      chromium # chromium: the web console's test (server/ui/e2e) drives it headless
      libxml2-utils) # xmllint: the e2e suites check the XML API's answers against server/openapi/specs/xmlapi.xsd
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs may come from another repository with npm bundled: accept a working npm.
if command -v npm >/dev/null 2>&1; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "deps: system packages present"
fi
bash third_party/faiss.sh
bash third_party/onnxruntime.sh
# The pinned Weaviate server for the cluster backend's tests and `make
# cluster` (a source build from the Go module proxy, cached; ~5 CPU-minutes).
bash third_party/weaviate.sh >/dev/null
