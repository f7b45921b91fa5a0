#!/usr/bin/env bash
# Installs the real Temporal server (not the dev server) and its SQL schema tool
# into .tools/temporal-server/<version>/ for `npm run cluster`: built once with Go
# from the module proxy (~6 minutes on 2 cores), reused after. The module's own
# PostgreSQL schema files and config templates are copied next to the binaries,
# so the cluster never needs the Go module cache at run time.
#
# Idempotent: when both binaries answer with the expected version and the
# schema folder is there, it does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${TEMPORAL_SERVER_VERSION:-1.32.2}"
# v1.32's go.mod asks for a newer Go than Debian's; the toolchain comes from the proxy too.
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"
DEST=".tools/temporal-server/${VERSION}"
BIN="${DEST}/bin"

installed() {
  [ -x "${BIN}/temporal-server" ] && [ -x "${BIN}/temporal-sql-tool" ] &&
    "${BIN}/temporal-server" --version 2>/dev/null | grep -q "${VERSION}" &&
    [ -d "${DEST}/schema/postgresql/v12/temporal/versioned" ]
}

if installed; then
  echo "temporal-server: ${VERSION} already in ${DEST}"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "temporal-server: needs Go (apt-get install golang) to build go.temporal.io/server@v${VERSION}" >&2
  exit 1
fi

mkdir -p "${BIN}"
# Build into a scratch GOBIN, then rename: an interrupted build leaves no half-installed binary.
scratch="$(mktemp -d "${DEST}/build.XXXXXX")"
trap 'rm -rf "${scratch}"' EXIT
if [ ! -x "${BIN}/temporal-server" ] || ! "${BIN}/temporal-server" --version 2>/dev/null | grep -q "${VERSION}"; then
  echo "temporal-server: building go.temporal.io/server/cmd/server@v${VERSION} (several minutes, once)"
  GOBIN="$(cd "${scratch}" && pwd)" go install "go.temporal.io/server/cmd/server@v${VERSION}"
  mv "${scratch}/server" "${BIN}/temporal-server"
fi
if [ ! -x "${BIN}/temporal-sql-tool" ]; then
  echo "temporal-server: building the schema tool (cmd/tools/sql@v${VERSION})"
  GOBIN="$(cd "${scratch}" && pwd)" go install "go.temporal.io/server/cmd/tools/sql@v${VERSION}"
  mv "${scratch}/sql" "${BIN}/temporal-sql-tool"
fi

# The schema files and config templates of exactly this version, from the module it was built from.
go mod download "go.temporal.io/server@v${VERSION}" >/dev/null
src="$(go env GOMODCACHE)/go.temporal.io/server@v${VERSION}"
rm -rf "${DEST}/schema" "${DEST}/config-templates"
mkdir -p "${DEST}/schema"
cp -r "${src}/schema/postgresql" "${DEST}/schema/postgresql"
cp -r "${src}/config" "${DEST}/config-templates"
chmod -R u+w "${DEST}/schema" "${DEST}/config-templates"

installed || { echo "temporal-server: the install did not verify" >&2; exit 1; }

# The Web UI server: the Temporal CLI's UI only attaches to its own dev server, but the
# ui-server module carries the built UI in its Go sources, so it builds offline too.
# Optional: the cluster runs without it (TEMPORAL_UI_SKIP=1 skips it). 2.56.4 needs the
# same go.temporal.io/api (1.63.5) as server 1.32.2; 2.58 needs 1.64.0, which the proxy
# here did not serve (403).
UI_VERSION="${TEMPORAL_UI_VERSION:-2.56.4}"
UI_BIN=".tools/temporal-ui/bin"
if [ -z "${TEMPORAL_UI_SKIP:-}" ] && [ ! -x "${UI_BIN}/ui-server" ]; then
  echo "temporal-server: building the Web UI server (github.com/temporalio/ui-server/v2@v${UI_VERSION})"
  mkdir -p "${UI_BIN}"
  if GOBIN="$(cd "${scratch}" && pwd)" go install "github.com/temporalio/ui-server/v2/cmd/server@v${UI_VERSION}"; then
    mv "${scratch}/server" "${UI_BIN}/ui-server"
  else
    echo "temporal-server: the Web UI did not build; the cluster runs without it" >&2
  fi
fi
echo "temporal-server: installed ${VERSION} in ${DEST} ($("${BIN}/temporal-server" --version))"
