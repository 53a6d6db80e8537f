/** This package's version (`shared.test.ts` holds it equal to package.json's). */
export const VERSION = "0.1.0";
