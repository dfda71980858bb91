// One worker of the data pool (data_pool.ts): opens the same training data as the
// main thread (graph, overrides, data options) and renders the rows of a step's
// batch it is asked for. A batch is a pure function of (seed, step), so which
// worker renders which rows changes nothing.
/// <reference lib="deno.worker" />
import { loadModel } from "../lang/model.ts";
import { parseOverride } from "../lang/files.ts";
import { trainingConfig } from "./config.ts";
import { openTrainData, type TrainData } from "./data.ts";
import type { PoolRequest, PoolSpec } from "./data_pool.ts";

let data: Promise<TrainData> | undefined;

self.onmessage = async (e: MessageEvent<PoolSpec | PoolRequest>) => {
  const m = e.data;
  if ("graph" in m) {
    const model = loadModel(m.graph, m.overrides.map(parseOverride));
    data = openTrainData(model, trainingConfig(model), m.options);
    return;
  }
  try {
    const b = await (await data!).batch(m.step, m.rows);
    const moved = [b.image, b.identity, b.pose].map((a) => a.buffer as ArrayBuffer);
    self.postMessage({ id: m.id, batch: b }, moved);
  } catch (err) {
    self.postMessage({ id: m.id, error: (err as Error).message ?? String(err) });
  }
};
