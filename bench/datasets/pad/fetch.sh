#!/usr/bin/env bash
# Rebuilds the PAD bona fide and attack sets of bench/datasets/pad/SOURCES.md
# outside the repository: every file of files.tsv is downloaded from its
# repository at the pinned commit and checked against its sha256. Files
# already present with the right digest are kept.
#
#   bench/datasets/pad/fetch.sh [DEST]      # DEST default ~/.cache/vizor/pad
#
# Layout: DEST/<set>/<owner>+<repo>/<path> (set: bona or attack). Then
#   go run ./bench/cmd/vizor-pad -dir DEST
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-${HOME}/.cache/vizor/pad}"
list="$here/files.tsv"
command -v curl >/dev/null || { echo "fetch.sh: needs curl" >&2; exit 1; }
command -v sha256sum >/dev/null || { echo "fetch.sh: needs sha256sum" >&2; exit 1; }

ok=0 got=0 bad=0
while IFS=$'\t' read -r set kind repo commit path sha; do
  [ "$set" = set ] && continue  # header
  out="$dest/$set/${repo/\//+}/$path"
  if [ -f "$out" ] && [ "$(sha256sum "$out" | cut -d' ' -f1)" = "$sha" ]; then
    ok=$((ok + 1))
    continue
  fi
  mkdir -p "$(dirname "$out")"
  # Path segments are URL-encoded only for the characters these lists hold.
  url="https://raw.githubusercontent.com/$repo/$commit/${path// /%20}"
  if ! curl -fsSL --retry 3 -o "$out.part" "$url"; then
    echo "fetch.sh: cannot download $url" >&2
    bad=$((bad + 1))
    rm -f "$out.part"
    continue
  fi
  if [ "$(sha256sum "$out.part" | cut -d' ' -f1)" != "$sha" ]; then
    echo "fetch.sh: sha256 mismatch for $repo@$commit:$path" >&2
    bad=$((bad + 1))
    rm -f "$out.part"
    continue
  fi
  mv "$out.part" "$out"
  got=$((got + 1))
done <"$list"
echo "fetch.sh: $got downloaded, $ok already present, $bad failed, into $dest"
[ "$bad" -eq 0 ]
