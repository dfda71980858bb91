// Runs the peers (TensorFlow.js in Deno, PyTorch on the CPU) as child processes,
// each on the same DR-GAN variant as ours, and turns their JSON into records with
// our time / theirs next to them.
import { fileURLToPath as fromFileUrl } from "node:url";
import type { Model } from "../../src/lang/ir.ts";
import { type BenchRecord, fmt, type Variant, variantModel } from "../record.ts";
import { type Context, recorder } from "../train.ts";

const here = (f: string) => fromFileUrl(new URL(f, import.meta.url));

/** The architecture's numbers a peer needs, from our model (so --set shrinks both). */
export function peerConfig(model: Model, batch: number) {
  const p = model.params as Record<string, number>;
  return { size: p.size, width: p.width, nd: p.Nd, np: p.Np, nz: p.Nz, batch };
}

export function configArgs(c: ReturnType<typeof peerConfig>): string[] {
  return Object.entries(c).flatMap(([k, v]) => [`--${k}`, String(v)]);
}

export async function runJson(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ json?: Record<string, unknown>; error?: string }> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    return { error: `cannot run ${cmd}: ${e instanceof Error ? e.message : e}` };
  }
  const stdout = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  const last = stdout.split("\n").pop() ?? "";
  try {
    const json = JSON.parse(last);
    if (!out.success) return { json, error: `exit ${out.code}: ${stderr.slice(-2000)}` };
    return { json };
  } catch {
    return { error: `exit ${out.code}, no JSON result: ${(stderr || stdout).slice(-2000)}` };
  }
}

/** Distinct convolution layers of a variant, named as bench/ops.ts names them. */
/**
 * A Deno peer script, run with the peers' own lock: TensorFlow.js, jax-js and onnxruntime
 * stay out of the project's, so the demo and the tests never fetch them.
 */
export function runDenoPeer(
  script: string,
  args: string[],
  perms = ["--allow-read", "--allow-env"],
): ReturnType<typeof runJson> {
  return runJson(Deno.execPath(), [
    "run",
    ...perms,
    `--lock=${here("./peers.lock")}`,
    here(script),
    ...args,
  ]);
}

/**
 * The conv layers the JavaScript peers time, in a temporary JSON file (the caller removes
 * it): small only, and not in --quick.
 */
export async function layerSpecFile(
  ctx: Context,
  model: Model,
  v: Variant,
): Promise<string | undefined> {
  if (ctx.quick || v.name !== "small") return undefined;
  const file = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(file, JSON.stringify(convLayerSpecs(model, v.name, v.batch)));
  return file;
}

export function convLayerSpecs(model: Model, variant: string, batch: number) {
  const seen = new Map<string, {
    name: string;
    op: string;
    input: number[];
    output: number[];
    kernel: number;
    stride: number;
  }>();
  for (const net of model.networks) {
    for (const node of net.nodes) {
      if (node.op !== "conv2d" && node.op !== "conv_transpose2d") continue;
      const bind = (s: readonly (number | string)[]) =>
        s.map((d) => typeof d === "number" ? d : batch);
      const input = bind(net.shapes.get(node.inputs[0])!);
      const output = bind(node.shape);
      const a = node.parsed as { kernel: number | number[]; stride: number };
      const k = Array.isArray(a.kernel) ? a.kernel.join("x") : a.kernel;
      const short = node.op === "conv2d" ? "conv" : "deconv";
      const name = `${variant} ${short} ${input.slice(1).join("x")}->${
        output[1]
      } k${k} s${a.stride}`;
      if (seen.has(name) || Array.isArray(a.kernel)) continue;
      seen.set(name, { name, op: node.op, input, output, kernel: Number(k), stride: a.stride });
    }
  }
  return [...seen.values()];
}

export interface PeerInputs {
  /** our figure by record name (without the --set suffix), when this run measured it */
  ours: (name: string) => number | undefined;
  /** seconds per run of our kernels by bench/ops.ts name ("small conv ... fwd"), when run */
  opsSeconds: Map<string, number>;
  /** the tfjs backend to try first */
  tfjsBackend?: "webgpu" | "cpu";
}

export function skipped(ctx: Context, name: string, why: string): BenchRecord {
  return { ...recorder(ctx, "-")(name, 0, "skipped"), notes: why };
}

/**
 * PyTorch on the CPU: the same iteration and encoder pass, with OMP_NUM_THREADS=2 (or
 * the environment's) and with 1 thread. OpenBLAS runs single-threaded inside it
 * (OPENBLAS_NUM_THREADS=1): its own pool beside torch's threads oversubscribed the
 * cores and made the 2-thread iteration 2-7x slower than this.
 */
