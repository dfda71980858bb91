// onnxruntime-web as an inference peer: our exporter writes the variant's encoder as
// ONNX, bench/peers/ort_encoder.ts runs it in a child Deno on ORT's WebGPU execution
// provider and on its wasm CPU provider (1 and 2 threads), and each figure gets its
// ratio to our encoder pass (bench/infer.ts: same variant, batch and graph).
import { encoderProgram } from "../infer.ts";
import { type BenchRecord, fmt, type Variant, variantModel } from "../record.ts";
import { type Context, recorder } from "../train.ts";
import { initParams } from "../../src/train/params.ts";
import { exportOnnx } from "../../src/formats/onnx_export.ts";
import { numel } from "../../src/ops/wgsl.ts";
import { type PeerInputs, ratio, runDenoPeer, skipped } from "./run.ts";

/**
 * Our initialisation with weights rescaled to std 1/sqrt(fan_in): features of order
 * 1 (N(0, 0.02) gives 1e-9, below float32's resolution of exp(x) - 1 in ELU), so the
 * WebGPU result can be checked against the wasm EP. Timing does not depend on values.
 */
function weights(program: ReturnType<typeof encoderProgram>) {
  const w = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, data] of initParams(program, 1)) {
    const shape = program.tensors.get(name)!.shape;
    if (shape.length > 1) {
      const k = 1 / Math.sqrt(numel(shape.slice(1))) / 0.02;
      for (let i = 0; i < data.length; i++) data[i] *= k;
    }
    w.set(name, { shape, data });
  }
  return w;
}

export async function benchOrt(ctx: Context, v: Variant, p: PeerInputs): Promise<BenchRecord[]> {
  const model = variantModel(v, ctx.sets);
  const program = encoderProgram(model, v.batch, ctx.target);
  const encoder = model.networks.find((n) => n.name === "encoder")!;
  const file = await Deno.makeTempFile({ suffix: ".onnx" });
  await Deno.writeFile(file, exportOnnx(encoder, weights(program), { outputs: ["feature"] }));
  const size = program.tensors.get(program.inputs[0])!.shape[2];
  const out: BenchRecord[] = [];
  const runs = [["webgpu", "1"], ["wasm", "1"], ["wasm", "2"]] as const;
  for (const [ep, threads] of runs) {
    const label = `peer ort-${ep} ${v.name} (batch ${v.batch})` +
      (ep === "wasm" ? `, ${threads} thread${threads === "1" ? "" : "s"}` : "");
    ctx.log(`${label}...`);
    const r = await runDenoPeer("./ort_encoder.ts", [
      ...["--model", file, "--size", String(size), "--batch", String(v.batch)],
      ...["--ep", ep, "--threads", threads, ...(ctx.quick ? ["--quick"] : [])],
    ]);
    if (r.error || r.json?.error) {
      const why = String(r.json?.error ?? r.error);
      ctx.log(`  skipped: ${why}`);
      out.push(skipped(ctx, `${label} encoder features`, why));
      continue;
    }
    const j = r.json as {
      ort: string;
      adapter: string;
      infer_ms: number;
      samples_ms: number[];
      per: number;
      session_ms: number;
      check_rel_err_vs_wasm?: number;
    };
    const adapter = `${j.adapter}, onnxruntime-web ${j.ort} ${ep} EP`;
    const check = j.check_rel_err_vs_wasm === undefined
      ? ""
      : `; features vs the wasm EP: rel. err ${j.check_rel_err_vs_wasm.toExponential(1)}`;
    ctx.log(`  ${fmt(j.infer_ms)} ms${check}`);
    const io = ep === "webgpu"
      ? "input in a GPU buffer, outputs kept on the GPU, one read-back per sample"
      : "CPU tensors";
    out.push(
      recorder(ctx, adapter)(
        `${label} encoder features`,
        j.infer_ms,
        "ms",
        `deno run bench/peers/ort_encoder.ts, ONNX from src/formats/onnx_export.ts; ${io}; ` +
          `median of ${j.samples_ms.length} samples of ${j.per} (ms ${
            j.samples_ms.map((x) => fmt(x)).join(", ")
          }); session ${fmt(j.session_ms)} ms${check}`,
      ),
      ...ratio(
        ctx,
        p,
        adapter,
        `infer ${v.name} (batch ${v.batch}) encoder features`,
        j.infer_ms,
        `${label} encoder features`,
      ),
    );
  }
  await Deno.remove(file).catch(() => {});
  return out;
}
