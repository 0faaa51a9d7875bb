#!/usr/bin/env bash
# Checks the machine has what the project needs; prints one clear line per problem.
# Usage: scripts/check-prereqs.sh [python] [java] [node]
set -uo pipefail
status=0
need() { echo "missing prerequisite: $*" >&2; status=1; }

find_python() {
  for candidate in "${PYTHON:-}" python3.13 "$(pyenv root 2>/dev/null)/versions/3.13.0/bin/python3.13" \
                   "$HOME/.pyenv/versions/3.13.0/bin/python3.13" /usr/local/bin/python3.13 /usr/bin/python3.13; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

for what in "${@:-python java}"; do
  case "$what" in
    python)
      find_python >/dev/null || need "Python 3.13 (AWS Glue 6.0's version): install it (e.g. 'pyenv install 3.13.0') or set PYTHON=/path/to/python3.13" ;;
    java)
      if ! command -v java >/dev/null 2>&1; then
        need "Java 17 (Spark 4.1 / Glue 6.0): install it (e.g. 'apt-get install openjdk-17-jre-headless') and put java on PATH"
      else
        major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
        [ "${major:-0}" -ge 17 ] || need "Java 17 or newer (found Java ${major:-unknown}); Spark 4.1 needs Java 17+"
      fi ;;
    node)
      if ! command -v node >/dev/null 2>&1; then
        need "Node.js 20+ for the front end: install it (e.g. from nodesource or 'apt-get install nodejs')"
      else
        major=$(node -p 'process.versions.node.split(".")[0]')
        [ "$major" -ge 20 ] || need "Node.js 20 or newer (found $(node --version))"
      fi ;;
    print-python) find_python || { need "Python 3.13"; } ;;
  esac
done
exit $status
