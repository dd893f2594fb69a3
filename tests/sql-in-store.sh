#!/usr/bin/env bash
# Every query of the server lives in its store (crates/server/src/store/, one module per domain;
# docs/decisions.md). Lists any sqlx query, query builder or connection type elsewhere in the
# server's code, test modules aside, and fails if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
found=$(find crates/server/src -name '*.rs' -not -path 'crates/server/src/store/*' -print0 |
  xargs -0 awk '
    FNR == 1 { in_tests = 0 }
    /^#\[cfg\(test\)\]/ { in_tests = 1 }
    !in_tests && /sqlx::(query|query_as|query_scalar|QueryBuilder)|(Sqlite|Any|Pg)(Connection|Row|Pool)/ { print FILENAME ":" FNR ": " $0 }
  ')
if [ -n "$found" ]; then
  echo "SQL outside the store (move it into a function of crates/server/src/store/<domain>.rs):"
  echo "$found"
  exit 1
fi
echo "no SQL outside the store"
