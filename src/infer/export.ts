// Export: a self-contained model folder for deployment (graph files, the encoder's and
// decoder's parameters, the calibrated threshold), loadable with `{ run: folder }`.
import { READ_LIMITS, readTextGuarded } from "../formats/read.ts";
import { dirname, join, relative as relPath, resolve } from "node:path";
import { yaml } from "../deps.ts";
import { writeSafetensors } from "../formats/safetensors.ts";
import { writeDirAtomic } from "../formats/atomic.ts";
import { exists } from "../util/fs.ts";
import { checkpointPath } from "./run_folder.ts";
import { InferError } from "./errors.ts";
import { type LoadOptions, resolveModel } from "./resolve.ts";
import { WEIGHTS_FORMAT } from "./weights.ts";
import type { Target } from "../plan/target.ts";
import { modelPlan, PLAN_FILE } from "./plan.ts";

/** The graph file and every file it names (extends, network files, graph layers). */
export function graphFiles(path: string): string[] {
  const seen: string[] = [];
  const visit = (file: string) => {
    const norm = resolve(file);
    if (seen.includes(norm)) return;
    seen.push(norm);
    let doc: unknown;
    try {
      doc = yaml.parse(readTextGuarded(file, { max: READ_LIMITS.graph }));
    } catch {
      return; // loadModel has read it already; an unreadable file cannot get here
    }
    const walk = (v: unknown) => {
      if (Array.isArray(v)) return v.forEach(walk);
      if (typeof v !== "object" || v === null) return;
      for (const [k, x] of Object.entries(v)) {
        if (
          ["extends", "file", "graph"].includes(k) && typeof x === "string" &&
          /\.ya?ml$/.test(x)
        ) {
          const next = x.startsWith("/") ? x : join(dirname(file), x);
          if (exists(next)) visit(next);
        } else walk(x);
      }
    };
    walk(doc);
  };
  visit(path);
  return seen;
}

/**
 * Writes a self-contained model folder: config.json, the graph files under graph/,
 * the encoder's and decoder's parameters (no discriminator, no optimiser state) as
 * checkpoints/step-N.safetensors, and the run's eval.json (its verification
 * threshold); with `target`, also plan.json, the inference Plan compiled for it at
 * `opts.batch` (default 8), so that loading the folder compiles nothing. Written
 * beside `out` and renamed into place.
 */
export function exportModel(
  opts: LoadOptions,
  out: string,
  target?: Target,
): { files: string[]; bytes: number } {
  const r = resolveModel(opts);
  if (exists(out)) throw new InferError(`${out} exists already; choose a new folder`);
  const files = graphFiles(r.graph);
  const root = files.map(dirname).reduce((a, b) => {
    while (!(b + "/").startsWith(a.endsWith("/") ? a : a + "/") && a !== "/") a = dirname(a);
    return a;
  });
  writeDirAtomic(out, (tmp) => {
    Deno.mkdirSync(join(tmp, "checkpoints"), { recursive: true });
    for (const f of files) {
      const to = join(tmp, "graph", relPath(root, f));
      Deno.mkdirSync(dirname(to), { recursive: true });
      Deno.copyFileSync(f, to);
    }
    const step = r.step ?? 0;
    const ckpt = checkpointPath(tmp, step);
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [name, w] of r.weights) tensors[name] = w;
    writeSafetensors(ckpt, tensors, {
      format: WEIGHTS_FORMAT,
      graph: r.graph,
      overrides: JSON.stringify(r.overrides),
      step: String(step),
      source: r.checkpoint,
    });
    const config = {
      graph: join("graph", relPath(root, resolve(r.graph))),
      name: out.split("/").filter(Boolean).at(-1),
      overrides: r.overrides,
      exported: { from: r.run ?? r.graph, checkpoint: r.checkpoint, step: r.step ?? null },
    };
    Deno.writeTextFileSync(join(tmp, "config.json"), JSON.stringify(config, null, 2) + "\n");
    if (target) {
      const plan = modelPlan(r, opts.batch ?? 8, target);
      Deno.writeTextFileSync(join(tmp, PLAN_FILE), JSON.stringify(plan) + "\n");
    }
    if (r.run && exists(join(r.run, "eval.json"))) {
      Deno.copyFileSync(join(r.run, "eval.json"), join(tmp, "eval.json"));
    }
  });
  let bytes = 0;
  const list: string[] = [];
  const walk = (d: string) => {
    for (const e of Deno.readDirSync(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) walk(p);
      else {
        list.push(p);
        bytes += Deno.statSync(p).size;
      }
    }
  };
  walk(out);
  return { files: list.sort(), bytes };
}
