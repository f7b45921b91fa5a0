#!/usr/bin/env bash
# Installs the trade's book validators the render tests run, into .tools/:
#   veraPDF 1.28.2  (PDF/UA-1, PDF/A-2u)  -> .tools/verapdf/lib/*.jar
#   EPUBCheck 5.1.0 (EPUB 3.3, --usage)   -> .tools/epubcheck5/lib/*.jar
#   DAISY Ace 1.4.6 (EPUB accessibility)  -> .tools/ace/node_modules/.bin/ace-puppeteer
# The jars come from Maven Central through `mvn dependency:copy-dependencies` with a pom
# generated here; Ace from npm in its own folder, so its large dependency tree (and its
# Electron/Puppeteer install scripts, skipped: Debian's chromium runs it) stays out of
# the product's lockfile. Each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

VERAPDF_VERSION=1.28.2
EPUBCHECK_VERSION=5.1.0
ACE_VERSION=1.4.6

# Copies one Maven artifact and its runtime dependencies into $1/lib.
maven_lib() {
  local dir=$1 group=$2 artifact=$3 version=$4
  if [ -f "$dir/lib/$artifact-$version.jar" ]; then
    echo "validators: $artifact $version already in $dir"
    return
  fi
  if ! command -v mvn >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # CI runs as root on a fresh Debian: Maven is only needed here, so it is installed here.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends maven >/dev/null
  fi
  command -v mvn >/dev/null || { echo "validators: mvn is needed for $artifact (apt-get install maven)" >&2; exit 1; }
  mkdir -p "$dir"
  cat > "$dir/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.ebook-engine</groupId>
  <artifactId>$artifact-install</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>$group</groupId>
      <artifactId>$artifact</artifactId>
      <version>$version</version>
    </dependency>
  </dependencies>
</project>
POM
  rm -rf "$dir/lib.tmp"
  (cd "$dir" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=lib.tmp)
  rm -rf "$dir/lib" && mv "$dir/lib.tmp" "$dir/lib"
  echo "validators: installed $artifact $version into $dir/lib"
}

maven_lib .tools/verapdf org.verapdf.apps greenfield-apps "$VERAPDF_VERSION"
maven_lib .tools/epubcheck5 org.w3c epubcheck "$EPUBCHECK_VERSION"

if [ -x .tools/ace/node_modules/.bin/ace-puppeteer ]; then
  echo "validators: Ace already in .tools/ace"
else
  mkdir -p .tools/ace
  cat > .tools/ace/package.json <<JSON
{ "name": "ace-install", "private": true, "dependencies": { "@daisy/ace": "$ACE_VERSION" } }
JSON
  (cd .tools/ace && PUPPETEER_SKIP_DOWNLOAD=1 ELECTRON_SKIP_BINARY_DOWNLOAD=1 \
    npm install --no-audit --no-fund --omit=dev --loglevel=error)
  echo "validators: installed @daisy/ace $ACE_VERSION into .tools/ace"
fi
