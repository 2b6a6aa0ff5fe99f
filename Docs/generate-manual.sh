#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Regenerates Docs/pcachectl.8 and the shell completions in Docs/completions/ from the command
# definitions (swift-argument-parser's generate-manual plugin and --generate-completion-script),
# so the man page and completions cannot drift from the parser.
#   Docs/generate-manual.sh [SCRATCH_PATH]      (default .build)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${1:-.build}
cd "$repo"
swift build --scratch-path "$scratch" -c release --product pcachectl
tool="$scratch/release/pcachectl"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
swift package --scratch-path "$scratch" plugin generate-manual --help >/dev/null # builds the generator
generator=$(find "$scratch" -name generate-manual-tool -type f -perm -u+x | head -n 1)
"$generator" "$tool" --section 8 --date "${MAN_DATE:-$(date -u +%Y-%m-%d)}" \
	--authors "pcache maintainers" --output-directory "$out"
cp "$out/pcachectl.8" Docs/pcachectl.8
mkdir -p Docs/completions
for shell in bash zsh fish; do
	"$tool" --generate-completion-script "$shell" >"Docs/completions/pcachectl.$shell"
done
echo "wrote Docs/pcachectl.8 and Docs/completions/pcachectl.{bash,zsh,fish}"
