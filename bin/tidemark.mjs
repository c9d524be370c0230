#!/usr/bin/env node
// The CLI is TypeScript; tsx loads it without a build step.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../cli/main.ts');
await run();
