// Importing a PyTorch-style state_dict through a YAML name map: a fake state_dict
// with PyTorch names (Sequential indices, num_batches_tracked, an F16 tensor), every
// shape checked, one line per problem, and `deno task import` end to end.
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadModel } from "../../src/lang/model.ts";
import { parseOverride } from "../../src/lang/files.ts";
import {
  graphParams,
  ImportError,
  importWeights,
  mapName,
  parseNameMap,
  writeImported,
} from "../../src/formats/import_weights.ts";
import { resolveModel } from "../../src/infer/mod.ts";
import { command } from "../commands.ts";
import {
  parseSafetensors,
  serializeSafetensors,
  type Tensor,
  writeSafetensors,
} from "../../src/formats/safetensors.ts";

const GRAPH = "graphs/drgan-small.yaml";
const SET = ["size=16", "width=0.125", "Nd=5"];
const model = loadModel(GRAPH, SET.map(parseOverride));

const MAP = `# a PyTorch DR-GAN generator's names -> this project's
"*.num_batches_tracked": null
"G.enc.*.0.weight": "encoder.*.conv.weight"
"G.enc.*.1.*": "encoder.*.bn.*"
"G.dec.fc.*": "decoder.fc.*"
"G.dec.fconv11.weight": "decoder.fconv11.weight"
"G.dec.*.0.weight": "decoder.*.deconv.weight"
"G.dec.*.1.*": "decoder.*.bn.*"
`;

/** Our name -> the name a PyTorch module with Sequential(conv, bn) blocks would use. */
function torchName(ours: string): string {
  const [net, ...rest] = ours.split(".");
  const prefix = net === "encoder" ? "G.enc" : "G.dec";
  const path = rest.join(".")
    .replace(/\.(conv|deconv)\.weight$/, ".0.weight")
    .replace(/\.bn\./, ".1.");
  return `${prefix}.${path}`;
}

/** A state_dict of the generator as PyTorch would save it (through safetensors bytes). */
function fakeStateDict(): Map<string, Tensor> {
  const out: Record<
    string,
    { dtype?: "F16" | "I64" | "F32"; shape: number[]; data: Float32Array | BigInt64Array }
  > = {};
  let k = 0;
  for (const [name, shape] of graphParams(model)) {
    if (name.startsWith("discriminator.")) continue;
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, (_, i) => Math.sin(++k + i) / 4);
    out[torchName(name)] = { shape, data, ...(name.endsWith("fc.bias") ? { dtype: "F16" } : {}) };
    if (name.endsWith("bn.running_var")) {
      out[torchName(name).replace("running_var", "num_batches_tracked")] = {
        dtype: "I64",
        shape: [],
        data: BigInt64Array.of(7n),
      };
    }
  }
  return parseSafetensors(serializeSafetensors(out), "sd.safetensors").tensors;
}

Deno.test("name maps: wildcards fill in order, null skips, first match wins, bad rules listed", () => {
  const rules = parseNameMap(MAP, "map.yaml");
  assert.equal(mapName(rules, "G.enc.conv11.1.running_mean")!.to, "encoder.conv11.bn.running_mean");
  assert.equal(mapName(rules, "G.dec.fconv11.weight")!.to, "decoder.fconv11.weight");
  assert.equal(mapName(rules, "G.enc.conv11.1.num_batches_tracked")!.to, null);
  assert.equal(mapName(rules, "D.fc.weight"), undefined);
  assert.equal(rules[1].at, "map.yaml:3:1");
  assert.throws(
    () => parseNameMap(`a: 3\n"x.*": "y.*.*"\n`, "m.yaml"),
    (e: Error) =>
      e instanceof ImportError &&
      /m\.yaml is not a usable name map \(2 problems\):\n {2}- m\.yaml:1:1: the target of "a" must be a name pattern or null\n {2}- m\.yaml:2:1: "y\.\*\.\*" has 2 '\*' but "x\.\*" only 1/
        .test(e.message),
  );
  assert.throws(() => parseNameMap("- a\n", "l.yaml"), /l\.yaml: a name map is a YAML mapping/);
});

