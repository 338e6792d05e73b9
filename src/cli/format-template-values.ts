/**
 * Template values as Go sees them: structs (`strictContext`) and maps (plain
 * objects), truth, and fmt's %v printing.
 */

const STRICT = Symbol.for("tsbox.template.struct");

/** A struct-like value: unknown fields are errors, named `typeName` in them. */
export function strictContext<T extends object>(typeName: string, fields: T): T {
  Object.defineProperty(fields, STRICT, { value: typeName, enumerable: false });
  return fields;
}

const GO_NIL = Symbol.for("tsbox.template.nil");

/**
 * A Go struct's nil slice or map field (docker runs inspect templates on its typed structs): it prints `[]` or
 * `map[]` and is empty to `len`, `range` and `if`, but `json` writes `null`, or leaves it out when the JSON had no
 * such key (an `omitempty` field).
 */
export function typedNil(kind: "slice" | "map", omitted: boolean): unknown[] | Record<string, unknown> {
  const value = kind === "slice" ? [] : {};
  Object.defineProperty(value, GO_NIL, { value: omitted ? "omit" : "null", enumerable: false });
  return value;
}

/** How `json` writes a `typedNil`: "null", "omit" (no key), or undefined for any other value. */
export function typedNilJson(value: unknown): "null" | "omit" | undefined {
  return typeof value === "object" && value !== null ? (value as Record<symbol, "null" | "omit" | undefined>)[GO_NIL] : undefined;
}

export function structName(value: unknown): string | undefined {
  return typeof value === "object" && value !== null ? (value as Record<symbol, string | undefined>)[STRICT] : undefined;
}

export function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && structName(value) === undefined;
}

/** Go's template truth: false, 0, nil and empty strings, lists and maps are false. */
export function truth(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  if (typeof value === "string") return value.length > 0;
  if (Array.isArray(value)) return value.length > 0;
  if (isMap(value)) return Object.keys(value).length > 0;
  return true;
}

/** How Go's fmt prints a value with %v, as template output does. */
export function printValue(value: unknown, nested = false): string {
  if (value === undefined) return nested ? "<nil>" : "<no value>";
  if (value === null) return "<nil>";
  if (typeof value === "string") return value;
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (typeof value === "function") return "<func>";
  if (Array.isArray(value)) return `[${value.map((v) => printValue(v, true)).join(" ")}]`;
  if (structName(value) !== undefined) {
    return `{${Object.values(value as Record<string, unknown>)
      .filter((v) => typeof v !== "function")
      .map((v) => printValue(v, true))
      .join(" ")}}`;
  }
  const map = value as Record<string, unknown>;
  return `map[${Object.keys(map)
    .sort()
    .map((k) => `${k}:${printValue(map[k], true)}`)
    .join(" ")}]`;
}

/** Integers in full (no exponent up to 2^53), other numbers like Go's %v for float64. */
export function formatNumber(n: number): string {
  // String() writes every digit below 1e21 already; not toLocaleString, whose first use loads ICU (~4 ms).
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return Object.is(n, -0) ? "-0" : String(n);
  const text = String(n);
  // Go writes exponents with at least two digits: 1e+21, 1e-07.
  return text.replace(/e([+-])(\d)$/, "e$10$2");
}

export function goTypeName(value: unknown): string {
  if (value === null || value === undefined) return "interface {}";
  if (typeof value === "string") return "string";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float64";
  if (typeof value === "boolean") return "bool";
  if (Array.isArray(value)) return "[]interface {}";
  return structName(value) ?? "map[string]interface {}";
}
