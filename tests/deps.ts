// The packages only the tests use, pinned here with full specifiers. The test task runs
// with its own lock (tests/deno.lock), so that the project's deno.lock, which every
// command reads, lists only what the library needs: a first run of the demo fetches
// nothing the tests alone use.
export { default as fc } from "npm:fast-check@4.11.0";
export * as ort from "npm:onnxruntime-web@1.30.0";
