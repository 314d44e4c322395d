/**
 * The handful of TypeBox builders the config schema uses, written out: each returns the same JSON schema TypeBox's
 * own would (same keys, same order, the same hidden `~kind` / `~optional` markers), typed as TypeBox's, so
 * `Static<typeof X>` still derives the TypeScript types. TypeBox itself is only imported for its types: its runtime
 * is ~370 ES modules, ~12 MB of the idle server's RSS, to build one object at start
 * (test/config/schema-builder.test.ts compares every builder with TypeBox's).
 */
import type {Type as TypeBox} from "typebox";

type Schema = Record<string, unknown>;

/** An object with `enumerable` then `options` as its keys, and `hidden` as non-enumerable ones (TypeBox's Memory.Create). */
function create(hidden: Schema, enumerable: Schema, options: object | undefined): Schema {
    const out: Schema = {...enumerable, ...options};
    for (const [key, value] of Object.entries(hidden)) Object.defineProperty(out, key, {configurable: true, writable: true, enumerable: false, value});
    return out;
}

/** A copy of `schema` with `hidden` added as non-enumerable keys (TypeBox's Memory.Update): a shared schema stays as it was. */
function update(schema: object, hidden: Schema): Schema {
    const out: Schema = {};
    for (const key of Reflect.ownKeys(schema)) {
        if (typeof key === "string" && key in hidden) continue;
        Object.defineProperty(out, key, Object.getOwnPropertyDescriptor(schema, key)!);
    }
    for (const [key, value] of Object.entries(hidden)) Object.defineProperty(out, key, {configurable: true, writable: true, enumerable: false, value});
    return out;
}

function kindOf(value: unknown): unknown {
    return typeof value === "object" && value !== null ? (value as Schema)["~kind"] : undefined;
}

/** The implementations are untyped; each is given TypeBox's own signature (overloads and generics included). */
function as<F>(impl: (...args: never[]) => Schema | boolean): F {
    return impl as unknown as F;
}

function literalType(value: unknown): string {
    switch (typeof value) {
        case "bigint": return "bigint";
        case "boolean": return "boolean";
        case "number": return "number";
        case "string": return "string";
        default: throw new Error("Invalid Literal value");
    }
}

export const Type = {
    Object: as<typeof TypeBox.Object>((properties: Schema, options?: object) => {
        const requiredKeys = Object.keys(properties).filter((key) => !Object.hasOwn(properties[key] as object, "~optional"));
        const required = requiredKeys.length > 0 ? {required: requiredKeys} : {};
        return create({"~kind": "Object"}, {type: "object", ...required, properties}, options);
    }),
    Optional: as<typeof TypeBox.Optional>((schema: object) => update(schema, {"~optional": true})),
    Integer: as<typeof TypeBox.Integer>((options?: object) => create({"~kind": "Integer"}, {type: "integer"}, options)),
    Number: as<typeof TypeBox.Number>((options?: object) => create({"~kind": "Number"}, {type: "number"}, options)),
    String: as<typeof TypeBox.String>((options?: object) => create({"~kind": "String"}, {type: "string"}, options)),
    Boolean: as<typeof TypeBox.Boolean>((options?: object) => create({"~kind": "Boolean"}, {type: "boolean"}, options)),
    Unknown: as<typeof TypeBox.Unknown>((options?: object) => create({"~kind": "Unknown"}, {}, options)),
    Array: as<typeof TypeBox.Array>((items: object, options?: object) => create({"~kind": "Array"}, {type: "array", items}, options)),
    /** Only string keys, the one kind of record the config has: `patternProperties` with TypeBox's string-key pattern. */
    Record: as<typeof TypeBox.Record>((key: object, value: object, options?: object) => {
        if (kindOf(key) !== "String") throw new Error("schema-builder: Record supports string keys only");
        return create({"~kind": "Record"}, {type: "object", patternProperties: {"^.*$": value}}, options);
    }),
    Enum: as<typeof TypeBox.Enum>((values: readonly (string | number)[], options?: object) => {
        if (!Array.isArray(values)) throw new Error("schema-builder: Enum takes an array of values");
        return create({"~kind": "Enum"}, {enum: values}, options);
    }),
    Literal: as<typeof TypeBox.Literal>((value: unknown, options?: object) => create({"~kind": "Literal"}, {type: literalType(value), const: value}, options)),
    Union: as<typeof TypeBox.Union>((anyOf: object[], options?: object) => create({"~kind": "Union"}, {anyOf}, options)),
    Unsafe: as<typeof TypeBox.Unsafe>((schema: object) => update(schema, {"~unsafe": null})),
    IsObject: as<typeof TypeBox.IsObject>((value: unknown) => kindOf(value) === "Object")
};
