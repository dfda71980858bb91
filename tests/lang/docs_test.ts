// The op reference in docs/graph-language.md is generated from the op definitions;
// this fails when an op changes (or one is added) without regenerating it.
import assert from "node:assert/strict";
import { BEGIN, END, withReference } from "../../src/ops/reference_doc.ts";

const PATH = "docs/graph-language.md";

Deno.test("docs: the op reference in docs/graph-language.md is up to date", () => {
  const doc = Deno.readTextFileSync(PATH);
  assert.ok(
    doc.includes(BEGIN) && doc.includes(END),
    `${PATH} lacks the markers ${BEGIN} / ${END}`,
  );
  const section = (d: string) => d.slice(d.indexOf(BEGIN), d.indexOf(END) + END.length);
  assert.equal(
    section(doc),
    section(withReference(doc)),
    `the op reference in ${PATH} is out of date: run \`deno task docs\``,
  );
});

Deno.test("docs: every op of the registry is documented", async () => {
  const { OPS } = await import("../../src/ops/registry.ts");
  const doc = Deno.readTextFileSync(PATH);
  for (const name of Object.keys(OPS)) {
    assert.ok(doc.includes(`### \`${name}\``), `${name} is missing: run \`deno task docs\``);
  }
});
