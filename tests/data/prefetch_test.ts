import { deepEqual, equal } from "node:assert/strict";
import { Prefetcher } from "../../src/data/prefetch.ts";

Deno.test("the prefetcher hands out batches in order and makes the next one meanwhile", async () => {
  const uploaded: number[] = [];
  let made = 0;
  const pf = new Prefetcher(() => ({ index: made++ }), (b: { index: number }) => {
    uploaded.push(b.index);
  });
  const first = await pf.next();
  equal(first.index, 0);
  await new Promise((r) => setTimeout(r, 5)); // the "GPU step"
  equal(made, 2, "batch 1 was made while batch 0 was in use");
  equal((await pf.next()).index, 1);
  deepEqual(uploaded, [0, 1]);
  pf.close();
});
