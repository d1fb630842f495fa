#!/usr/bin/env bash
# Debian packages the project needs beyond Python: Java 17 and Maven for the local Kafka broker,
# Prometheus Alertmanager for alert routing, Chromium for the report's browser test and its PDF
# (junheng report --pdf), poppler-utils (pdftoppm, pdftotext) for the PDF's test.
# Installs only what is missing (apt-get needs root, as on this project's machines and CI).
set -euo pipefail
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v cc >/dev/null 2>&1 || need+=(gcc)   # mypyc's build of the rules engine (scripts/compile-rules.sh)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)   # the report's PDF test: pages to PNG, text layer
dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || need+=(fonts-wqy-microhei)   # Chinese in the report's screenshot
if [ "${#need[@]}" -gt 0 ]; then
  echo "system-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need[@]}" >&2
fi
