// jax-js (npm @jax-js/jax, WebGPU backend) as a peer: bench/peers/jax_drgan.ts in a child
// Deno checks one conv and one transposed conv against our float64 references, then times
// the same DR-GAN training iteration as ours (jax_model.ts) and, for the small variant, its
// convolution layers (forward; jit(valueAndGrad) for forward + dx + dw).
import { type BenchRecord, fmt, type Variant, variantModel } from "../record.ts";
import { type Context, recorder } from "../train.ts";
import {
  configArgs,
  layerRecords,
  layerSpecFile,
  peerConfig,
  type PeerInputs,
  ratio,
  runDenoPeer,
  skipped,
} from "./run.ts";

export async function benchJax(ctx: Context, v: Variant, p: PeerInputs): Promise<BenchRecord[]> {
  const label = `peer jax-js-webgpu ${v.name} (batch ${v.batch})`;
  const model = variantModel(v, ctx.sets);
  const layerFile = await layerSpecFile(ctx, model, v); // the layers as tfjs measures them
  ctx.log(`${label}...`);
  const r = await runDenoPeer("./jax_drgan.ts", [
    ...configArgs(peerConfig(model, v.batch)),
    ...(layerFile ? ["--layers", layerFile] : []),
    ...(ctx.quick ? ["--quick"] : []),
  ]);
  if (layerFile) await Deno.remove(layerFile).catch(() => {});
  if (r.error || r.json?.error) {
    const why = String(r.json?.error ?? r.error);
    ctx.log(`  skipped: ${why}`);
    return [skipped(ctx, `${label} iteration`, why)];
  }
  const j = r.json as {
    jax: string;
    adapter: string;
    check_rel_err: Record<string, { y: number; dx: number; dw: number }>;
    params: Record<string, number>;
    train_ms: number;
    train_samples_ms: number[];
    layers?: Record<string, { fwd_ms: number; fwd_bwd_ms: number }>;
  };
  const errs = Object.values(j.check_rel_err).map((e) => Math.max(e.y, e.dx, e.dw));
  const check = Object.entries(j.check_rel_err).map(([name, e]) =>
    `${name}: y ${e.y.toExponential(1)}, dx ${e.dx.toExponential(1)}, dw ${e.dw.toExponential(1)}`
  ).join("; ");
  ctx.log(`  against float64: ${check}`);
  ctx.log(`  ${fmt(j.train_ms)} ms per iteration`);
  const adapter = `${j.adapter}, @jax-js/jax ${j.jax} webgpu backend`;
  const rec = recorder(ctx, adapter);
  return [
    rec(
      `${label} conv check vs float64, largest rel. error`,
      Math.max(...errs),
      "x",
      `max |jax-js - float64 reference| / max |reference| (src/ops/conv/reference.ts); ${check}`,
    ),
    rec(
      `${label} iteration`,
      j.train_ms,
      "ms",
      `deno run bench/peers/jax_drgan.ts: a D update and a G update, each one jit(valueAndGrad) ` +
        `+ Adam; parameters ${JSON.stringify(j.params)}; samples ms ${
          j.train_samples_ms.map((x) => fmt(x)).join(", ")
        }`,
    ),
    ...ratio(
      ctx,
      p,
      adapter,
      `train ${v.name} (batch ${v.batch}) iteration`,
      j.train_ms,
      `${label} iteration`,
    ),
    ...(j.layers
      ? layerRecords(ctx, p, adapter, label, "jax-js-webgpu", v.name, j.layers, "jit(valueAndGrad)")
      : []),
  ];
}