Deno.test("a PyTorch-style state_dict imports with every shape checked, into a loadable model folder", async () => {
  const sd = fakeStateDict();
  const r = importWeights(model, sd, parseNameMap(MAP, "map.yaml"), "sd.safetensors");
  assert.deepEqual(r.networks, ["encoder", "decoder"]);
  assert.equal(r.mapped.length, 70 + 68);
  assert.equal(r.skipped.length, 27, "one num_batches_tracked per batch norm");
  assert.deepEqual(r.unused, []);
  const w = r.weights.get("encoder.conv23.bn.running_var")!;
  assert.deepEqual(w.data, sd.get("G.enc.conv23.1.running_var")!.data);
  // F16 is widened to f32.
  const bias = r.weights.get("decoder.fc.bias")!.data;
  assert.ok(Math.abs(bias[0] - (sd.get("G.dec.fc.bias")!.data as Float32Array)[0]) < 1e-6);

  const out = join(await Deno.makeTempDir(), "imported");
  writeImported(out, r, {
    graph: GRAPH,
    overrides: SET,
    source: "sd.safetensors",
    map: "map.yaml",
  });
  const loaded = resolveModel({ run: out });
  assert.equal(loaded.step, 0);
  for (const [name, t] of r.weights) assert.deepEqual(loaded.weights.get(name)!.data, t.data);
  assert.throws(
    () => writeImported(out, r, { graph: GRAPH, overrides: SET, source: "s", map: "m" }),
    /exists already/,
  );
});

Deno.test("every mismatch is one line: shape, unmapped, unknown target with a suggestion, duplicate, missing", () => {
  const sd = fakeStateDict();
  sd.set("G.enc.conv12.0.weight", {
    dtype: "F32",
    shape: [9, 4, 3, 3],
    data: new Float32Array(324),
  });
  sd.set("G.head.weight", { dtype: "F32", shape: [2], data: new Float32Array(2) });
  sd.set("G.enc.conv99.0.weight", { dtype: "F32", shape: [1], data: new Float32Array(1) });
  sd.delete("G.dec.fconv21.1.bias");
  const rules = parseNameMap(
    MAP + `"G.dec.fcc.*": "decoder.fc.*"\n"G.enc.conv11.1.bias": "decoder.fc.bias"\n`,
    "map.yaml",
  );
  sd.set("G.dec.fcc.weight", sd.get("G.dec.fc.weight")!);
  assert.throws(
    () => importWeights(model, sd, rules, "sd.safetensors"),
    (e: Error) => {
      assert.ok(e instanceof ImportError);
      const lines = e.message.split("\n");
      assert.match(
        lines[0],
        /^sd\.safetensors does not fit graphs\/drgan-small\.yaml \(5 problems\):$/,
      );
      const body = lines.slice(1).join("\n");
      assert.match(
        body,
        /"G\.enc\.conv12\.0\.weight" -> "encoder\.conv12\.conv\.weight" \(map\.yaml:3:1\): shape \[9, 4, 3, 3\], the graph needs \[8, 4, 3, 3\]/,
      );
      assert.match(body, /"G\.head\.weight" \[2\] matches no rule/);
      assert.match(
        body,
        /"G\.enc\.conv99\.0\.weight" -> "encoder\.conv99\.conv\.weight" .*: not a parameter of graphs\/drgan-small\.yaml; did you mean/,
      );
      assert.match(
        body,
        /"G\.dec\.fcc\.weight" -> "decoder\.fc\.weight" .*: "G\.dec\.fc\.weight" maps there too/,
      );
      assert.match(body, /"decoder\.fconv21\.bn\.bias" \[8\] receives no tensor/);
      assert.equal(lines.length, 6);
      return true;
    },
  );
  // A decoder-less state_dict is fine for the encoder alone; one without the encoder is not.
  const encOnly = new Map([...fakeStateDict()].filter(([k]) => k.startsWith("G.enc")));
  assert.deepEqual(importWeights(model, encOnly, parseNameMap(MAP, "m")).networks, ["encoder"]);
  const decOnly = new Map([...fakeStateDict()].filter(([k]) => k.startsWith("G.dec")));
  assert.throws(
    () => importWeights(model, decOnly, parseNameMap(MAP, "m")),
    /no tensor maps to the encoder/,
  );
});

