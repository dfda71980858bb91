// One worker of the data pool (data_pool.ts): reads and decodes image files, or
// opens the same training data as the main thread (graph, overrides, options) and
// renders the rows of a step's batch it is asked for. A batch is a pure function of
// (seed, step), so which worker renders which rows changes nothing.
import { loadModel } from "../lang/model.ts";
import { parseOverride } from "../lang/files.ts";
import { readImage } from "../data/folder.ts";
import { trainingConfig } from "./config.ts";
import { openTrainData, type TrainData } from "./data.ts";
import type { PoolRequest } from "./data_pool.ts";

let data: Promise<TrainData> | undefined;

// A worker's global scope, typed here: the module is checked with the window's types
// (it shares modules with the main thread).
const scope = self as unknown as {
  onmessage: (e: MessageEvent<PoolRequest>) => void;
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
};

async function answer(m: PoolRequest): Promise<[unknown, ArrayBuffer[]]> {
  if (m.kind === "open") {
    const model = loadModel(m.spec.graph, m.spec.overrides.map(parseOverride));
    data = openTrainData(model, trainingConfig(model), m.spec.options);
    await data;
    return [undefined, []];
  }
  if (m.kind === "batch") {
    const { image, identity, pose } = await (await data!).batch(m.step, m.rows);
    const arrays = [image, identity, pose];
    return [{ image, identity, pose }, arrays.map((a) => a.buffer as ArrayBuffer)];
  }
  const out: (Uint8Array | string)[] = [];
  for (const file of m.files) {
    // A bad file is its message (a DataError's), as the folder loader reports it.
    out.push(await readImage(file, m.opts).catch((e) => (e as Error).message));
  }
  return [out, out.flatMap((x) => typeof x === "string" ? [] : [x.buffer as ArrayBuffer])];
}

scope.onmessage = async (e: MessageEvent<PoolRequest>) => {
  try {
    const [result, moved] = await answer(e.data);
    scope.postMessage({ id: e.data.id, result }, moved);
  } catch (err) {
    scope.postMessage({ id: e.data.id, error: (err as Error).message ?? String(err) });
  }
};
