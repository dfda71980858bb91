// The library's npm dependencies, each pinned here and only here. They are named in full
// (npm:NAME@VERSION) rather than through deno.json's import map because a script outside
// this repository imports mod.ts without our deno.json (docs/deploy.md).
export { z } from "npm:zod@4.1.12";
export * as yaml from "npm:yaml@2.8.1";
export { default as jpeg } from "npm:jpeg-js@0.4.4";
