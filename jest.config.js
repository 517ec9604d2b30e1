/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  modulePathIgnorePatterns: ['<rootDir>/dist'],
  // The fault tests run on their own (`npx jest -c test/chaos/jest.config.js`); the bounded chaos run (K=10) is in.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/chaos/faults.test.ts'],
  testTimeout: 120_000,
  // test.concurrent cases (recover-crash) run at most three at a time: two cores, a lab and a worker each.
  maxConcurrency: 3,
  // The SDK's native threads can keep jest alive after a failed test (sdk-typescript#928): never hang CI.
  forceExit: true,
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }] },
};
