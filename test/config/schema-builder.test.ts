import {Type as TypeBox} from "typebox";
import {describe, expect, it} from "vitest";
import {Type} from "../../src/config/schema-builder.js";

/** Every own key (hidden ones included) with its value and enumerability, nested: two schemas equal here are the same object. */
function shape(value: unknown): unknown {
    if (typeof value !== "object" || value === null) return value;
    if (Array.isArray(value)) return value.map(shape);
    const out: Record<string, unknown> = {};
    for (const key of Reflect.ownKeys(value)) {
        const d = Object.getOwnPropertyDescriptor(value, key)!;
        out[`${String(key)}${d.enumerable ? "" : " (hidden)"}`] = shape(d.value);
    }
    return out;
}

/** The same calls on both builders; `B` stands for either. */
function build(B: typeof TypeBox) {
    const PositiveInt = B.Integer({minimum: 1});
    const Nullable = B.Unsafe<string | null>({type: ["string", "null"]});
    return B.Object({
        port: B.Integer({minimum: 0, maximum: 65535}),
        name: B.String({minLength: 1}),
        ratio: B.Number({exclusiveMinimum: 0}),
        flag: B.Boolean(),
        count: B.Optional(PositiveInt),
        again: PositiveInt,
        key: B.Optional(Nullable),
        level: B.Enum(["a", "b"]),
        mode: B.Union([B.Literal("auto"), B.Boolean()]),
        list: B.Array(B.String({maxLength: 4})),
        map: B.Record(B.String(), B.Object({x: B.Optional(B.Unknown()), y: B.Literal(3)}, {additionalProperties: false})),
        options: B.Record(B.String(), B.Unknown()),
        section: B.Object({only: B.Optional(B.Boolean())})
    }, {additionalProperties: false});
}

describe("the config's schema builder", () => {
    it("builds what TypeBox builds, hidden markers and key order included", () => {
        expect(shape(build(Type as unknown as typeof TypeBox))).toEqual(shape(build(TypeBox)));
        expect(Object.keys(build(Type as unknown as typeof TypeBox))).toEqual(Object.keys(build(TypeBox)));
        expect(JSON.stringify(build(Type as unknown as typeof TypeBox))).toBe(JSON.stringify(build(TypeBox)));
    });

    it("leaves a shared schema untouched when a property makes it optional", () => {
        const shared = Type.Integer({minimum: 1});
        const o = Type.Object({a: Type.Optional(shared), b: shared});
        expect(o.required).toEqual(["b"]);
        expect(Object.hasOwn(shared, "~optional")).toBe(false);
    });

    it("tells an object schema from the others as TypeBox does", () => {
        for (const [ours, theirs] of [
            [Type.Object({}), TypeBox.Object({})],
            [Type.Record(Type.String(), Type.Boolean()), TypeBox.Record(TypeBox.String(), TypeBox.Boolean())],
            [Type.Integer(), TypeBox.Integer()]
        ] as const) expect(Type.IsObject(ours)).toBe(TypeBox.IsObject(theirs));
        expect(Type.IsObject(null)).toBe(false);
    });
});