Deno.test("deno task import: writes a model folder; a bad map exits 1 with the problems, writes nothing", async () => {
  const dir = await Deno.makeTempDir();
  const sdPath = join(dir, "sd.safetensors"), mapPath = join(dir, "map.yaml");
  writeSafetensors(sdPath, fakeStateDict());
  Deno.writeTextFileSync(mapPath, MAP);
  const cli = (...args: string[]) => command("import", args);
  const common = [
    GRAPH,
    ...SET.flatMap((s) => ["--set", s]),
    "--weights",
    sdPath,
    "--map",
    mapPath,
  ];
  const ok = await cli(...common, "--out", join(dir, "model"));
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /imported 138 tensors into encoder, decoder \(skipped 27\)/);
  assert.ok(Deno.statSync(join(dir, "model", "checkpoints", "step-0000000.safetensors")).isFile);

  Deno.writeTextFileSync(mapPath, MAP.replace('"G.dec.*.1.*": "decoder.*.bn.*"\n', ""));
  const bad = await cli(...common, "--out", join(dir, "model2"));
  assert.equal(bad.code, 1);
  assert.match(
    bad.stderr,
    /^error: .*sd\.safetensors does not fit .*\(\d+ problems\):\n {2}- "G\.dec\./,
  );
  assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");
  assert.throws(() => Deno.statSync(join(dir, "model2")));
  const other = await cli(
    ...common.slice(0, -4),
    "--weights",
    mapPath,
    "--map",
    mapPath,
    "--out",
    join(dir, "m3"),
  );
  assert.equal(other.code, 1);
  assert.match(other.stderr, /^error: .*map\.yaml: header length .*\n$/);

  // --out may not be an input; replacing another file is said.
  Deno.writeTextFileSync(mapPath, MAP);
  const before = Deno.readFileSync(sdPath);
  const self = await cli(...common, "--out", sdPath);
  assert.equal(self.code, 1);
  assert.match(self.stderr, /^error: --out .*sd\.safetensors is the --weights file itself/);
  assert.deepEqual(Deno.readFileSync(sdPath), before);
  const file = join(dir, "w.safetensors");
  Deno.writeTextFileSync(file, "old");
  const replaced = await cli(...common, "--out", file);
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.match(replaced.stderr, /^replaced .*w\.safetensors$/m);
});

