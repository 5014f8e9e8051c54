#!/usr/bin/env sh
# Install the JavaScript/CSS that nmgeo's offline maps inline (folium 0.20's pinned versions).
# Usage: .ci/assets.sh DIR   -> prints DIR/node_modules; export it as NMGEO_ASSETS.
set -eu
if [ "$#" -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
mkdir -p "$1"
npm install --prefix "$1" --no-audit --no-fund --no-save --silent \
    leaflet@1.9.3 leaflet.fullscreen@3.0.0 leaflet-measure@2.1.7 >&2
cd "$1/node_modules" && pwd
