#!/usr/bin/env bash
# Renders an output folder's report.html in headless Chromium (Debian's `chromium`) to a PNG,
# the check that every plot draws in a real browser. Usage: tools/screenshot_report.sh OUT PNG
set -euo pipefail
out=${1:?output folder (holding report.html)}
png=${2:?PNG to write}
command -v chromium >/dev/null || { echo "chromium not found: apt-get install -y chromium" >&2; exit 2; }
html=$(realpath "$out/report.html")
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,3600 \
    --screenshot="$png" "file://$html" 2>/dev/null
# A blank page would be a few kilobytes; plots make it far larger.
size=$(stat -c %s "$png")
[ "$size" -gt 50000 ] || { echo "$png: only $size bytes, the page did not render" >&2; exit 1; }
echo "$png ($size bytes)"
