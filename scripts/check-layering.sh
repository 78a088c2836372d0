#!/usr/bin/env bash
# The layering rules of docs/design/layering.md that the compiler cannot see, checked on the
# source tree (run by scripts/test.sh):
#   1. a dialect module never imports another dialect;
#   2. only the CLI, the bootstrap and the server-key check make an Operator (the handle
#      that may do everything);
#   3. dialects register routes only through utoipa's `routes!`, so every route is in
#      /openapi.json (no bare `.route(` / `Router::new()` in a dialect).
# `scripts/check-layering.sh --self-test` shows that each rule fails on a tree that breaks it.
set -euo pipefail
cd "$(dirname "$0")/.."

SRC=crates/server/src
DIALECTS="scim odm oauth sailpoint audit_api account account_api contabo cvat console"

check() {
  local src=$1 failed=0
  for d in $DIALECTS; do
    [ -d "$src/$d" ] || continue
    for o in $DIALECTS; do
      [ "$o" = "$d" ] && continue
      # crate::o::..., super::o::..., use crate::{..., o, ...}, and paths through super::super.
      if hits=$(grep -rnE "(crate|super)::(super::)*$o(::|\b)|use crate::\{[^;]*\b$o\b" "$src/$d"); then
        printf 'layering: the %s dialect imports the %s dialect (share it through http/ or a neutral module):\n%s\n' "$d" "$o" "$hits"
        failed=1
      fi
    done
    if hits=$(grep -rnE "\.route\(|(^|[^A-Za-z_])Router::new\(\)" "$src/$d"); then
      printf 'layering: the %s dialect adds routes without routes!, so they would be missing from /openapi.json:\n%s\n' "$d" "$hits"
      failed=1
    fi
  done
  if hits=$(grep -rnE "Operator::local" "$src" | grep -vE "^$src/(main|bootstrap|cli|admin|secrets)\.rs:"); then
    printf 'layering: only the CLI and the bootstrap may make an Operator:\n%s\n' "$hits"
    failed=1
  fi
  return $failed
}

if [ "${1:-}" = "--self-test" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for rule in import route operator; do
    rm -rf "${tmp:?}/src" && cp -r "$SRC" "$tmp/src"
    case $rule in
      import) echo 'use crate::scim::ROOT;' >> "$tmp/src/odm/users.rs" ;;
      route) echo 'fn r() -> axum::Router { axum::Router::new() }' >> "$tmp/src/odm/users.rs" ;;
      operator) echo 'fn o() { roster_core::policy::Operator::local("x"); }' >> "$tmp/src/http/auth.rs" ;;
    esac
    if check "$tmp/src" >/dev/null; then
      echo "self-test: the $rule rule did not fail on a tree that breaks it" >&2
      exit 1
    fi
  done
  check "$SRC" >/dev/null || { echo "self-test: the real tree fails" >&2; exit 1; }
  echo "layering self-test: every rule fails when broken, and the tree passes"
  exit 0
fi

check "$SRC" && echo "layering: ok"
