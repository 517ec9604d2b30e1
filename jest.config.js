/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  modulePathIgnorePatterns: ['<rootDir>/dist'],
  testTimeout: 120_000,
  // One dev server and one webpack bundle per file compete for 2 cores: run in band (see package.json).
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] },
};
