/**
 * The chaos suite's own jest config: the root config leaves the fault tests out of `npm test`
 * (testPathIgnorePatterns), which also hides them from `npx jest test/chaos`. Run: `npx jest --runInBand -c test/chaos/jest.config.js`.
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
