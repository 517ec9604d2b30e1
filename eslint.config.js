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
  {
    // One declared home for RUNBOOK_* variables (local/environment.ts): reading one elsewhere is an undeclared input.
    files: ['worker/**/*.ts', 'codec/**/*.ts', 'local/**/*.ts', 'cli/**/*.ts', 'lab/**/*.ts', 'activities/**/*.ts', 'common/**/*.ts', 'workflows/**/*.ts'],
    ignores: ['local/environment.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression:matches([object.name='env'], [object.property.name='env'])[property.name=/^RUNBOOK_/]",
          message: 'Read and set RUNBOOK_* variables through runbookEnv/setRunbookEnv (local/environment.ts), where each is declared.',
        },
        {
          selector: "MemberExpression:matches([object.name='env'], [object.property.name='env'])[property.value=/^RUNBOOK_/]",
          message: 'Read and set RUNBOOK_* variables through runbookEnv/setRunbookEnv (local/environment.ts), where each is declared.',
        },
      ],
    },
  },
  {
    // Command lines are built beside their parsers in activities/microk8s/ (and the probes in check-probes.ts):
    // a step never builds one inline, so every command the engine runs has a builder the privilege test lists.
    files: ['activities/*.ts'],
    ignores: ['activities/check-probes.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: '../common/shell', importNames: ['command'], message: 'Build command lines in activities/microk8s/, beside their parsers.' }] },
      ],
    },
  },
);
