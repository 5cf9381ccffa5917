#!/usr/bin/env bash
# The one command an annotator runs.
#
#   scripts/labelstudio.sh [--with-gold] [--port N]   start Label Studio on 127.0.0.1 with every
#                                                     document and its pre-annotations; Ctrl-C stops it
#   scripts/labelstudio.sh pull                       import what was annotated there into annotations/
#                                                     (needs LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY)
#   scripts/labelstudio.sh import-ls EXPORT.json      the same from an exported JSON file
#
# The first start sets up .venv with the `annotate` extra, creates labelstudio-data/ (git-ignored)
# and prints a login that is stored nowhere: keep the `export ...` line it prints.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ ! -x .venv/bin/pactnews ] || ! .venv/bin/python -c "import label_studio" 2>/dev/null; then
  echo "Installing pactnews with Label Studio into .venv/ (first run only) ..."
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet -e ".[annotate]"
fi
verb=annotate
case "${1:-}" in
  annotate|pull|import-ls) verb="$1"; shift ;;
esac
exec .venv/bin/pactnews "$verb" "$@"
