#!/usr/bin/env bash
# Installs the Chromium the status page's browser test drives (test/support/browser.ts, through puppeteer-core):
# Debian's `chromium` package. Idempotent and quiet: does nothing when TIDEMARK_CHROMIUM names an executable or
# `chromium` is already on PATH.
set -euo pipefail

if [ -n "${TIDEMARK_CHROMIUM:-}" ]; then
  if [ -x "$TIDEMARK_CHROMIUM" ]; then
    echo "install-chromium: using TIDEMARK_CHROMIUM=$TIDEMARK_CHROMIUM"
    exit 0
  fi
  echo "install-chromium: TIDEMARK_CHROMIUM=$TIDEMARK_CHROMIUM is not an executable file" >&2
  exit 1
fi

if command -v chromium >/dev/null 2>&1; then
  echo "install-chromium: chromium is already installed ($(command -v chromium))"
  exit 0
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "install-chromium: need root (or sudo) to run: $*" >&2
    exit 1
  fi
}

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: no apt-get; install Chromium by hand and set TIDEMARK_CHROMIUM to its executable" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
# Debian's package brings the fonts and libraries headless Chromium needs; recommends (extra locales) are not needed.
as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null

if ! command -v chromium >/dev/null 2>&1; then
  echo "install-chromium: installed the chromium package, but no chromium is on PATH" >&2
  exit 1
fi
echo "install-chromium: $(chromium --version 2>/dev/null || echo chromium) is ready"
