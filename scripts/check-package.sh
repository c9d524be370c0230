#!/usr/bin/env bash
# Checks the package as a team gets it: packs it, installs the tarball into fresh directories outside the repo, and
# (1) imports and typechecks every entry point with plain Node and `tsc --strict`, runs the bin and typechecks the
# README's "Writing a processor" snippet as printed; (2) installs examples/order-projection from the tarball and runs
# its typecheck, unit test and offline synth.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
npm_install() { npm install --no-audit --no-fund --loglevel=error "$@"; }

echo "== npm pack"
(cd "$repo" && npm pack --silent --pack-destination "$work" >/dev/null)
tarball="$(ls "$work"/tidemark-*.tgz)"
echo "packed $(basename "$tarball"): $(tar -tzf "$tarball" | wc -l) files"
if tar -tzf "$tarball" | grep -E '\.test\.|/test/|/scripts/|/bench/|example-stack|cdk/app\.' ; then
  echo "the tarball holds files that do not run in a team's app (above)" >&2
  exit 1
fi

echo "== a fresh consumer: npm install <tarball> aws-cdk-lib constructs typescript"
mkdir "$work/consumer" && cd "$work/consumer"
npm init -y >/dev/null
npm pkg set type=module
npm_install "$tarball" aws-cdk-lib constructs typescript @types/node
node --input-type=module -e "
  for (const entry of ['tidemark', 'tidemark/cdk', 'tidemark/testing', 'tidemark/local']) {
    const module = await import(entry);
    console.log(entry + ': ' + Object.keys(module).length + ' exports');
  }
  if (typeof (await import('tidemark')).defineProcessor !== 'function') throw new Error('no defineProcessor');
  if (typeof (await import('tidemark/cdk')).TrackingProcessor !== 'function') throw new Error('no TrackingProcessor');
"
cat > app.ts <<'TS'
import { defineProcessor, Sequencing } from 'tidemark';
import { TrackingProcessor, type TrackingProcessorProps } from 'tidemark/cdk';

export const processor = defineProcessor({
  name: 'billing',
  topics: ['payments'],
  sequencing: Sequencing.key(),
  handler: async (record, context) => {
    console.log(record.offset, context.sequencingKey, context.requestId);
  },
});
export const props: Partial<TrackingProcessorProps> = { processor: 'app.ts' };
export type Construct = TrackingProcessor;
TS
node "$repo/scripts/readme-snippet.mjs" "$repo/README.md" 'Writing a processor' > snippet.ts
npx tsc --strict --noEmit --module nodenext --moduleResolution nodenext --target es2023 --types node app.ts snippet.ts
echo "app.ts and the README snippet typecheck with tsc --strict"
npx tidemark --help >/dev/null
echo "npx tidemark --help exits 0"

echo "== examples/order-projection from the tarball"
mkdir "$work/example"
(cd "$repo/examples/order-projection" && tar --exclude=node_modules --exclude=cdk.out -cf - .) | (cd "$work/example" && tar -xf -)
cd "$work/example"
npm_install "$tarball"
npm run --silent typecheck
npm test
npm run synth
test -f cdk.out/OrderProjection.template.json
echo "examples/order-projection: typecheck, test and synth passed"
