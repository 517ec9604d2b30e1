/**
 * The chaos suite's own jest config: the root config leaves test/chaos out of `npm test` (testPathIgnorePatterns),
 * (the fault tests), which also hides them from `npx jest test/chaos`. Run: `npx jest --runInBand -c test/chaos/jest.config.js`.
 */
const path = require('path');
const root = require('../../jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...root,
  rootDir: path.resolve(__dirname, '../..'),
  roots: ['<rootDir>/test/chaos'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 300_000,
};
