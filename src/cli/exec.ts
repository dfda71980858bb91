// `deno task exec GRAPH.yaml --inputs in.safetensors [--weights w.safetensors]
//   [--train] [--grad upstream.safetensors] --out out.safetensors`
import { loadModel } from "../lang/model.ts";
import { parseOverride } from "../lang/files.ts";
import { gradName } from "../plan/program.ts";
import { compile, type PlanProgram } from "../plan/plan.ts";
import { didYouMean } from "../lang/suggest.ts";
import type { TypedNetwork } from "../lang/ir.ts";
import { numel } from "../ops/wgsl.ts";
import { openGpu } from "../engine/device.ts";
import { targetFor } from "../tune/target.ts";
import { Executor } from "../engine/executor.ts";
import { initParams } from "../train/params.ts";
import { listProblems } from "../infer/weights.ts";
import {
  readSafetensors,
  type Tensor,
  toFloat32,
  writeSafetensors,
} from "../formats/safetensors.ts";
import { parseArgs, runMain, UsageError, UserError } from "./args.ts";

const USAGE = `usage: deno task exec GRAPH.yaml --inputs IN.safetensors --out OUT.safetensors
  [--weights W.safetensors] [--train] [--grad UPSTREAM.safetensors] [--network NAME]
  [--seed N] [--set NAME=VALUE ...] [--debug]`;

runMain(USAGE, async (argv) => {
  const args = parseArgs(argv, {
    strings: ["inputs", "weights", "grad", "out", "network"],
    numbers: ["seed"],
    bools: ["train", "debug"],
    multi: ["set"],
  });
  if (args.positional.length !== 1) throw new UsageError("expected one graph file");
  const inputsPath = args.strings.inputs, outPath = args.strings.out;
  if (!inputsPath) throw new UsageError("--inputs is required");
  if (!outPath) throw new UsageError("--out is required");
  const model = loadModel(args.positional[0], args.multi.set.map(parseOverride));
  const net = pickNetwork(model.networks, args.strings.network);

  const inputs = readSafetensors(inputsPath).tensors;
  const batch = batchOf(net, inputs, inputsPath);
  const upstream = args.strings.grad ? readSafetensors(args.strings.grad).tensors : undefined;
  const gpu = await openGpu();
  const plan = compile(net, {
    batch,
    training: args.bools.train,
    backwardFrom: upstream ? [...upstream.keys()].map((k) => k.replace(/^grad\./, "")) : undefined,
    inputGrads: upstream ? net.inputs.map((i) => i.name) : undefined,
    target: targetFor(gpu),
  });
  const program = plan.programs[0];
  const values = new Map<string, Float32Array<ArrayBuffer>>();
  for (const i of net.inputs) values.set(i.name, checked(inputs, i.name, program, inputsPath));
  extra(inputs, net.inputs.map((i) => i.name), inputsPath);
  if (upstream) {
    const outs = Object.keys(program.outputs);
    for (const [k] of upstream) {
      const o = k.replace(/^grad\./, "");
      if (!outs.includes(o)) {
        throw new UserError(
          `${args.strings.grad}: tensor "${k}" names no output of ${net.name}` +
            `${didYouMean(o, outs)} (outputs: ${outs.join(", ")})`,
        );
      }
      values.set(
        gradName(program.outputs[o]),
        checkedAs(upstream, k, program.outputs[o], program, args.strings.grad!),
      );
    }
  }
  if (args.strings.weights) {
    const w = readSafetensors(args.strings.weights).tensors;
    const unused = takeParams(w, program, net.name, args.strings.weights, values);
    if (unused.length) {
      console.error(
        `note: ${args.strings.weights}: ${unused.length} tensors not used by ${net.name} ` +
          `(${unused.slice(0, 3).map((n) => `"${n}"`).join(", ")}${
            unused.length > 3 ? ", ..." : ""
          })`,
      );
    }
  } else {
    for (const [k, v] of initParams(program, args.numbers.seed ?? 0)) values.set(k, v);
  }

  const exec = await Executor.create(gpu, plan);
  for (const [k, v] of values) exec.write(k, v);
  exec.run({ backward: Boolean(upstream) });
  const wanted: [string, string][] = Object.entries(program.outputs).map(([o, t]) => [o, t]);
  if (upstream) {
    for (const t of Object.values(program.tensors)) {
      if (t.kind !== "grad") continue;
      const of = t.name.slice("grad.".length);
      const kind = program.tensors[of]?.kind;
      if (kind === "param" || kind === "input") wanted.push([t.name, t.name]);
    }
  }
  if (args.bools.train) {
    for (const p of program.params) {
      if (program.tensors[p].kind === "state") wanted.push([p, p]);
    }
  }
  const got = await exec.read(wanted.map(([, t]) => t));
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of wanted) {
    out[name] = { shape: program.tensors[t].shape, data: got.get(t)! };
  }
  writeSafetensors(outPath, out, {
    graph: args.positional[0],
    network: net.name,
    adapter: gpu.description,
  });
  console.error(`wrote ${wanted.length} tensors to ${outPath} (${gpu.description})`);
});

