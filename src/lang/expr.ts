// Arithmetic on parameters: "$Nd + 1 + $Np", "$width * 64", "$multi ? 321 : 320", and
// lists where an attribute takes one: "$stride == 2 ? [0, 0, 1, 1] : 1".

export type Value = number | boolean | string | Value[];

export class ExprError extends Error {}

const FUNCS: Record<string, (...a: number[]) => number> = {
  min: Math.min,
  max: Math.max,
  floor: Math.floor,
  ceil: Math.ceil,
  round: Math.round,
  abs: Math.abs,
  int: Math.trunc,
};

/** A string is an expression when it mentions a parameter. */
export function isExpr(v: unknown): v is string {
  return typeof v === "string" && v.includes("$");
}

const MAX_DEPTH = 100;

/** Equality by value: two lists are equal when their items are. */
function same(a: Value, b: Value): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((x, i) => same(x, b[i]));
  }
  return a === b;
}

type Tok = { t: "num"; v: number } | { t: "var" | "id" | "op"; v: string };

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  const re =
    /\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)|\$([A-Za-z_][\w]*)|([A-Za-z_]\w*)|(\/\/|==|!=|<=|>=|&&|\|\||[-+*/%()<>!?:,[\]]))/y;
  let i = 0;
  while (i < src.length) {
    if (/^\s*$/.test(src.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m) throw new ExprError(`unexpected '${src.slice(i).trim()[0]}' in expression '${src}'`);
    if (m[1] !== undefined) out.push({ t: "num", v: Number(m[1]) });
    else if (m[2] !== undefined) out.push({ t: "var", v: m[2] });
    else if (m[3] !== undefined) out.push({ t: "id", v: m[3] });
    else out.push({ t: "op", v: m[4] });
    i = re.lastIndex;
  }
  return out;
}

/** Evaluates `src` with `lookup` giving parameter values (it throws for unknown names). */
export function evaluate(src: string, lookup: (name: string) => Value): Value {
  const toks = lex(src);
  let k = 0;
  const peek = () => toks[k];
  const isOp = (v: string) => peek()?.t === "op" && peek().v === v;
  const expect = (v: string) => {
    if (!isOp(v)) throw new ExprError(`expected '${v}' in expression '${src}'`);
    k++;
  };
  const num = (v: Value, op: string): number => {
    if (typeof v !== "number") {
      throw new ExprError(`'${op}' needs numbers, got ${JSON.stringify(v)} in '${src}'`);
    }
    return v;
  };
  // Parentheses and prefix operators recurse: bound the depth so that a hostile
  // expression gets a message instead of overflowing the stack.
  let depth = 0;
  const nested = <T>(f: () => T): T => {
    if (++depth > MAX_DEPTH) {
      throw new ExprError(`expression nested more than ${MAX_DEPTH} levels deep`);
    }
    const v = f();
    depth--;
    return v;
  };
  const ternary = (): Value =>
    nested(() => {
      const c = or();
      if (!isOp("?")) return c;
      k++;
      const a = ternary();
      expect(":");
      const b = ternary();
      return c ? a : b;
    });
  const or = (): Value => {
    let v = and();
    while (isOp("||")) {
      k++;
      const r = and();
      v = Boolean(v) || Boolean(r);
    }
    return v;
  };
  const and = (): Value => {
    let v = cmp();
    while (isOp("&&")) {
      k++;
      const r = cmp();
      v = Boolean(v) && Boolean(r);
    }
    return v;
  };
  const cmp = (): Value => {
    const a = add();
    const t = peek();
    if (t?.t !== "op" || !["==", "!=", "<", "<=", ">", ">="].includes(t.v)) return a;
    k++;
    const b = add();
    switch (t.v) {
      case "==":
        return same(a, b);
      case "!=":
        return !same(a, b);
      case "<":
        return num(a, t.v) < num(b, t.v);
      case "<=":
        return num(a, t.v) <= num(b, t.v);
      case ">":
        return num(a, t.v) > num(b, t.v);
      default:
        return num(a, t.v) >= num(b, t.v);
    }
  };
  const add = (): Value => {
    let v = mul();
    while (isOp("+") || isOp("-")) {
      const op = String(toks[k++].v);
      const r = mul();
      v = op === "+" ? num(v, op) + num(r, op) : num(v, op) - num(r, op);
    }
    return v;
  };
  const mul = (): Value => {
    let v = unary();
    while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
      const op = String(toks[k++].v);
      const a = num(v, op), b = num(unary(), op);
      if (op !== "*" && b === 0) throw new ExprError(`division by zero in '${src}'`);
      v = op === "*" ? a * b : op === "/" ? a / b : op === "//" ? Math.floor(a / b) : a % b;
    }
    return v;
  };
  const unary = (): Value =>
    nested(() => {
      if (isOp("-")) {
        k++;
        return -num(unary(), "-");
      }
      if (isOp("!")) {
        k++;
        return !unary();
      }
      return primary();
    });
  const primary = (): Value => {
    const t = toks[k++];
    if (!t) throw new ExprError(`expression '${src}' ends too early`);
    if (t.t === "num") return t.v;
    if (t.t === "var") return lookup(t.v);
    if (t.t === "id") {
      if (t.v === "true" || t.v === "false") return t.v === "true";
      const f = Object.hasOwn(FUNCS, t.v) ? FUNCS[t.v] : undefined;
      if (!f) {
        throw new ExprError(
          `unknown function '${t.v}' in '${src}' (known: ${Object.keys(FUNCS).join(", ")})`,
        );
      }
      expect("(");
      const args: number[] = [];
      if (!isOp(")")) {
        do args.push(num(ternary(), t.v)); while (isOp(",") && ++k);
      }
      expect(")");
      return f(...args);
    }
    if (t.v === "(") {
      const v = ternary();
      expect(")");
      return v;
    }
    if (t.v === "[") {
      const items: Value[] = [];
      if (!isOp("]")) {
        do items.push(ternary()); while (isOp(",") && ++k);
      }
      expect("]");
      return items;
    }
    throw new ExprError(`unexpected '${t.v}' in expression '${src}'`);
  };
  const v = ternary();
  if (k < toks.length) throw new ExprError(`unexpected '${toks[k].v}' in expression '${src}'`);
  return v;
}
