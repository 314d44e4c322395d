/**
 * Variants: names the config gives to an installed model with other defaults (`models.<name>.from`, what Ollama's
 * `/api/create` makes). A variant is listed and resolved like a model, but it is not a file: its entry is a view of
 * the base's, and the base's runner serves it.
 */
import type {ModelOverride} from "../config/schema.js";
import type {ModelDefaults, ModelEntry} from "./types.js";

export interface Variants {
    /** One entry per variant, with the defaults it inherits folded in. */
    views: ModelEntry[];
    /** Variant name → the entry of the model file that serves it. */
    fileOf: ReadonlyMap<string, ModelEntry>;
    /** Config entries whose `from` cannot be followed (missing base, a loop, a name a file already has). */
    problems: string[];
}

/** Settings of the runner a variant runs on: they are the base's, and a variant's own are not used. */
export const RUNNER_KEYS = ["context_size", "parallel", "keep_loaded", "pinned"] as const;

/** What an entry hands down to a variant built on it: its own defaults with its config overrides on top. */
function inherited(parent: ModelEntry, override: ModelOverride | undefined): ModelDefaults {
    const out: ModelDefaults = {};
    const system = override?.system ?? parent.defaults?.system;
    if (system != null) out.system = system;
    const options = {...parent.defaults?.options, ...override?.options};
    if (Object.keys(options).length > 0) out.options = options;
    const stop = override?.stop ?? parent.defaults?.stop;
    if (stop != null) out.stop = stop;
    const messages = override?.messages ?? parent.defaults?.messages;
    if (messages != null) out.messages = messages;
    // the Go template is only shown, never run; the file's own chat template serves every variant
    if (parent.defaults?.template != null) out.template = parent.defaults.template;
    return out;
}

/**
 * Builds the variants the config declares over the scanned models. A `from` names a model or another variant by
 * its exact name or an alias; a name that a file already has stays the file's.
 */
export function buildVariants(files: readonly ModelEntry[], overrides: Readonly<Record<string, ModelOverride>>): Variants {
    const byName = new Map<string, ModelEntry>();
    for (const f of files) byName.set(f.name, f);
    const byAlias = new Map<string, ModelEntry>();
    for (const f of files) for (const a of f.aliases) if (!byAlias.has(a)) byAlias.set(a, f);

    const declared = Object.entries(overrides).filter(([, o]) => typeof o.from === "string" && o.from !== "");
    const variantNames = new Set(declared.map(([name]) => name).filter((name) => !byName.has(name)));
    const problems: string[] = [];
    for (const [name] of declared) if (byName.has(name)) problems.push(`models.${name}.from is ignored: an installed model is called "${name}"`);

    const views = new Map<string, ModelEntry>();
    const fileOf = new Map<string, ModelEntry>();
    const failed = new Set<string>();

    const variantAlias = new Map<string, string>();
    for (const name of variantNames) for (const a of overrides[name]!.aliases ?? []) if (!variantAlias.has(a)) variantAlias.set(a, name);
    /** The variant a `from` names, by its name or one of its aliases. */
    const variantNamed = (from: string): string | undefined => variantNames.has(from) ? from : variantAlias.get(from);

    const build = (name: string, chain: string[]): ModelEntry | null => {
        const done = views.get(name);
        if (done) return done;
        if (failed.has(name)) return null;
        if (chain.includes(name)) {
            problems.push(`models.${name}.from makes a loop: ${[...chain.slice(chain.indexOf(name)), name].join(" → ")}`);
            failed.add(name);
            return null;
        }
        const override = overrides[name]!;
        const from = override.from!;
        const fileParent = byName.get(from) ?? byAlias.get(from);
        const variantParent = fileParent ? undefined : variantNamed(from);
        const parent = fileParent ?? (variantParent != null ? build(variantParent, [...chain, name]) : null);
        if (!parent) {
            // a loop was reported where it closed
            if (!failed.has(name))
                problems.push(variantParent != null
                    ? `models.${name}.from names the variant "${from}", which cannot be served itself`
                    : `models.${name}.from names "${from}", which is not an installed model, alias or variant`);
            failed.add(name);
            return null;
        }
        const file = fileOf.get(parent.name) ?? parent;
        const ignored = RUNNER_KEYS.filter((k) => override[k] !== undefined);
        if (ignored.length > 0)
            problems.push(`models.${name}: ${ignored.join(", ")} belong to the runner of "${file.name}", which serves this variant; set them on models.${file.name}`);
        const view: ModelEntry = {
            ...file,
            name,
            aliases: override.aliases ?? [],
            // its own base name, so loose matching never folds a variant into its base's quantisation group
            base_name: name.replace(/:[^:/]*$/, ""),
            defaults: inherited(parent, overrides[parent.name])
        };
        views.set(name, view);
        fileOf.set(name, file);
        return view;
    };

    for (const name of variantNames) build(name, []);
    return {views: [...views.values()], fileOf, problems};
}
