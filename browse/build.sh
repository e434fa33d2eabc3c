#!/usr/bin/env bash
# Builds the STAC Browser that `fusion browse` serves (`make stac-browser` runs this).
#
#   browse/build.sh OUT        (OUT: build/stac-browser; the site lands in OUT/dist)
#
# package.json pins the STAC Browser release and the build tools its own package.json lists
# (and ol-stac, see docs/browse.md); package-lock.json pins the whole tree with checksums, so
# `npm ci` installs the same every time. STAC Browser's source is the npm package itself: it is
# copied out of node_modules into OUT/app (so that it is compiled as the app, not skipped as a
# dependency), config.js of this folder goes on top of its own, and its page loads /config.js
# before the app (the settings `fusion browse` serves at run time: the catalog URL). Nothing
# of this is committed but our own files in browse/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: browse/build.sh OUT}"
command -v npm >/dev/null || {
  echo "error: npm not found: install Node.js 20 with npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
version="$(node -p "require('$here/package.json').dependencies['@radiantearth/stac-browser']")"
fingerprint="$version $(cat "$here/package.json" "$here/package-lock.json" "$here/config.js" "$0" | sha256sum | cut -c1-16)"
stamp="$out/dist/.eo-fusion-build"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ]; then
  touch "$out/dist/index.html"  # for make: up to date
  echo "STAC Browser $version is built in $out/dist"
  exit 0
fi
start=$(date +%s)
if ! cmp -s "$here/package-lock.json" "$out/package-lock.json" || [ ! -f "$out/node_modules/.package-lock.json" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$out/"
  (cd "$out" && npm ci --no-audit --no-fund --loglevel=error)
fi
rm -rf "$out/app" "$out/dist"
cp -r "$out/node_modules/@radiantearth/stac-browser" "$out/app"
# Its styles import ../../node_modules/ol/ol.css: the app's node_modules is the one npm ci made.
ln -s ../node_modules "$out/app/node_modules"
# Our settings are the build's config.js, on top of STAC Browser's own (renamed).
mv "$out/app/config.js" "$out/app/stac-browser.config.js"
cp "$here/config.js" "$out/app/config.js"
# Load the run-time settings before the app (STAC Browser ships this line commented out).
script='<script defer="defer" src="/config.js"></script>'
sed -i "s|<!-- $script -->|$script|" "$out/app/public/index.html"
grep -q -F "$script" "$out/app/public/index.html" || {
  echo "error: could not enable /config.js in STAC Browser's public/index.html" >&2; exit 1; }
# STAC Browser reads SB_* variables as settings: none of the caller's may reach the build.
mapfile -t unset_sb < <(env | sed -n 's/^\(SB_[^=]*\)=.*/-u\n\1/p')
# Its output (hundreds of Sass deprecation warnings) goes to OUT/build.log; the tail on failure.
echo "building STAC Browser $version (log: $out/build.log)"
(cd "$out/app" && env "${unset_sb[@]}" NODE_ENV=production \
  "$out/node_modules/.bin/vue-cli-service" build --noSourceMaps --dest "$out/dist") >"$out/build.log" 2>&1 || {
  tail -n 40 "$out/build.log" >&2; echo "error: the STAC Browser build failed (log: $out/build.log)" >&2; exit 1; }
echo "$fingerprint" > "$stamp"
echo "STAC Browser $version built in $out/dist ($(( $(date +%s) - start )) s)"
