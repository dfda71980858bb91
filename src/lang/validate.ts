// zod issues turned into located messages.
import type { z } from "../deps.ts";
import { type Diagnostics, excerpt } from "./diagnostics.ts";
import { carryLocs, locOf } from "./source.ts";
import { didYouMean } from "./suggest.ts";

/** Walks `root` along `path`, returning the container and key that the path ends at. */
function container(root: unknown, path: PropertyKey[]): [unknown, string | number | undefined] {
  let obj = root;
  for (let i = 0; i < path.length - 1; i++) {
    const next = (obj as Record<string, unknown>)?.[path[i] as string];
    if (typeof next !== "object" || next === null) return [obj, path[i] as string];
    obj = next;
  }
  return [obj, path.length ? (path[path.length - 1] as string | number) : undefined];
}

function describe(path: PropertyKey[]): string {
  return path.length ? `'${path.join(".")}': ` : "";
}

/**
 * Validates `value`; reports each issue at its YAML node. `known(path)` lists the keys
 * allowed at an object path, for "did you mean" hints on unknown keys.
 */
export function validate<T>(
  schema: z.ZodType<T>,
  value: unknown,
  diags: Diagnostics,
  known: (path: PropertyKey[]) => string[] = () => [],
  root: unknown = value,
  prefix: PropertyKey[] = [],
): T | undefined {
  const r = schema.safeParse(value);
  if (r.success) {
    carryLocs(value, r.data); // zod returns fresh objects: keep where each value was written
    return r.data;
  }
  // A file none of whose keys a graph has is some other file: say so once, rather
  // than quote each of its lines back as an unknown key.
  const top = known([]);
  if (
    !prefix.length && top.length && typeof value === "object" && value !== null &&
    !Object.keys(value).some((k) => top.includes(k))
  ) {
    diags.error(locOf(value), `not a graph file (a graph has some of: ${top.join(", ")})`);
    return undefined;
  }
  for (const issue of r.error.issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      const [obj] = container(root, [...path, ""]);
      for (const key of issue.keys) {
        diags.error(
          locOf(obj, key, "key"),
          `${describe(path)}unknown key '${excerpt(key)}'${didYouMean(key, known(path))}`,
        );
      }
      continue;
    }
    const [obj, key] = container(root, path);
    diags.error(locOf(obj, key), `${describe(path)}${lower(issue.message)}`);
  }
  return undefined;
}

function lower(m: string): string {
  return m.charAt(0).toLowerCase() + m.slice(1);
}