function pickNetwork(nets: TypedNetwork[], name?: string): TypedNetwork {
  if (!name) {
    if (nets.length === 1) return nets[0];
    throw new UsageError(
      `this graph has several networks: pick one with --network (${
        nets.map((n) => n.name).join(", ")
      })`,
    );
  }
  const n = nets.find((x) => x.name === name);
  if (!n) {
    throw new UsageError(`no network '${name}'${didYouMean(name, nets.map((x) => x.name))}`);
  }
  return n;
}

function batchOf(net: TypedNetwork, tensors: Map<string, Tensor>, file: string): number {
  const first = net.inputs.find((i) => tensors.has(i.name));
  if (!first) {
    throw new UserError(
      `${file}: none of the inputs ${net.inputs.map((i) => `"${i.name}"`).join(", ")} is present`,
    );
  }
  const b = tensors.get(first.name)!.shape[0];
  if (!Number.isInteger(b) || b < 1) {
    throw new UserError(`${file}: tensor "${first.name}" has no batch dimension`);
  }
  return b;
}

/**
 * The network's parameters from a weights file that may hold more (a whole checkpoint):
 * every missing or misshapen one reported together, with the naming rule. Returns the
 * names the file holds that the network does not use.
 */
function takeParams(
  w: Map<string, Tensor>,
  program: PlanProgram,
  network: string,
  file: string,
  into: Map<string, Float32Array<ArrayBuffer>>,
): string[] {
  const problems: string[] = [];
  for (const p of program.params) {
    const t = w.get(p);
    const want = program.tensors[p].shape;
    if (!t) problems.push(`missing "${p}" [${want}]`);
    else if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      problems.push(`"${p}" has shape [${t.shape}], the graph needs [${want}]`);
    } else into.set(p, toFloat32(t) as Float32Array<ArrayBuffer>);
  }
  if (problems.length) {
    const state = program.params.some((p) => program.tensors[p].kind === "state");
    const head = `${file} does not fit ${network}, whose ${program.params.length} parameters ` +
      `are named ${network}.<layer>.<parameter>` +
      (state ? ` (batch norm's running statistics included)` : "");
    throw new UserError(listProblems(head, problems, 20));
  }
  const needed = new Set(program.params);
  return [...w.keys()].filter((k) => !needed.has(k));
}

function checked(tensors: Map<string, Tensor>, name: string, program: PlanProgram, file: string) {
  return checkedAs(tensors, name, name, program, file);
}

/** The tensor `key` of a file, checked against the shape of program tensor `as`. */
function checkedAs(
  tensors: Map<string, Tensor>,
  key: string,
  as: string,
  program: PlanProgram,
  file: string,
) {
  const t = tensors.get(key);
  if (!t) {
    throw new UserError(`${file}: missing tensor "${key}"${didYouMean(key, tensors.keys())}`);
  }
  const want = program.tensors[as].shape;
  if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
    throw new UserError(`${file}: tensor "${key}" has shape [${t.shape}], expected [${want}]`);
  }
  const data = toFloat32(t);
  if (data.length !== numel(want)) {
    throw new UserError(`${file}: tensor "${key}" has the wrong size`);
  }
  return data as Float32Array<ArrayBuffer>;
}

function extra(tensors: Map<string, Tensor>, known: string[], file: string) {
  const unknown = [...tensors.keys()].filter((k) => !known.includes(k));
  if (unknown.length) {
    throw new UserError(
      `${file}: unexpected tensor "${unknown[0]}"${didYouMean(unknown[0], known)}`,
    );
  }
}