export async function benchTorch(ctx: Context, v: Variant, p: PeerInputs): Promise<BenchRecord[]> {
  const model = variantModel(v, ctx.sets);
  const out: BenchRecord[] = [];
  const main = Deno.env.get("OMP_NUM_THREADS") ?? "2";
  for (const threads of [...new Set([main, "1"])]) {
    const label = `peer pytorch-cpu ${v.name} (batch ${v.batch})` +
      (threads === main ? "" : `, ${threads} thread${threads === "1" ? "" : "s"}`);
    const timing = ctx.quick
      ? ["--warmup", "1", "--samples", "1", "--iters", "1", "--infer-iters", "2"]
      : v.name === "paper"
      ? ["--warmup", "2", "--samples", "3", "--iters", "1"]
      : ["--warmup", "3", "--samples", "5", "--iters", "3"];
    ctx.log(`${label}, OMP_NUM_THREADS=${threads}...`);
    const r = await runJson(
      "/usr/bin/python3",
      [here("./torch_drgan.py"), ...configArgs(peerConfig(model, v.batch)), ...timing],
      { OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: "1" },
    );
    if (r.error || r.json?.skipped) {
      const why = String(r.json?.skipped ?? r.error);
      ctx.log(`  skipped: ${why}`);
      return [skipped(ctx, `${label} iteration`, why)];
    }
    const j = r.json as {
      torch: string;
      threads: number;
      blas: string;
      cpu: string;
      params: Record<string, number>;
      train_ms: number;
      train_samples_ms: number[];
      infer_ms: number;
    };
    const adapter = `CPU (${j.cpu}), PyTorch ${j.torch}, ${j.threads} thread${
      j.threads === 1 ? "" : "s"
    }`;
    const rec = recorder(ctx, adapter);
    const blas = /openblas/i.test(j.blas)
      ? "OpenBLAS"
      : `reference BLAS (${j.blas}); apt-get install -y libopenblas0-pthread for a fair figure`;
    const notes = `/usr/bin/python3 bench/peers/torch_drgan.py, OMP_NUM_THREADS=${threads}, ` +
      `OPENBLAS_NUM_THREADS=1, ${blas}; ` +
      `parameters ${JSON.stringify(j.params)}; samples ms ${
        j.train_samples_ms.map((x) => fmt(x)).join(", ")
      }`;
    ctx.log(`  ${fmt(j.train_ms)} ms per iteration, encoder ${fmt(j.infer_ms)} ms`);
    const ours = `train ${v.name} (batch ${v.batch}) iteration`;
    const oursInfer = `infer ${v.name} (batch ${v.batch}) encoder features`;
    out.push(
      rec(`${label} iteration`, j.train_ms, "ms", notes),
      ...ratio(ctx, p, adapter, ours, j.train_ms, `${label} iteration`),
      rec(`${label} encoder features`, j.infer_ms, "ms", "eval mode, no_grad"),
      ...ratio(ctx, p, adapter, oursInfer, j.infer_ms, `${label} encoder features`),
    );
  }
  return out;
}

export function ratio(
  ctx: Context,
  p: PeerInputs,
  adapter: string,
  oursName: string,
  theirs: number,
  peerName: string,
): BenchRecord[] {
  const ours = p.ours(oursName);
  if (ours === undefined) return [];
  return [
    recorder(ctx, `ours: ${ctx.gpu.description}; theirs: ${adapter}`)(
      `ratio ours / ${peerName.replace(/^peer /, "")}`,
      ours / theirs,
      "x",
      `our ${fmt(ours)} ms / their ${fmt(theirs)} ms (below 1: we are faster)`,
    ),
  ];
}

