// One data-parallel replica for tests/parallel/mpi_test.ts: started by mpirun (N ranks,
// each its shard of every batch, gradients all-reduced) or alone (the whole batch).
// Trains STEPS steps of GRAPH and writes, per step, every state tensor and the
// metrics to OUT/rank<r>.json. FAIL_RANK=r: that rank throws after its first step
// (the others wait in the next all-reduce: the job must end, not hang).
// usage: deno run -A tests/parallel/replica.ts GRAPH OUT STEPS [NAME=VALUE ...]
import { loadModel } from "../../src/lang/model.ts";
import { parseOverride } from "../../src/lang/files.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { trainingConfig } from "../../src/train/config.ts";
import { trainingPlan } from "../../src/train/plan.ts";
import { openTrainData } from "../../src/train/data.ts";
import { readBack } from "../../src/engine/buffers.ts";
import { numel } from "../../src/ops/wgsl.ts";
import { launchedSize, type Mpi, openMpi } from "../../src/parallel/mpi.ts";
import { runMain, UserError } from "../../src/cli/args.ts";
import { broadcastState, shardOf } from "../../src/parallel/replicas.ts";
import { testGpu, testTarget } from "../gpu.ts";

let comm: Mpi | undefined;
runMain("replica.ts GRAPH OUT STEPS [NAME=VALUE ...]", async ([graph, out, steps, ...sets]) => {
  comm = launchedSize() > 1 ? openMpi() : undefined;
  const model = loadModel(graph, sets.map(parseOverride));
  const cfg = trainingConfig(model);
  const shard = comm && shardOf(cfg.batch, cfg.group, comm);
  const plan = trainingPlan(model, cfg, {
    target: testTarget(),
    batch: shard && shard.to - shard.from,
  });
  const gpu = await testGpu();
  const trainer = await Trainer.create(gpu, plan, model, cfg, { comm });
  const data = await openTrainData(model, cfg, { shard });
  if (comm) await broadcastState(trainer, comm);
  const tensors = trainer.stateTensors();
  const record = [];
  for (let s = 0; s < Number(steps); s++) {
    const batch = await data.batch(s);
    if (comm) await trainer.iterateReduced(batch);
    else trainer.iterate(batch);
    const metrics = await trainer.metrics();
    const got = await readBack(
      gpu.device,
      [...tensors.values()].map((t) => ({
        buffer: t.region.buffer,
        offset: t.region.offset,
        elements: numel(t.shape),
      })),
    );
    const state = Object.fromEntries([...tensors.keys()].map((n, i) => [n, [...got[i]]]));
    record.push({ metrics, state });
    if (Deno.env.get("FAIL_RANK") === String(comm?.rank)) {
      throw new UserError(`rank ${comm?.rank} failed on purpose`);
    }
  }
  Deno.writeTextFileSync(`${out}/rank${comm?.rank ?? 0}.json`, JSON.stringify(record));
  comm?.finalize();
}, (code) => comm ? comm.abort(code) : Deno.exit(code));
