// The manifest of a real dataset: CSV lines "path, identity, pose[, illumination]".
// A header line names the columns; a "yaw" column holds degrees (-90..90), a "pose"
// column a class (0..12); without a header the third column is a class unless its
// value ends in "deg". Paths are relative to the manifest's folder. Blank lines and
// lines starting with # are skipped. Every error names the file and line.
import { DataError } from "./errors.ts";
import { NUM_POSES, poseOfYaw } from "./pose.ts";
import { READ_LIMITS, ReadError, readTextGuarded } from "../formats/read.ts";

export interface ManifestRow {
  /** 1-based line in the manifest */
  line: number;
  /** as written in the manifest */
  path: string;
  identity: string;
  pose: number;
  /** undefined when the manifest has no illumination column or leaves it empty */
  light?: number;
}

export interface BadLine {
  file: string;
  line: number;
  message: string;
}

export interface Manifest {
  rows: ManifestRow[];
  /** lines skipped under skipBad, each with its full message */
  bad: BadLine[];
}

/** Splits one CSV line; double quotes protect commas, "" is a quote. */
export function splitCSV(line: string): string[] {
  const out: string[] = [];
  let cur = "", quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      out.push(cur.trim());
      cur = "";
    } else cur += c;
  }
  if (quoted) throw new Error("unterminated quote");
  out.push(cur.trim());
  return out;
}

const HEADER_NAMES: Record<string, string> = {
  path: "path",
  file: "path",
  image: "path",
  identity: "identity",
  id: "identity",
  subject: "identity",
  pose: "pose",
  yaw: "yaw",
  illumination: "light",
  light: "light",
};

/** Parses manifest text; with skipBad, bad lines are collected instead of thrown. */
export function parseManifest(text: string, file: string, skipBad = false): Manifest {
  const rows: ManifestRow[] = [];
  const bad: BadLine[] = [];
  let cols: string[] | undefined;
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === "" || raw.startsWith("#")) continue;
    const line = i + 1;
    try {
      const fields = splitCSV(raw);
      const first = rows.length === 0 && bad.length === 0;
      if (!cols && first && HEADER_NAMES[fields[0].toLowerCase()] === "path") {
        cols = fields.map((f) => {
          const n = HEADER_NAMES[f.toLowerCase()];
          if (!n) {
            throw new Error(
              `unknown column '${f}' (expected path, identity, pose or yaw, illumination)`,
            );
          }
          return n;
        });
        for (const need of ["path", "identity"]) {
          if (!cols.includes(need)) throw new Error(`header has no '${need}' column`);
        }
        if (!cols.includes("pose") && !cols.includes("yaw")) {
          throw new Error("header has no 'pose' or 'yaw' column");
        }
        continue;
      }
      rows.push(parseRow(fields, cols ?? ["path", "identity", "pose", "light"], line, !cols));
    } catch (e) {
      const message = `${file}:${line}: ${(e as Error).message}`;
      if (!skipBad) throw new DataError(message);
      bad.push({ file, line, message });
    }
  }
  if (rows.length === 0 && bad.length === 0) {
    throw new DataError(`${file}:1: manifest is empty (expected lines of path, identity, pose)`);
  }
  return { rows, bad };
}

function parseRow(
  fields: string[],
  cols: string[],
  line: number,
  positional: boolean,
): ManifestRow {
  const min = positional ? 3 : cols.length;
  if (fields.length < min || fields.length > cols.length) {
    throw new Error(
      positional
        ? `expected 3 or 4 columns (path, identity, pose[, illumination]), got ${fields.length}`
        : `expected ${cols.length} columns (${cols.join(", ")}), got ${fields.length}`,
    );
  }
  const get = (name: string) => {
    const k = cols.indexOf(name);
    return k >= 0 && k < fields.length ? fields[k] : undefined;
  };
  const path = get("path")!;
  if (!path) throw new Error("empty path");
  const identity = get("identity")!;
  if (!identity) throw new Error("empty identity");
  let pose: number;
  const yawText = get("yaw");
  const poseText = get("pose");
  if (yawText !== undefined || (poseText !== undefined && /deg$/i.test(poseText))) {
    const t = (yawText ?? poseText!).replace(/\s*deg$/i, "");
    const deg = Number(t);
    if (t === "" || !Number.isFinite(deg)) throw new Error(`yaw '${t}' is not a number`);
    pose = poseOfYaw(deg);
    if (pose < 0) throw new Error(`yaw ${deg} is out of range -90..90 degrees`);
  } else {
    const t = poseText ?? "";
    const k = Number(t);
    if (t === "" || !Number.isInteger(k)) throw new Error(`pose '${t}' is not an integer class`);
    if (k < 0 || k >= NUM_POSES) {
      throw new Error(`pose class ${k} is out of range 0..${NUM_POSES - 1}`);
    }
    pose = k;
  }
  const lt = get("light");
  let light: number | undefined;
  if (lt !== undefined && lt !== "") {
    light = Number(lt);
    if (!Number.isInteger(light) || light < 0) {
      throw new Error(`illumination '${lt}' is not a non-negative integer`);
    }
  }
  return { line, path, identity, pose, light };
}

/** Reads and parses a manifest file; a missing file is a DataError naming it. */
export function readManifest(file: string, skipBad = false): Manifest {
  let text: string;
  try {
    text = readTextGuarded(file, { max: READ_LIMITS.manifest });
  } catch (e) {
    if (!(e instanceof ReadError)) throw e;
    if (e.reason === "not found") throw new DataError(`${file}: manifest not found`);
    throw new DataError(`${file}: cannot read manifest (${e.reason})`);
  }
  return parseManifest(text, file, skipBad);
}
