import { defineConfig } from 'tsup';
import base from '../../scripts/tsup-package.js';

// The shared build, with `@internal` members (the Memory fields the allocator's
// internal modules use) left out of the published `.d.ts`.
export default defineConfig({
  ...base,
  dts: { compilerOptions: { ignoreDeprecations: '6.0', stripInternal: true } },
});
