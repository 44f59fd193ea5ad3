#!/usr/bin/env bash
# Layering rules for the public headers:
#   include/otpp/core/**      must not include otpp/behaviour/...
#   include/otpp/behaviour/** must not include otpp/detail/...
#                             (otpp/behaviour/detail/... is fine)
#   include/otpp/otpp.hpp     must not include otpp/detail/...
# Quoted relative includes ("../detail/x.hpp") are resolved against the
# including file before the rules are applied.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

root=include
status=0

# Print the include targets of a file, normalised to paths relative to
# $root (e.g. "otpp/detail/foo.hpp"), one per line.
includes_of() {
  local file=$1 dir target resolved
  dir=$(dirname "$file")
  sed -nE 's@^[[:space:]]*#[[:space:]]*include[[:space:]]*([<"])([^">]+)[">].*@\1\2@p' "$file" |
    while IFS= read -r line; do
      target=${line:1}
      if [ "${line:0:1}" = '"' ] && [ -e "$dir/$target" ]; then
        # quoted include that resolves relative to the including file
        resolved=$(realpath -m --relative-to="$root" "$dir/$target")
        echo "$resolved"
      else
        echo "$target"
      fi
    done
}

# check <dir-or-file> <forbidden prefix> <rule description>
check() {
  local scope=$1 forbidden=$2 rule=$3 file inc
  [ -e "$scope" ] || return 0
  while IFS= read -r -d '' file; do
    while IFS= read -r inc; do
      case "$inc" in
        "$forbidden"*)
          echo "check_layers: $file includes <$inc>: $rule" >&2
          status=1
          ;;
      esac
    done < <(includes_of "$file")
  done < <(find "$scope" -type f \( -name '*.hpp' -o -name '*.h' -o -name '*.ipp' -o -name '*.inl' \) -print0 | sort -z)
}

check "$root/otpp/core"      "otpp/behaviour/" "core/ must not depend on behaviour/"
check "$root/otpp/behaviour" "otpp/detail/"    "behaviour/ must not use otpp/detail/ (use otpp/behaviour/detail/)"
check "$root/otpp/otpp.hpp"  "otpp/detail/"    "the umbrella header must not include otpp/detail/"

if [ "$status" -ne 0 ]; then
  echo "check_layers: FAILED" >&2
  exit 1
fi
echo "check_layers: OK"