Deno.test("name maps with tables: a Sequential index becomes a layer name", async () => {
  const dir = await Deno.makeTempDir();
  try {
    Deno.writeTextFileSync(
      join(dir, "net.yaml"),
      `inputs: { x: [B, 3, 8, 8] }
layers:
  conv1: { op: conv2d, out: 4, kernel: 3 }
  bn1: { op: batch_norm }
  act1: { op: elu }
  conv2: { op: conv2d, out: 8, kernel: 3, stride: 2 }
  bn2: { op: batch_norm }
`,
    );
    const net = loadModel(join(dir, "net.yaml"));
    // nn.Sequential(conv, bn, elu, conv, bn): indices 0, 1, 3, 4
    const seq: Record<string, string> = { conv1: "0", bn1: "1", conv2: "3", bn2: "4" };
    const sd: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [name, shape] of graphParams(net)) {
      const [, layer, param] = name.split(".");
      const n = shape.reduce((a, b) => a * b, 1);
      sd[`features.${seq[layer]}.${param}`] = {
        shape,
        data: Float32Array.from({ length: n }, (_, i) => i / n),
      };
    }
    sd["features.1.num_batches_tracked"] = { shape: [], data: new Float32Array(1) };
    const rules = parseNameMap(
      `tables:
  seq: { 0: conv1, 1: bn1, 3: conv2, 4: bn2 }
rules:
  "*.num_batches_tracked": null
  "features.*.*": "net.{seq}.*"
`,
      "seq.yaml",
    );
    const tensors = parseSafetensors(serializeSafetensors(sd), "sd.safetensors").tensors;
    const r = importWeights(net, tensors, rules, "sd.safetensors");
    assert.equal(r.mapped.length, graphParams(net).size);
    assert.deepEqual(r.skipped, ["features.1.num_batches_tracked"]);
    assert.deepEqual(
      r.mapped.find((m) => m.from === "features.3.weight"),
      { from: "features.3.weight", to: "net.conv2.weight" },
    );
    assert.deepEqual([...r.weights.get("net.bn2.running_var")!.data], [
      ...sd["features.4.running_var"].data,
    ]);

    // An index the table lacks is one line of the report.
    sd["features.9.weight"] = { shape: [1], data: new Float32Array(1) };
    const more = parseSafetensors(serializeSafetensors(sd), "sd.safetensors").tensors;
    assert.throws(
      () => importWeights(net, more, rules, "sd.safetensors"),
      (e: Error) =>
        e instanceof ImportError &&
        /"features\.9\.weight" \(seq\.yaml:\d+:\d+\): 9 is not in table "seq"/.test(e.message),
    );
    // A table the map does not define, and a target with more slots than captures.
    assert.throws(
      () =>
        parseNameMap(
          `rules:\n  "a.*": "b.{nope}"\n  "c.*": "d.{t}.*"\ntables: { t: { 0: x } }\n`,
          "m.yaml",
        ),
      (e: Error) =>
        e instanceof ImportError &&
        /uses table "nope", which the map does not define \(tables: t\)/.test(e.message) &&
        /"d\.\{t\}\.\*" has 2 '\*' and \{table\} slots but "c\.\*" only 1 to fill them/.test(
          e.message,
        ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task import: several --weights files at once (a generator's and a discriminator's)", async () => {
  const dir = await Deno.makeTempDir();
  const sd = fakeStateDict();
  const part = (keep: (n: string) => boolean) =>
    Object.fromEntries([...sd].filter(([n]) => keep(n)).map(([n, t]) => [n, t]));
  const enc = join(dir, "enc.safetensors"), dec = join(dir, "dec.safetensors");
  writeSafetensors(enc, part((n) => n.startsWith("G.enc")));
  writeSafetensors(dec, part((n) => !n.startsWith("G.enc")));
  const mapPath = join(dir, "map.yaml");
  Deno.writeTextFileSync(mapPath, MAP);
  const common = [GRAPH, ...SET.flatMap((s) => ["--set", s]), "--map", mapPath];
  const ok = await command("import", [
    ...common,
    "--weights",
    enc,
    "--weights",
    dec,
    "--out",
    join(dir, "model"),
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /imported 138 tensors into encoder, decoder \(skipped 27\)/);
  const twice = await command("import", [
    ...common,
    "--weights",
    enc,
    "--weights",
    enc,
    "--out",
    join(dir, "m2"),
  ]);
  assert.equal(twice.code, 1);
  assert.match(
    twice.stderr,
    /^error: "G\.enc\.\S+" is in both .*enc\.safetensors and .*enc\.safetensors/,
  );
});

/**
 * The state_dict names and shapes of github.com/kayamin/DR-GAN's single-image model,
 * transcribed from model/single_DR_GAN_model.py: C conv (in-out, no bias), T transposed
 * conv, B batch norm, E ELU, P ZeroPad2d, X Crop, A AvgPool2d, H Tanh.
 */
const KAYAMIN_ENC = "C3-32 B E C32-64 B E P C64-64 B E C64-64 B E C64-128 B E P C128-128 B E " +
  "C128-96 B E C96-192 B E P C192-192 B E C192-128 B E C128-256 B E P C256-256 B E C256-160 B E " +
  "C160-320 B E A";
const KAYAMIN_DEC = "T320-160 B E T160-256 B E T256-256 B E X T256-128 B E T128-192 B E " +
  "T192-192 B E X T192-96 B E T96-128 B E T128-128 B E X T128-64 B E T64-64 B E T64-64 B E X " +
  "T64-32 B E T32-3 H";

function sequential(prefix: string, spec: string) {
  const out: Record<
    string,
    { dtype?: "I64"; shape: number[]; data: Float32Array | BigInt64Array }
  > = {};
  const zeros = (shape: number[]) => ({
    shape,
    data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
  });
  let channels = 0;
  spec.split(" ").forEach((m, i) => {
    const [a, b] = m.slice(1).split("-").map(Number);
    if (m[0] === "C") out[`${prefix}.${i}.weight`] = zeros([b, a, 3, 3]);
    if (m[0] === "T") out[`${prefix}.${i}.weight`] = zeros([a, b, 3, 3]);
    if (m[0] === "C" || m[0] === "T") channels = b;
    if (m[0] === "B") {
      for (const p of ["weight", "bias", "running_mean", "running_var"]) {
        out[`${prefix}.${i}.${p}`] = zeros([channels]);
      }
      out[`${prefix}.${i}.num_batches_tracked`] = {
        dtype: "I64",
        shape: [],
        data: new BigInt64Array(1),
      };
    }
  });
  return out;
}

Deno.test("docs/import/kayamin-drgan.yaml maps the public PyTorch DR-GAN onto graphs/drgan.yaml", () => {
  const paper = loadModel("graphs/drgan.yaml");
  const G = {
    ...sequential("G_enc_convLayers", KAYAMIN_ENC),
    ...sequential("G_dec_convLayers", KAYAMIN_DEC),
    "G_dec_fc.weight": { shape: [320 * 36, 320 + 13 + 50], data: new Float32Array(11520 * 383) },
    "G_dec_fc.bias": { shape: [320 * 36], data: new Float32Array(11520) },
  };
  const D = {
    ...sequential("convLayers", KAYAMIN_ENC),
    "fc.weight": { shape: [200 + 1 + 13, 320], data: new Float32Array(214 * 320) },
    "fc.bias": { shape: [214], data: new Float32Array(214) },
  };
  const tensors = new Map([
    ...parseSafetensors(serializeSafetensors(G), "G.safetensors").tensors,
    ...parseSafetensors(serializeSafetensors(D), "D.safetensors").tensors,
  ]);
  const rules = parseNameMap(
    Deno.readTextFileSync("docs/import/kayamin-drgan.yaml"),
    "docs/import/kayamin-drgan.yaml",
  );
  const r = importWeights(paper, tensors, rules, "G.safetensors + D.safetensors");
  assert.deepEqual(r.networks, ["encoder", "decoder", "discriminator"]);
  assert.equal(r.mapped.length, graphParams(paper).size, "every parameter of the graph");
  assert.equal(r.skipped.length, 14 + 13 + 14, "num_batches_tracked of each batch norm");
  assert.deepEqual(r.unused, []);
});
