#!/usr/bin/env bash
# Installs what the tests need besides Rust, and only what is missing: Debian's `prometheus` package
# (promtool and the server), Debian's `chromium` (renders the landing page headless), Debian's
# `docker-compose` (validates docker-compose.yml offline, no Docker engine needed) and a Python
# venv with the official client library's strict parsers.
# apt needs root (prefix sudo otherwise); the venv lives in target/test-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=()
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then packages+=(prometheus); fi
command -v chromium >/dev/null || packages+=(chromium)
command -v docker-compose >/dev/null || packages+=(docker-compose)
if [ ${#packages[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
venv=target/test-venv
if ! "$venv/bin/python" -c 'import prometheus_client, kubernetes_validate' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
fi
