import { defineConfig } from 'tsup';

/** The build every @kern package uses: ESM and `.d.ts` from src/index.ts into dist/. */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  // tsup's dts build sets baseUrl, which TypeScript 6 deprecates.
  dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  // Lets esbuild inline constants across modules (a module with no imports whose
  // constants come first; see packages/mm/src/layout.ts). Without it every constant is a
  // module-level `var` in the bundle, loaded from memory on each use in hot paths.
  minifySyntax: true,
  // Keep `node:crypto` / `node:worker_threads` as written: a bare `crypto` is an npm
  // package name to bundlers and to runtimes other than Node. check-pack enforces it.
  removeNodeProtocol: false,
});
