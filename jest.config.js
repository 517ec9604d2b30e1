/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  modulePathIgnorePatterns: ['<rootDir>/dist'],
  // The chaos suite runs on its own (`npm run chaos`): it kills workers and restarts the server for minutes.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/chaos/'],
  testTimeout: 120_000,
  // The SDK's native threads can keep jest alive after a failed test (sdk-typescript#928): never hang CI.
  forceExit: true,
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }] },
};
