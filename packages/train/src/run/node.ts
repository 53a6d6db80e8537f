/// <reference types="node" />
// Node's modules for run folders, loaded on first use rather than on import: the package's index
// stays importable in browsers, where the trainer runs without files.
import type * as NodeCrypto from "node:crypto";
import type * as NodeFsSync from "node:fs";
import type * as NodeFs from "node:fs/promises";
import type * as NodeOs from "node:os";
import type * as NodePath from "node:path";

export interface NodeModules {
  readonly crypto: typeof NodeCrypto;
  readonly fs: typeof NodeFs;
  readonly fsSync: typeof NodeFsSync;
  readonly os: typeof NodeOs;
  readonly path: typeof NodePath;
}

let modules: NodeModules | undefined;

export async function loadNode(): Promise<NodeModules> {
  modules ??= {
    crypto: await import("node:crypto"),
    fs: await import("node:fs/promises"),
    fsSync: await import("node:fs"),
    os: await import("node:os"),
    path: await import("node:path"),
  };
  return modules;
}
