// Runs a WASI command module (the unit tests compiled to wasm32-wasi) under
// Node's WASI; its stdout passes through. Exit code is the program's.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import process from "node:process";

const file = process.argv[2];
// a non-empty args array: with an empty one a program exited silently here
const wasi = new WASI({ version: "preview1", args: [file], env: {}, returnOnExit: true });
const mod = await WebAssembly.compile(await readFile(file));
const inst = await WebAssembly.instantiate(mod, wasi.getImportObject());
process.exitCode = wasi.start(inst);
