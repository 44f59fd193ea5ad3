#!/usr/bin/env bash
# Layering rules for the public headers:
#   include/otpp/core/**      must not include otpp/behaviour/...
#   include/otpp/behaviour/** must not include otpp/detail/...
#                             (otpp/behaviour/detail/... is fine)
#   include/otpp/otpp.hpp     must not include otpp/detail/...
#   include/otpp/io/**        must not include otpp/detail/ nor otpp/behaviour/
#   include/otpp/core/**      must not include otpp/io/
#   include/otpp/core/**, behaviour/**, otpp.hpp must not include otpp/dist/
#   include/otpp/dist/**      must not include otpp/detail/ nor
#                             otpp/behaviour/detail/ (otpp/dist/detail/ is fine)
#   include/otpp/http/**      must not include otpp/detail/, otpp/behaviour/detail/
#                             nor otpp/dist/; core/, behaviour/ and otpp.hpp
#                             must not include otpp/http/
#   include/otpp/** outside include/otpp/detail/ must not include or name
#                             boost/context (boost::context)
#   include/otpp/**           has one internal namespace, `detail`: no
#                             namespace named *_detail or detail_*
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

# Headers under include/otpp (all kinds), NUL-separated, sorted.
headers() {
  find "$root/otpp" -type f \( -name '*.hpp' -o -name '*.h' -o -name '*.ipp' -o -name '*.inl' \) -print0 |
    sort -z
}

# Only include/otpp/detail/ may include <boost/context/...> or name
# boost::context: the rest of the library says detail::fiber_unwind or
# otpp::rethrow_if_exit. Run on its own: --boost-context.
check_boost_context() {
  local file inc
  while IFS= read -r -d '' file; do
    case "$file" in "$root/otpp/detail/"*) continue ;; esac
    while IFS= read -r inc; do
      case "$inc" in
        boost/context/*)
          echo "check_layers: $file includes <$inc>: only otpp/detail/ may use Boost.Context" >&2
          status=1
          ;;
      esac
    done < <(includes_of "$file")
    if grep -n 'boost::context' "$file" >/dev/null; then
      grep -n 'boost::context' "$file" | while IFS= read -r hit; do
        echo "check_layers: $file:${hit%%:*} names boost::context: only otpp/detail/ may (use detail::fiber_unwind, otpp::rethrow_if_exit)" >&2
      done
      status=1
    fi
  done < <(headers)
}

# `detail` is the one internal namespace: reject `namespace x_detail` and
# `namespace detail_x` (also as part of a nested name, a::x_detail::b).
# Run on its own: bash scripts/check_layers.sh --namespaces.
check_internal_namespaces() {
  local file line name
  while IFS= read -r -d '' file; do
    while IFS= read -r line; do
      for name in $(sed -nE 's/.*namespace[[:space:]]+([A-Za-z_][A-Za-z0-9_:]*).*/\1/p' <<<"${line#*:}" | tr ':' ' '); do
        case "$name" in
          *_detail | detail_*) ;;
          *) continue ;;
        esac
        echo "check_layers: $file:${line%%:*} namespace $name: the one internal namespace is detail" >&2
        status=1
      done
    done < <(grep -nE '^[[:space:]]*(inline[[:space:]]+)?namespace[[:space:]]+[A-Za-z_]' "$file" || true)
  done < <(headers)
}

finish() {
  if [ "$status" -ne 0 ]; then
    echo "check_layers: FAILED" >&2
    exit 1
  fi
  echo "check_layers: OK"
  exit 0
}

case "${1:-}" in
  --namespaces)
    check_internal_namespaces
    finish
    ;;
  --boost-context)
    check_boost_context
    finish
    ;;
esac

check "$root/otpp/core"      "otpp/behaviour/" "core/ must not depend on behaviour/"
check "$root/otpp/behaviour" "otpp/detail/"    "behaviour/ must not use otpp/detail/ (use otpp/behaviour/detail/)"
check "$root/otpp/otpp.hpp"  "otpp/detail/"    "the umbrella header must not include otpp/detail/"
check "$root/otpp/io"        "otpp/detail/"    "io/ uses only the public core API"
check "$root/otpp/io"        "otpp/behaviour/" "io/ uses only the public core API"
check "$root/otpp/core"      "otpp/io/"        "core/ must not depend on io/"
check "$root/otpp/core"      "otpp/dist/"      "core/ must not depend on dist/"
check "$root/otpp/behaviour" "otpp/dist/"      "behaviour/ must not depend on dist/"
check "$root/otpp/otpp.hpp"  "otpp/dist/"      "dist/ is optional (otpp::dist): not in the umbrella header"
check "$root/otpp/dist"      "otpp/detail/"    "dist/ uses only the public core API (its internals: otpp/dist/detail/)"
check "$root/otpp/dist"      "otpp/behaviour/detail/" "dist/ uses only the public behaviour API"
check "$root/otpp/http"      "otpp/detail/"    "http/ uses only the public core and behaviour API"
check "$root/otpp/http"      "otpp/behaviour/detail/" "http/ uses only the public behaviour API"
check "$root/otpp/http"      "otpp/dist/"      "http/ must not depend on dist/"
check "$root/otpp/core"      "otpp/http/"      "core/ must not depend on http/"
check "$root/otpp/behaviour" "otpp/http/"      "behaviour/ must not depend on http/"
check "$root/otpp/otpp.hpp"  "otpp/http/"      "http/ (Boost.Beast) is opt-in: not in the umbrella header"
check_boost_context
check_internal_namespaces

finish
