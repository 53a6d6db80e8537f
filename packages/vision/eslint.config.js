import base from "@unroll/eslint-config";

export default base;
