/** `producer_version` of the files this package writes: the package's version (a test holds them equal). */
export const PRODUCER_VERSION = "0.1.0";
