#!/usr/bin/env bash
# `npm run bench:at -- <commit>`: this checkout's benchmark (scripts/bench.js and scripts/lib/, so the
# same model, scale and figures) run against the authecs of another commit, for before/after figures
# measured the same way. The commit is built in a temporary worktree that shares this node_modules
# (so its dependencies are this checkout's); the worktree is removed afterwards. BENCH_* apply as usual.
set -euo pipefail
commit=${1:?usage: npm run bench:at -- <commit>}
root=$(cd "$(dirname "$0")/.." && pwd)
git -C "$root" rev-parse --verify --quiet "$commit^{commit}" >/dev/null || { echo "bench:at: $commit is not a commit of this repository" >&2; exit 2; }
tree=$(mktemp -d "${TMPDIR:-/tmp}/authecs-bench-at-XXXXXX")
cleanup() { git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || rm -rf "$tree"; git -C "$root" worktree prune; }
trap cleanup EXIT
git -C "$root" worktree add --detach --force "$tree" "$commit" >/dev/null 2>&1
ln -s "$root/node_modules" "$tree/node_modules"
rm -rf "$tree/scripts/lib"
cp -R "$root/scripts/lib" "$tree/scripts/lib"
cp "$root/scripts/bench.js" "$tree/scripts/bench.js"
echo "bench:at: building $(git -C "$root" rev-parse --short "$commit") in $tree" >&2
(cd "$tree" && npm run build --silent >&2)
cd "$tree" && node scripts/bench.js
