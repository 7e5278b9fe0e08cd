#!/usr/bin/env bash
# The one test command (README: `npm test`): generated code is fresh, then every project's lint,
# typecheck and tests (TypeScript packages and the Python trainer) through Nx.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false CI="${CI:-true}"

echo "== codegen is up to date"
bash tools/codegen/generate.sh >/dev/null
GEN_PATHS=(packages/proto/src/gen python-trainer/stillmotion_trainer/gen packages/orchestrator/src/dataset/gen
  packages/orchestrator/src/config/gen)
if [[ -n "$(git status --porcelain -- "${GEN_PATHS[@]}")" ]]; then
  git status --porcelain -- "${GEN_PATHS[@]}"
  echo "generated code differs from what tools/codegen/generate.sh produces: run npm run generate and commit" >&2
  exit 1
fi

echo "== lint (repo-wide TypeScript/JSON)"
npx biome check .

echo "== build, lint, typecheck, test every project"
npx nx run-many -t build --outputStyle=static
npx nx run-many -t lint typecheck test --parallel=1 --outputStyle=stream
