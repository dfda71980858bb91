// Sample grids during training: input faces, and each rotated by the generator to
// every pose (the frontal column is the frontalised face). Uses inference plans
// that share the trainer's parameter buffers.
import type { Model } from "../lang/ir.ts";
import { buildProgram } from "../plan/program.ts";
import { type Plan, planPrograms } from "../plan/plan.ts";
import type { Target } from "../plan/target.ts";
import type { Gpu } from "../engine/device.ts";
import { Executor } from "../engine/executor.ts";
import { Rng } from "../util/rng.ts";
import type { Region } from "../engine/buffers.ts";

/** The sampler's plan: the encoder on `faces` images, the decoder on each at every pose. */
export function samplesPlan(model: Model, faces: number, target: Target): Plan {
  const enc = model.networks.find((n) => n.name === "encoder");
  const dec = model.networks.find((n) => n.name === "decoder");
  if (!enc || !dec) {
    throw new Error(`${model.file}: samples need networks 'encoder' and 'decoder'`);
  }
  const poses = Number(dec.inputs.find((i) => i.name === "pose")?.shape[1]);
  return planPrograms([
    { name: "encoder", program: buildProgram(enc, { batch: faces, training: false, target }) },
    {
      name: "decoder",
      program: buildProgram(dec, { batch: faces * poses, training: false, target }),
    },
  ], { target });
}

export class Sampler {
  private constructor(
    private encoder: Executor,
    private decoder: Executor,
    readonly faces: number,
    readonly poses: number,
    readonly size: number,
    private noise: Float32Array<ArrayBuffer>,
  ) {}

  /** Walks `plan` (samplesPlan) over the parameters in `shared` (the trainer's). */
  static async create(
    gpu: Gpu,
    plan: Plan,
    shared: Map<string, Region>,
  ): Promise<Sampler> {
    const encoder = await Executor.create(gpu, plan, { program: "encoder", shared });
    const decoder = await Executor.create(gpu, plan, { program: "decoder", shared });
    const faces = encoder.program.batch;
    const poses = decoder.program.batch / faces;
    const size = encoder.tensor(encoder.program.inputs[0]).shape[2];
    const nz = decoder.tensor("noise").shape[1];
    // One fixed noise draw, so grids of different steps are comparable.
    const r = new Rng(12345);
    const noise = Float32Array.from({ length: faces * poses * nz }, () => 2 * r.next() - 1);
    return new Sampler(encoder, decoder, faces, poses, size, noise);
  }

  /** `images`: faces x [3, size, size]; returns faces*poses generated images, face-major. */
  async rotate(images: Float32Array<ArrayBuffer>): Promise<Float32Array> {
    const input = this.encoder.program.inputs[0];
    this.encoder.write(input, images);
    this.encoder.run();
    const { feature, scene } = this.encoder.program.outputs;
    const got = await this.encoder.read(scene ? [feature, scene] : [feature]);
    const f = got.get(feature)!, s = scene ? got.get(scene)! : undefined;
    const nf = f.length / this.faces, ns = s ? s.length / this.faces : 0;
    const P = this.poses, nz = this.noise.length / (this.faces * P);
    const features = new Float32Array(this.faces * P * nf);
    const code = new Float32Array(this.faces * P * P);
    const noise = this.noise.slice();
    for (let i = 0; i < this.faces; i++) {
      for (let p = 0; p < P; p++) {
        const row = i * P + p;
        features.set(f.subarray(i * nf, (i + 1) * nf), row * nf);
        code[row * P + p] = 1;
        // a scene code replaces the noise's last values, as in training
        if (s) noise.set(s.subarray(i * ns, (i + 1) * ns), (row + 1) * nz - ns);
      }
    }
    this.decoder.write("feature", features);
    this.decoder.write("pose", code);
    this.decoder.write("noise", noise);
    this.decoder.run();
    const out = this.decoder.program.outputs.image;
    return (await this.decoder.read([out])).get(out)!;
  }
}

/**
 * Lays out rows of NCHW images in [-1, 1] as one RGBA picture: each row starts with
 * `first[row]`, then its generated images; 2-pixel gaps.
 */
export function gridRgba(
  first: Float32Array,
  rest: Float32Array,
  rows: number,
  perRow: number,
  size: number,
): { width: number; height: number; rgba: Uint8Array } {
  const gap = 2, cols = perRow + 1;
  const width = cols * size + (cols + 1) * gap + gap; // wider gap after the input column
  const height = rows * size + (rows + 1) * gap;
  const rgba = new Uint8Array(width * height * 4).fill(255);
  const plane = size * size;
  const put = (src: Float32Array, index: number, x0: number, y0: number) => {
    const base = index * 3 * plane;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const o = ((y0 + y) * width + x0 + x) * 4;
        for (let c = 0; c < 3; c++) {
          const v = src[base + c * plane + y * size + x];
          rgba[o + c] = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
        }
        rgba[o + 3] = 255;
      }
    }
  };
  for (let r = 0; r < rows; r++) {
    const y0 = gap + r * (size + gap);
    put(first, r, gap, y0);
    for (let c = 0; c < perRow; c++) {
      put(rest, r * perRow + c, 2 * gap + (c + 1) * (size + gap), y0);
    }
  }
  return { width, height, rgba };
}
