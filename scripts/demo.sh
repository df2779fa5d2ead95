#!/bin/sh
# Set up kvmcluster and show its checks on the bundled example cluster captures.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
exec .venv/bin/kvmcluster demo examples/captures
