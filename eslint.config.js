// @ts-check
const tseslint = require('typescript-eslint');
const { builtinModules } = require('module');

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/*.js'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: __dirname } },
    rules: {
      // Forgetting to await an activity or a workflow API is a silent bug.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no ssh2.
    files: ['workflows/**/*.ts', 'common/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'ssh2']
            .filter((m) => m !== 'assert')
            .map((name) => ({ name, message: 'Workflow-safe code must not import Node built-ins or ssh2.' })),
          patterns: [{ group: ['**/activities/*', '**/activities'], allowTypeImports: true, message: 'Import activity types only.' }],
        },
      ],
    },
  },
);
