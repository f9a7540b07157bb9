#!/usr/bin/env bash
# Set everything up on a fresh Debian machine: Debian's Chromium (for the site's
# browser tests, driven by Playwright; nothing is downloaded at run time), then the
# project and its development tools.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v chromium > /dev/null; then
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium > /dev/null
fi

python3 -m pip install --quiet --disable-pip-version-check -e '.[dev]'
