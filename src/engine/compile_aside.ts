// Compiling a plan's pipelines on a second core. On a software adapter (llvmpipe)
// a pipeline is compiled by LLVM at its first dispatch, on the thread that submits:
// a cold start of the small training plan waits ~15 s there, on one core. A worker
// with a device of its own runs each kernel once, from the other end of the list,
// and Mesa's shader disk cache keeps what it compiled; the main device's first
// dispatch of that kernel then loads it from the cache. The two meet in the middle.
import type { Gpu } from "./device.ts";
import { type KernelSource, pipelineKey } from "./pipelines.ts";

/**
 * A running aside compile: `done` is true once the worker ran every kernel, false if
 * any failed or it was stopped first; `stop` asks it to end after the kernel it is
 * compiling and resolves when it has (await it before the process exits).
 */
export interface Aside {
  done: Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * How long `stop` waits for the worker to finish its kernel before terminating it. A
 * worker terminated inside a compile, followed by the process's exit, crashed the
 * process (SIGSEGV in the driver, exit code 139) after it had written its results.
 */
const STOP_WAIT_MS = 20000;

/** Fewer new kernels than this are not worth a worker and a second device. */
const MIN_KERNELS = 8;

/**
 * Starts compiling in a worker `now` (the kernels this device is about to run, in
 * their order), last first, then `later` (kernels it runs some time after) in order.
 * Undefined where it would not help: a hardware adapter (its driver compiles when the
 * pipeline is created), one core, Mesa's cache turned off, or too few kernels this
 * device has not compiled already.
 */
export function compileAside(
  gpu: Gpu,
  now: KernelSource[],
  later: KernelSource[] = [],
): Aside | undefined {
  if (!gpu.software || navigator.hardwareConcurrency < 2 || mesaCacheOff()) return undefined;
  const seen = new Set(gpu.pipelines.keys());
  const todo = [...now].reverse().concat(later).filter((k) => {
    const key = pipelineKey(k);
    return !seen.has(key) && seen.add(key);
  }).map(({ label, code, entry, writes }) => ({ label, code, entry, writes }));
  if (todo.length < MIN_KERNELS) return undefined;
  const worker = new Worker(new URL("./compile_worker.ts", import.meta.url).href, {
    type: "module",
  });
  let end!: (ok: boolean) => void;
  const done = new Promise<boolean>((resolve) => (end = resolve));
  let over = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const finish = (ok: boolean) => {
    if (over) return;
    over = true;
    clearTimeout(timer);
    worker.terminate();
    end(ok);
  };
  // Only an optimisation: whatever goes wrong there, the main device compiles it all.
  worker.onerror = (e) => {
    e.preventDefault();
    finish(false);
  };
  worker.onmessage = (e: MessageEvent<number>) => finish(e.data === 0);
  worker.postMessage(todo);
  const stop = () => {
    if (!over && timer === undefined) {
      worker.postMessage("stop");
      timer = setTimeout(() => finish(false), STOP_WAIT_MS);
    }
    return done.then(() => {});
  };
  return { done, stop };
}

function mesaCacheOff(): boolean {
  try {
    return /^(1|true|yes)$/i.test(Deno.env.get("MESA_SHADER_CACHE_DISABLE") ?? "");
  } catch {
    return false; // no --allow-env: assume Mesa's default, a cache
  }
}
