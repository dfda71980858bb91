// The Plan of a resolved model: the encoder (features, confidences in multi-image
// mode, scene codes where it measures them) and the decoder at a fixed batch, their
// parameters in one arena. A deployed model folder may ship it as plan.json so that
// loading skips compilation (FaceModel takes it as `plan`).
import { buildProgram, type Program } from "../plan/program.ts";
import { arenaLayout, type Plan, planPrograms } from "../plan/plan.ts";
import type { Target } from "../plan/target.ts";
import type { Resolved } from "./resolve.ts";

export const PARAMS_ARENA = "inference parameters";

/** A model folder's compiled plan (optional): FaceModel.load walks it instead of compiling. */
export const PLAN_FILE = "plan.json";

export function modelPlan(r: Resolved, batch: number, target: Target): Plan {
  const outputs = ["feature", ...r.multi ? ["confidence"] : [], ...r.scene ? ["scene"] : []];
  const programs: { name: string; program: Program }[] = [
    {
      name: "encoder",
      program: buildProgram(r.encoder, { batch, training: false, outputs, target }),
    },
  ];
  if (r.decoder) {
    programs.push({
      name: "decoder",
      program: buildProgram(r.decoder, { batch, training: false, target }),
    });
  }
  if (r.discriminator) {
    const judged = r.discriminator.outputs.map((o) => o.name).filter((o) =>
      /^(pose|fake)$/.test(o)
    );
    programs.push({
      name: "discriminator",
      program: buildProgram(r.discriminator, { batch, training: false, outputs: judged, target }),
    });
  }
  const seen = new Set<string>();
  const params = programs.flatMap(({ program: p }) =>
    p.params.filter((n) => !seen.has(n) && seen.add(n)).map((n) => p.tensors.get(n)!)
  );
  const layout = arenaLayout(params, target.limits.align);
  const arenas = new Map(
    [...layout.offsets].map(([n, o]) => [n, { name: PARAMS_ARENA, ...o }] as const),
  );
  const plan = planPrograms(
    programs.map((p) => ({ ...p, lower: { arenas } })),
    { target },
  );
  plan.arenas = [{ name: PARAMS_ARENA, bytes: layout.bytes }];
  return plan;
}
