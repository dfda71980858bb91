// The expression evaluator of parameters: "$Nd + 1 + $Np", "$multi ? $Nf + 1 : $Nf".
import assert from "node:assert/strict";
import { evaluate, ExprError, isExpr, type Value } from "../../src/lang/expr.ts";

const VARS: Record<string, Value> = {
  size: 96,
  width: 0.25,
  Nf: 320,
  Nd: 200,
  Np: 13,
  multi: true,
  off: false,
  pad: "same",
};

function lookup(name: string): Value {
  if (name in VARS) return VARS[name];
  throw new ExprError(`unknown parameter $${name}`);
}

const ev = (src: string) => evaluate(src, lookup);

Deno.test("expr: numbers and parameters", () => {
  assert.equal(ev("42"), 42);
  assert.equal(ev("1.5"), 1.5);
  assert.equal(ev(".5 * 4"), 2);
  assert.equal(ev("1e3"), 1000);
  assert.equal(ev("2.5E-1"), 0.25);
  assert.equal(ev("$size"), 96);
  assert.equal(ev("  $Nd  +  1  "), 201);
  assert.equal(ev("$pad"), "same");
  assert.equal(ev("true"), true);
  assert.equal(ev("false"), false);
});

Deno.test("expr: precedence and associativity", () => {
  assert.equal(ev("2 + 3 * 4"), 14);
  assert.equal(ev("(2 + 3) * 4"), 20);
  assert.equal(ev("2 - 3 - 4"), -5);
  assert.equal(ev("12 / 4 / 3"), 1);
  assert.equal(ev("2 * 3 % 4"), 2);
  assert.equal(ev("-2 * 3"), -6);
  assert.equal(ev("- -2"), 2);
  assert.equal(ev("2 * -3"), -6);
  assert.equal(ev("$Nd + 1 + $Np"), 214);
  assert.equal(ev("$width * 320"), 80);
  assert.equal(ev("$size // 16"), 6);
  assert.equal(ev("7 // 2"), 3);
  assert.equal(ev("-7 // 2"), -4, "floor division rounds down");
  assert.equal(ev("7 % 3"), 1);
  assert.equal(ev("7 / 2"), 3.5);
  assert.equal(ev("1 + 2 * 3 == 7"), true);
  assert.equal(ev("$size / 16 >= 6 && $Nd != 200"), false);
  assert.equal(ev("1 > 2 || 2 > 1"), true);
  assert.equal(ev("1 < 2 && 2 < 3 || false"), true);
  assert.equal(ev("!$multi"), false);
  assert.equal(ev("!$off && $multi"), true);
  assert.equal(ev("$pad == $pad"), true, "strings compare (there are no string literals)");
  assert.equal(ev("$multi == 1"), false, "== does not convert");
});

Deno.test("expr: ternary", () => {
  assert.equal(ev("$multi ? $Nf + 1 : $Nf"), 321);
  assert.equal(ev("$off ? $Nf + 1 : $Nf"), 320);
  // right-associative: a ? b : (c ? d : e)
  assert.equal(ev("$off ? 1 : $multi ? 2 : 3"), 2);
  assert.equal(ev("$off ? 1 : $off ? 2 : 3"), 3);
  assert.equal(ev("$multi ? $off ? 1 : 2 : 3"), 2);
  // binds looser than everything else
  assert.equal(ev("$size > 64 ? $size // 16 : 4"), 6);
  assert.equal(ev("($multi ? 1 : 2) + 10"), 11);
});

Deno.test("expr: functions", () => {
  assert.equal(ev("min(3, 1, 2)"), 1);
  assert.equal(ev("max(3, 1, 2)"), 3);
  assert.equal(ev("floor(2.7)"), 2);
  assert.equal(ev("ceil(2.1)"), 3);
  assert.equal(ev("round(2.5)"), 3);
  assert.equal(ev("abs(-3)"), 3);
  assert.equal(ev("int(-2.7)"), -2, "int truncates toward zero");
  assert.equal(ev("min(max(1, 2), 3) * 2"), 4);
  assert.equal(ev("max(1, $width * 320 // 3)"), 26);
  assert.equal(ev("ceil($size / 7) + 1"), 15);
});

function fails(src: string, re: RegExp) {
  assert.throws(() => ev(src), (e: unknown) => {
    assert.ok(e instanceof ExprError, `'${src}' threw ${e}, not an ExprError`);
    assert.match(e.message, re);
    return true;
  }, `'${src}' should fail`);
}

Deno.test("expr: errors", () => {
  fails("$widht * 2", /^unknown parameter \$widht$/);
  fails("1 / 0", /division by zero in '1 \/ 0'/);
  fails("1 // ($size - 96)", /division by zero/);
  fails("5 % 0", /division by zero/);
  fails("sqrt(4)", /unknown function 'sqrt'.*known: min, max, floor, ceil, round, abs, int/);
  fails("2 +", /ends too early/);
  fails("(2 + 3", /expected '\)'/);
  fails("min(1, 2", /expected '\)'/);
  fails("max 1", /expected '\('/);
  fails("2 3", /unexpected '3'/);
  fails("2 @ 3", /unexpected '@'/);
  fails("$ + 1", /unexpected '\$'/);
  fails("* 2", /unexpected '\*'/);
  fails("1 < 2 < 3", /unexpected '<'/);
  fails("$multi ? 1", /expected ':'/);
  fails("$multi + 1", /'\+' needs numbers, got true/);
  fails("$pad * 2", /'\*' needs numbers, got "same"/);
  fails("-$multi", /'-' needs numbers/);
  fails("1 < $multi", /'<' needs numbers/);
  fails("floor($off)", /'floor' needs numbers/);
});

Deno.test("expr: a string is an expression when it mentions a parameter", () => {
  assert.ok(isExpr("$width * 32"));
  assert.ok(isExpr("$multi"));
  assert.ok(!isExpr("same"));
  assert.ok(!isExpr("2 * 3"), "arithmetic without parameters stays a string");
  assert.ok(!isExpr(3));
  assert.ok(!isExpr(true));
});

Deno.test("expr: list literals, where an attribute takes a list", () => {
  assert.deepEqual(ev("[1, 2, $Np]"), [1, 2, 13]);
  assert.deepEqual(ev("[]"), []);
  assert.deepEqual(ev("$size == 96 ? [0, 0, 1, 1] : 1"), [0, 0, 1, 1]);
  assert.equal(ev("$size == 32 ? [0, 0, 1, 1] : 1"), 1);
  assert.equal(ev("[1, [2, 3]] == [1, [2, 3]]"), true);
  assert.equal(ev("[1, 2] != [1, 2, 3]"), true);
  assert.throws(() => ev("[1, 2] + 1"), /'\+' needs numbers/);
  assert.throws(() => ev("[1, 2"), /expected '\]'/);
});
