// Data-parallel training throughput: run alone for one rank, or under
// `mpirun -np N` for N; rank 0 prints images/s over the global batch, the iteration
// time and the part spent exchanging gradients, then the time of MPI_Allreduce alone
// on buffers the size of this graph's and the paper graph's gradients (docs/scale-out.md).
// usage: [mpirun -np N] deno run -A bench/parallel.ts [GRAPH] [STEPS] [NAME=VALUE ...]
import { loadModel } from "../src/lang/model.ts";
import { parseOverride } from "../src/lang/files.ts";
import { openGpu } from "../src/engine/device.ts";
import { targetFor } from "../src/tune/target.ts";
import { Trainer } from "../src/train/trainer.ts";
import { trainingConfig } from "../src/train/config.ts";
import { trainingPlan } from "../src/train/plan.ts";
import { openTrainData } from "../src/train/data.ts";
import { launchedSize, openMpi } from "../src/parallel/mpi.ts";
import { broadcastState, shardOf } from "../src/parallel/replicas.ts";

const [graph = "graphs/drgan-small.yaml", steps = "6", ...sets] = Deno.args;
const comm = launchedSize() > 1 ? openMpi() : undefined;
const model = loadModel(graph, sets.map(parseOverride));
const cfg = trainingConfig(model);
const shard = comm && shardOf(cfg.batch, cfg.group, comm);
const gpu = await openGpu();
const plan = trainingPlan(model, cfg, {
  target: targetFor(gpu),
  batch: shard && shard.to - shard.from,
});
const trainer = await Trainer.create(gpu, plan, model, cfg, { comm });
const data = await openTrainData(model, cfg, { shard });
if (comm) await broadcastState(trainer, comm);
const step = async (s: number) => {
  const batch = await data.batch(s);
  if (comm) await trainer.iterateReduced(batch);
  else trainer.iterate(batch);
  await trainer.metrics(); // waits for the GPU (and, between ranks, agrees)
};
await step(0); // warm-up
trainer.reduceMs = 0;
const n = Number(steps), t0 = performance.now();
for (let s = 1; s <= n; s++) await step(s);
const ms = (performance.now() - t0) / n;
if ((comm?.rank ?? 0) === 0) {
  const ranks = comm?.size ?? 1;
  console.log(
    `${ranks} rank${ranks > 1 ? "s" : ""}, ${model.name} batch ${cfg.batch} ` +
      `(${cfg.batch / ranks} per rank) on ${gpu.description}: ${
        (cfg.batch * 1000 / ms).toFixed(1)
      } ` +
      `images/s, ${ms.toFixed(0)} ms per iteration, of which ${
        (trainer.reduceMs / n).toFixed(1)
      } ms ` +
      `exchanging gradients (mean of ${n} after 1 warm-up)`,
  );
}
if (comm) {
  // The transport alone: one all-reduce per player's gradient range, as the trainer does.
  const bytesOf = (m: typeof model) => {
    const p = trainingPlan(m, trainingConfig(m), { target: targetFor(gpu), batch: 1 });
    return p.programs.map((q) => q.tensors[`span.gradients.${q.name}`]?.arena?.size ?? 0);
  };
  for (
    const [name, sizes] of [[model.name, bytesOf(model)], [
      "drgan",
      bytesOf(loadModel("graphs/drgan.yaml")),
    ]] as const
  ) {
    const bufs = sizes.map((b) => new Float32Array(b / 4));
    const reps = 5, t = performance.now();
    for (let r = 0; r < reps; r++) for (const b of bufs) comm.allreduceSum(b);
    const ms = (performance.now() - t) / reps;
    const total = sizes.reduce((a, b) => a + b, 0);
    if (comm.rank === 0) {
      console.log(
        `  MPI_Allreduce of ${name}'s gradients (${
          sizes.map((b) => b.toLocaleString("en")).join(" + ")
        } = ` +
          `${total.toLocaleString("en")} bytes) across ${comm.size} ranks: ${ms.toFixed(1)} ms ` +
          `(mean of ${reps})`,
      );
    }
  }
}
comm?.finalize();
