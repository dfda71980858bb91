// The DR-GAN conv stacks the JavaScript peers build (tfjs_drgan.ts, jax_model.ts), as
// torch_drgan.py lists them: [channels at width 1, stride] of each 3x3 layer; and the
// flags both take from run.ts (configArgs, --layers, --quick).

/** node:util parseArgs options of the flags every JavaScript DR-GAN peer takes */
export const PEER_FLAGS = {
  size: { type: "string", default: "32" },
  width: { type: "string", default: "0.25" },
  nd: { type: "string", default: "40" },
  np: { type: "string", default: "13" },
  nz: { type: "string", default: "50" },
  batch: { type: "string", default: "16" },
  layers: { type: "string" },
  "skip-train": { type: "boolean", default: false },
  quick: { type: "boolean", default: false },
} as const;

/** the encoder (and the discriminator's trunk): conv, batch norm, ELU */
export const ENC: [number, number][] = [
  [32, 1],
  [64, 1],
  [64, 2],
  [64, 1],
  [128, 1],
  [128, 2],
  [96, 1],
  [192, 1],
  [192, 2],
  [128, 1],
  [256, 1],
  [256, 2],
  [160, 1],
  [320, 1],
];

/** the decoder after its linear layer: transposed conv, batch norm, ELU (then one to 3 channels) */
export const DEC: [number, number][] = [
  [160, 1],
  [256, 1],
  [256, 2],
  [128, 1],
  [192, 1],
  [192, 2],
  [96, 1],
  [128, 1],
  [128, 2],
  [64, 1],
  [64, 1],
  [64, 2],
  [32, 1],
];

/** channels at a width multiplier; the width must give whole channel counts */
export function channels(width: number, c: number): number {
  const v = width * c;
  if (!Number.isInteger(v)) throw new Error(`width ${width} x ${c} is not whole`);
  return v;
}
