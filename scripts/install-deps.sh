#!/usr/bin/env bash
# Installs node_modules exactly as package-lock.json records it (`npm ci`), so every clone runs
# the same dependency tree and no command rewrites the lock (a tree left dirty by `npm test`
# is how a lock drifts). `npm ci` starts from an empty node_modules, so it runs only when the
# lock (or package.json) changed since the last install here: a stamp in node_modules records
# what was installed. A package.json out of step with the lock fails here, as `npm ci` says:
# run `npm install` and commit the lock it writes.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.tsbpf-installed
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