/** TensorFlow.js in Deno on navigator.gpu (falls back to tfjs-cpu, labelled so). */
export async function benchTfjs(ctx: Context, v: Variant, p: PeerInputs): Promise<BenchRecord[]> {
  const model = variantModel(v, ctx.sets);
  const cfg = peerConfig(model, v.batch);
  const out: BenchRecord[] = [];
  const layerFile = await layerSpecFile(ctx, model, v);
  const run = (backend: string) =>
    runDenoPeer("./tfjs_drgan.ts", [
      ...configArgs(cfg),
      "--backend",
      backend,
      ...(ctx.quick ? ["--quick"] : []),
      ...(layerFile ? ["--layers", layerFile] : []),
    ], ["--allow-read", "--allow-write", "--allow-env"]);
  let backend = p.tfjsBackend ?? "webgpu";
  ctx.log(`peer tfjs-${backend} ${v.name} (batch ${v.batch})...`);
  let r = await run(backend);
  let fallback = "";
  if (backend === "webgpu" && (r.error || r.json?.error)) {
    fallback = `the webgpu backend failed in Deno: ${r.json?.error ?? r.error}; `;
    ctx.log(`  ${fallback}falling back to tfjs-cpu`);
    backend = "cpu";
    r = await run(backend);
  }
  if (layerFile) await Deno.remove(layerFile).catch(() => {});
  const label = `peer tfjs-${backend} ${v.name} (batch ${v.batch})`;
  if (r.error || r.json?.error) {
    return [skipped(ctx, `${label} iteration`, fallback + String(r.json?.error ?? r.error))];
  }
  const j = r.json as {
    tfjs: string;
    adapter: string;
    params: Record<string, number>;
    train_ms: number;
    train_samples_ms: number[];
    infer_ms: number;
    layers?: Record<string, { fwd_ms: number; fwd_bwd_ms: number }>;
  };
  const adapter = `${j.adapter}, tfjs ${j.tfjs} ${backend} backend`;
  const rec = recorder(ctx, adapter);
  ctx.log(`  ${fmt(j.train_ms)} ms per iteration, encoder ${fmt(j.infer_ms)} ms`);
  out.push(
    rec(
      `${label} iteration`,
      j.train_ms,
      "ms",
      `${fallback}deno run bench/peers/tfjs_drgan.ts; parameters ${JSON.stringify(j.params)}; ` +
        `samples ms ${j.train_samples_ms.map((x) => fmt(x)).join(", ")}`,
    ),
    ...ratio(
      ctx,
      p,
      adapter,
      `train ${v.name} (batch ${v.batch}) iteration`,
      j.train_ms,
      `${label} iteration`,
    ),
    rec(`${label} encoder features`, j.infer_ms, "ms", "batch norm with running statistics"),
    ...ratio(
      ctx,
      p,
      adapter,
      `infer ${v.name} (batch ${v.batch}) encoder features`,
      j.infer_ms,
      `${label} encoder features`,
    ),
  );
  if (j.layers) {
    out.push(
      ...layerRecords(ctx, p, adapter, label, `tfjs-${backend}`, v.name, j.layers, "tf.grads"),
    );
  }
  return out;
}

/**
 * A peer's per-layer rows (forward; forward + dx + dw) next to our bench/ops.ts figures of
 * the same layers, and two ratio rows: the sums over the layers both measured.
 */
export function layerRecords(
  ctx: Context,
  p: PeerInputs,
  adapter: string,
  label: string,
  peer: string,
  variant: string,
  layers: Record<string, { fwd_ms: number; fwd_bwd_ms: number }>,
  how: string,
): BenchRecord[] {
  const rec = recorder(ctx, adapter);
  const out: BenchRecord[] = [];
  let oursFwd = 0, theirsFwd = 0, oursAll = 0, theirsAll = 0, n = 0;
  for (const [name, t] of Object.entries(layers)) {
    const s = (pass: string) => p.opsSeconds.get(`${name} ${pass}`);
    const [f, dx, dw] = [s("fwd"), s("dx"), s("dw")];
    const both = f !== undefined && dx !== undefined && dw !== undefined;
    const ours = both
      ? `; ours fwd ${fmt(f * 1e3)} ms, fwd+dx+dw ${fmt((f + dx + dw) * 1e3)} ms (bench/ops.ts)`
      : "";
    out.push(
      rec(`${label} layer ${name} fwd`, t.fwd_ms, "ms"),
      rec(
        `${label} layer ${name} fwd+bwd`,
        t.fwd_bwd_ms,
        "ms",
        `${how}: forward, dx and dw${ours}`,
      ),
    );
    if (both) {
      oursFwd += f * 1e3;
      oursAll += (f + dx + dw) * 1e3;
      theirsFwd += t.fwd_ms;
      theirsAll += t.fwd_bwd_ms;
      n++;
    }
  }
  if (n) {
    const r = recorder(ctx, `ours: ${ctx.gpu.description}; theirs: ${adapter}`);
    const prefix = `ratio ours / ${peer}, ${n} ${variant} conv layers`;
    out.push(
      r(
        `${prefix} forward`,
        oursFwd / theirsFwd,
        "x",
        `sum of our ${fmt(oursFwd)} ms / their ${fmt(theirsFwd)} ms`,
      ),
      r(
        `${prefix} forward + backward`,
        oursAll / theirsAll,
        "x",
        `sum of our ${fmt(oursAll)} ms / their ${fmt(theirsAll)} ms`,
      ),
    );
  }
  return out;
}
