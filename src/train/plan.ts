// The training Plan of a graph and its training section: one program per player,
// what `check --stage plan --train` prints and the trainer runs.
import type { Model } from "../lang/ir.ts";
import type { Plan } from "../plan/plan.ts";
import type { Target } from "../plan/target.ts";
import { compileTraining, type PlayerSpec } from "../plan/training.ts";
import type { TrainingConfig } from "./config.ts";

/** The step graph's inputs the trainer knows how to fill. */
export const STEP_INPUTS = [
  "image",
  "identity",
  "pose",
  "pose_code",
  "target_pose",
  "target_code",
  "target_image",
  "noise",
];

/**
 * The step outputs a player's update computes: its loss terms and, for D, the
 * schedule's metrics; the remaining metrics go to G (they are cheap there: G's
 * forward pass already has D's view of the generated faces).
 */
export function playerOutputs(all: string[], cfg: TrainingConfig, player: "d" | "g"): string[] {
  const losses = (p: "d" | "g") => Object.keys(cfg.players[p].losses);
  const forD = new Set([...losses("d"), ...cfg.schedule.strong]);
  const forG = new Set(losses("g"));
  const rest = all.filter((o) => !forD.has(o) && !forG.has(o));
  return player === "d" ? [...forD] : [...forG, ...rest];
}

/** `fuse: false` builds unfused programs (benchmarks compare them); the default fuses. */
export function trainingPlan(
  model: Model,
  cfg: TrainingConfig,
  opts: { target: Target; fuse?: boolean; batch?: number },
): Plan {
  return compileTraining(model.step!, playerSpecs(model, cfg), {
    target: opts.target,
    batch: opts.batch ?? cfg.batch,
    fuse: opts.fuse,
  });
}

/** The players of a training section, as the compiler takes them. */
export function playerSpecs(model: Model, cfg: TrainingConfig): PlayerSpec[] {
  const step = model.step!;
  for (const i of step.inputs) {
    if (!STEP_INPUTS.includes(i.name)) {
      throw new Error(
        `${model.file}: the step input '${i.name}' is not one the trainer fills ` +
          `(${STEP_INPUTS.join(", ")})`,
      );
    }
  }
  const names = step.outputs.map((o) => o.name);
  return (["d", "g"] as const).map((name) => {
    const p = cfg.players[name];
    return {
      name,
      networks: p.networks,
      losses: Object.keys(p.losses),
      outputs: playerOutputs(names, cfg, name),
      optimizer: (p.optimizer ?? cfg.optimizer).type,
    };
  });
}
