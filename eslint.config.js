// @ts-check
import path from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

/** The package directory (packages/x or apps/x) a file belongs to, or null. */
function packageRootOf(file) {
  const m = /[/\\](packages|apps)[/\\]([^/\\]+)[/\\]/.exec(file);
  return m ? `${m[1]}/${m[2]}` : null;
}

/**
 * kern/no-package-internals: a package is used only through its `exports` map.
 * Forbids `@kern/x/src/...`, `@kern/x/dist/...` and relative imports that reach into
 * another package's directory.
 */
const noPackageInternals = {
  meta: {
    type: 'problem',
    docs: { description: "forbid importing another package's src/ or dist/ internals" },
    schema: [],
    messages: {
      bare: "Import '{{source}}' reaches into a package's internals; import '{{pkg}}' instead.",
      relative:
        "Import '{{source}}' crosses from {{from}} into {{to}}; depend on the package and import it by name.",
    },
  },
  create(context) {
    const file = context.filename;
    const from = packageRootOf(file);
    function check(node, source) {
      if (typeof source !== 'string') return;
      const bare = /^(@kern\/[^/]+)\/(src|dist)(\/|$)/.exec(source);
      if (bare) {
        context.report({ node, messageId: 'bare', data: { source, pkg: bare[1] } });
        return;
      }
      if (source.startsWith('.') && from) {
        const to = packageRootOf(path.resolve(path.dirname(file), source) + path.sep);
        if (to && to !== from)
          context.report({ node, messageId: 'relative', data: { source, from, to } });
      }
    }
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', '**/.turbo/**', '**/coverage/**', '**/*.d.ts'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '*.mjs', '*.cjs', 'scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { kern: { rules: { 'no-package-internals': noPackageInternals } } },
    rules: {
      'kern/no-package-internals': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message: 'Use the injected clock (VirtualClock or createRealClock) instead.',
        },
        {
          object: 'Math',
          property: 'random',
          message: 'Use a seeded generator (createRng) instead.',
        },
      ],
    },
  },
  {
    // Tests, benchmarks and scripts may measure wall time.
    files: ['**/test/**', '**/bench/**', 'scripts/**', '**/examples/**'],
    rules: {
      'no-restricted-properties': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
  },
  prettier,
);
