// jax-js (npm @jax-js/jax, WebGPU backend) as a peer: bench/peers/jax_drgan.ts in a child
// Deno times the variant's convolution layers (forward; jit(valueAndGrad) for forward + dx
// + dw) after checking one conv and one transposed conv against our float64 references.
import { fileURLToPath as fromFileUrl } from "node:url";
import { type BenchRecord, type Variant, variantModel } from "../record.ts";
import { type Context, recorder } from "../train.ts";
import { convLayerSpecs, layerRecords, type PeerInputs, runJson, skipped } from "./run.ts";

const here = (f: string) => fromFileUrl(new URL(f, import.meta.url));

export async function benchJax(ctx: Context, v: Variant, p: PeerInputs): Promise<BenchRecord[]> {
  const label = `peer jax-js-webgpu ${v.name} (batch ${v.batch})`;
  const layerFile = await Deno.makeTempFile({ suffix: ".json" });
  const model = variantModel(v, ctx.sets);
  await Deno.writeTextFile(layerFile, JSON.stringify(convLayerSpecs(model, v.name, v.batch)));
  ctx.log(`${label} conv layers...`);
  const r = await runJson(Deno.execPath(), [
    "run",
    "--allow-read",
    "--allow-env",
    `--lock=${here("./peers.lock")}`, // as the TensorFlow.js peer (run.ts)
    here("./jax_drgan.ts"),
    "--layers",
    layerFile,
    ...(ctx.quick ? ["--quick"] : []),
  ]);
  await Deno.remove(layerFile).catch(() => {});
  if (r.error || r.json?.error) {
    const why = String(r.json?.error ?? r.error);
    ctx.log(`  skipped: ${why}`);
    return [skipped(ctx, `${label} conv layers`, why)];
  }
  const j = r.json as {
    jax: string;
    adapter: string;
    check_rel_err: Record<string, { y: number; dx: number; dw: number }>;
    layers: Record<string, { fwd_ms: number; fwd_bwd_ms: number }>;
  };
  const errs = Object.values(j.check_rel_err).map((e) => Math.max(e.y, e.dx, e.dw));
  const check = Object.entries(j.check_rel_err).map(([name, e]) =>
    `${name}: y ${e.y.toExponential(1)}, dx ${e.dx.toExponential(1)}, dw ${e.dw.toExponential(1)}`
  ).join("; ");
  ctx.log(`  against float64: ${check}`);
  const adapter = `${j.adapter}, @jax-js/jax ${j.jax} webgpu backend`;
  return [
    recorder(ctx, adapter)(
      `${label} conv check vs float64, largest rel. error`,
      Math.max(...errs),
      "x",
      `max |jax-js - float64 reference| / max |reference| (src/ops/conv/reference.ts); ${check}`,
    ),
    ...layerRecords(ctx, p, adapter, label, "jax-js-webgpu", v.name, j.layers, "jit(valueAndGrad)"),
  ];
}
