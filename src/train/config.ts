// The `training:` section of a composition: schema, defaults, and checks against
// the step graph it drives.
import { z } from "../deps.ts";
import { Diagnostics } from "../lang/diagnostics.ts";
import type { Model } from "../lang/ir.ts";
import { locOf } from "../lang/source.ts";
import { didYouMean } from "../lang/suggest.ts";
import { validate } from "../lang/validate.ts";
import { evalDeep } from "../lang/compose.ts";
import { ExprError } from "../lang/expr.ts";
import { optimizerSchema } from "./optimizers.ts";

const player = z.object({
  networks: z.array(z.string()).min(1).describe("networks whose parameters this player updates"),
  losses: z.record(z.string(), z.number()).describe("step outputs to minimise, with weights"),
  optimizer: optimizerSchema.optional().describe("overrides training.optimizer"),
}).strict();

export const trainingSchema = z.object({
  batch: z.number().int().positive().default(64),
  group: z.number().int().positive().default(1).describe(
    "images of one identity adjacent in a batch (multi-image DR-GAN); 1 for single-image",
  ),
  steps: z.number().int().positive().default(1000),
  seed: z.number().int().nonnegative().default(1),
  optimizer: optimizerSchema.default({
    type: "adam",
    lr: 2e-4,
    beta1: 0.5,
    beta2: 0.999,
    eps: 1e-8,
  }),
  schedule: z.object({
    strong: z.array(z.string()).default([]),
    threshold: z.number().min(0).max(1).default(0.9),
    g_steps: z.number().int().positive().default(4),
  }).strict().default({ strong: [], threshold: 0.9, g_steps: 4 }),
  players: z.object({ d: player, g: player }).strict(),
  log_every: z.number().int().positive().default(10),
  sample_every: z.number().int().positive().default(100),
  checkpoint_every: z.number().int().positive().default(250),
  keep_checkpoints: z.number().int().positive().default(3),
  eval: z.object({
    identities: z.number().int().positive().default(40).describe("held-out identities"),
    every: z.number().int().positive().default(500).describe("steps between evaluations"),
  }).strict().default({ identities: 40, every: 500 }),
  step: z.unknown(),
}).strict();

export type TrainingConfig = z.infer<typeof trainingSchema>;

/** Validates `training:` with located errors, including names that must exist in the step. */
export function trainingConfig(model: Model): TrainingConfig {
  const diags = new Diagnostics();
  const doc = model.doc;
  if (!doc.training || !model.step) {
    diags.error(
      { file: model.file, line: 1, col: 1 },
      `${model.file} has no 'training:' section with a 'step:' graph to train`,
    );
    diags.check();
  }
  const known = (p: PropertyKey[]) => p.length === 1 ? Object.keys(trainingSchema.shape) : [];
  // Parameters may appear in the section too (`group: $n`).
  const { step: _step, ...rest } = doc.training as Record<string, unknown>;
  let section: unknown;
  try {
    section = evalDeep(rest, (n) => {
      if (n in model.params) return model.params[n];
      throw new ExprError(`unknown parameter $${n}${didYouMean(n, Object.keys(model.params))}`);
    });
  } catch (e) {
    if (!(e instanceof ExprError)) throw e;
    diags.error(locOf(doc, "training"), e.message);
    diags.check();
  }
  const cfg = validate(trainingSchema, section, diags, known, doc, ["training"]);
  diags.check();
  if (cfg!.batch % cfg!.group !== 0) {
    diags.error(
      locOf(doc.training, "group"),
      `the batch (${cfg!.batch}) must be a multiple of the group size (${cfg!.group})`,
    );
  }
  const outputs = model.step!.outputs.map((o) => o.name);
  const nets = model.networks.map((n) => n.name);
  const t = doc.training as Record<string, Record<string, Record<string, unknown>>>;
  for (const [name, p] of Object.entries(cfg!.players)) {
    const pdoc = t.players[name];
    p.networks.forEach((n, i) => {
      if (!nets.includes(n)) {
        diags.error(locOf(pdoc.networks, i), `unknown network '${n}'${didYouMean(n, nets)}`);
      }
    });
    for (const term of Object.keys(p.losses)) {
      if (!outputs.includes(term)) {
        diags.error(
          locOf(pdoc.losses, term, "key"),
          `'${term}' is not an output of the step graph${didYouMean(term, outputs)}`,
        );
      }
    }
  }
  const sdoc = t.schedule as unknown as { strong?: unknown[] } | undefined;
  cfg!.schedule.strong.forEach((m, i) => {
    if (!outputs.includes(m)) {
      diags.error(
        locOf(sdoc?.strong, i),
        `'${m}' is not an output of the step graph${didYouMean(m, outputs)}`,
      );
    }
  });
  diags.check();
  return cfg!;
}
