/**
 * Remembers how to build the chat wrapper node-llama-cpp's `resolveChatWrapper` picks for a model file, so a runner
 * does not repeat the search on every start.
 *
 * The search renders the GGUF's Jinja template against each of node-llama-cpp's specialized wrappers, in several
 * option configurations each, until one renders the same prompts. It took 160-650 ms of a runner's start on the test
 * models (most for a template no specialized wrapper matches: every candidate is tried), more than importing the
 * engine, and its answer depends only on the file and node-llama-cpp's version.
 *
 * What is kept is a recipe: the wrapper's type and which of its test configurations it was built with. A recipe is
 * kept only after building the wrapper from it and finding the result identical, field by field, to what the search
 * returned; a wrapper that cannot be rebuilt that way (node-llama-cpp changed its internals, a fallback built with
 * settings of its own) is searched for every time, as before. So a hit returns the same wrapper the search would.
 */
import fs from "node:fs";
import {chatWrappers, resolveChatWrapper, type ChatWrapper, type LlamaModel, type ResolveChatWrapperWithModelOptions} from "node-llama-cpp";
import {KeyedCacheFile, privateCacheFile} from "./private-cache.js";

type CustomSettings = NonNullable<ResolveChatWrapperWithModelOptions["customWrapperSettings"]>;
type WrapperType = keyof typeof chatWrappers;

/** How to build a wrapper: `config` indexes the type's test configurations; null means the custom settings alone. */
export interface WrapperRecipe {
    type: WrapperType;
    config: number | null;
}

// 1: {type, config} keyed by file, version and custom settings
const FORMAT = 1;

/**
 * A specialized wrapper class as resolveChatWrapper uses it: the test configurations are an internal static of
 * node-llama-cpp's (absent from its types), each an options object or a [test, apply, jinja options] triple; the
 * apply half is what the chosen wrapper is built with.
 */
type WrapperClass = (new (settings: object) => ChatWrapper) & {
    _getOptionConfigurationsToTestIfCanSupersedeJinjaTemplate?: () => unknown[];
};

function applyConfig(Wrapper: WrapperClass, index: number): object | undefined {
    const configs = Wrapper._getOptionConfigurationsToTestIfCanSupersedeJinjaTemplate?.();
    if (configs == null || index >= configs.length) return undefined;
    const c = configs[index];
    return (Array.isArray(c) ? c[1] : c) as object | undefined ?? {};
}

function build(model: LlamaModel, recipe: WrapperRecipe, custom: CustomSettings): ChatWrapper | null {
    // the Jinja wrapper is built by resolveChatWrapper itself when told its type (no search)
    if (recipe.type === "jinjaTemplate") return resolveChatWrapper(model, {type: "jinjaTemplate", customWrapperSettings: custom, warningLogs: false});
    const Wrapper = chatWrappers[recipe.type] as unknown as WrapperClass | undefined;
    if (Wrapper == null) return null;
    const base = recipe.config == null ? {} : applyConfig(Wrapper, recipe.config);
    if (base == null) return null;
    return new Wrapper({...base, ...((custom as Record<string, object | undefined>)[recipe.type] ?? {})});
}

/**
 * Whether two wrappers hold the same state: same prototypes, same own keys, equal values all the way down, and
 * functions of the same source (the per-instance closures a constructor makes). `_llama` (the engine handle the
 * search gives the Jinja renderer for a native fallback) is passed over: a renderer that needed that fallback
 * differs in its renderer fields, which are compared.
 */
export function sameState(a: unknown, b: unknown, seen = new Map<object, object>()): boolean {
    if (Object.is(a, b)) return true;
    if (typeof a === "function" && typeof b === "function") return String(a) === String(b);
    if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
    if (seen.get(a) === b) return true;
    seen.set(a, b);
    if (a instanceof Map || a instanceof Set) {
        const ea = [...a.entries()];
        const eb = [...(b as Map<unknown, unknown> | Set<unknown>).entries()];
        return ea.length === eb.length && ea.every((e, i) => sameState(e, eb[i], seen));
    }
    if (a instanceof WeakMap || a instanceof WeakSet || a instanceof RegExp || a instanceof Date) return String(a) === String(b);
    const ka = Reflect.ownKeys(a).filter((k) => k !== "_llama");
    const kb = Reflect.ownKeys(b).filter((k) => k !== "_llama");
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && sameState((a as Record<PropertyKey, unknown>)[k], (b as Record<PropertyKey, unknown>)[k], seen));
}

/** A recipe that rebuilds `wrapper` exactly, or null. */
export function recipeFor(model: LlamaModel, wrapper: ChatWrapper, custom: CustomSettings): WrapperRecipe | null {
    const type = (Object.keys(chatWrappers) as WrapperType[]).find((t) => wrapper.constructor === chatWrappers[t]);
    if (type == null) return null;
    const configs = type === "jinjaTemplate" ? 0 : ((chatWrappers[type] as unknown as WrapperClass)._getOptionConfigurationsToTestIfCanSupersedeJinjaTemplate?.()?.length ?? 0);
    for (const config of [null, ...Array.from({length: configs}, (_, i) => i)]) {
        const recipe: WrapperRecipe = {type, config};
        let rebuilt: ChatWrapper | null;
        try {
            rebuilt = build(model, recipe, custom);
        } catch {
            continue;
        }
        if (rebuilt != null && sameState(rebuilt, wrapper)) return recipe;
    }
    return null;
}

export interface WrapperMemoOptions {
    /** Where recipes are kept; null keeps none (every resolution searches). */
    file: string | null;
    /** node-llama-cpp's version: another version may choose differently. */
    engineVersion: string;
}

export class WrapperMemo {
    private readonly store: KeyedCacheFile<WrapperRecipe> | null;

    constructor(private readonly options: WrapperMemoOptions) {
        this.store = options.file == null ? null : new KeyedCacheFile(options.file, FORMAT, 128);
    }

    /** The file as it is on disk now and everything else the search reads; null when the file cannot be read. */
    private key(modelPath: string, custom: CustomSettings): string | null {
        try {
            const st = fs.statSync(modelPath);
            return JSON.stringify({engine: this.options.engineVersion, file: modelPath, size: st.size, mtime: Math.round(st.mtimeMs), custom});
        } catch {
            return null;
        }
    }

    /** resolveChatWrapper's choice for the model at `modelPath` with these custom settings. */
    resolve(model: LlamaModel, modelPath: string, custom: CustomSettings): ChatWrapper {
        const key = this.store == null ? null : this.key(modelPath, custom);
        const recipe = key == null ? undefined : this.store!.get(key);
        if (recipe != null) {
            try {
                const wrapper = build(model, recipe, custom);
                if (wrapper != null) return wrapper;
            } catch {
                // a recipe that no longer builds: search again, and keep what that finds
            }
        }
        const wrapper = resolveChatWrapper(model, {customWrapperSettings: custom, warningLogs: false});
        if (key != null) {
            const found = recipeFor(model, wrapper, custom);
            if (found != null) this.store!.set(key, found);
        }
        return wrapper;
    }
}

/** The runner's memo: this user's private cache file (private-cache.ts). */
export function defaultWrapperMemo(engineVersion: string): WrapperMemo {
    return new WrapperMemo({file: privateCacheFile("chat-wrappers.json"), engineVersion});
}
