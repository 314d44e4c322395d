/**
 * Ollama's model-management routes, as far as they fit a provider that serves GGUF files in place:
 * `/api/copy` adds an alias, `/api/create` makes a variant (a name with its own defaults over an installed model),
 * `/api/delete` removes an alias or a variant. Both live in the config file's `models` map, and take effect at once.
 * Model files are never written or deleted here; `/api/push` and the blob routes say what to do instead.
 */
import os from "node:os";
import path from "node:path";
import type {FastifyPluginAsync, FastifyReply} from "fastify";
import {editModels, type ModelEdit} from "../../config/edit.js";
import type {ModelOverride} from "../../config/schema.js";
import type {Logger} from "../../log/logger.js";
import type {ModelEntry} from "../../registry/types.js";
import {badRequest, ProviderError} from "../../runtime/errors.js";
import type {Runtime} from "../../runtime/runtime.js";
import {StreamWriter} from "../../server/stream.js";
import {bodyOf, optionalBool, optionalString} from "../shared/parse.js";
import {alternatives, checkModelName, parseCreateRequest} from "./create-request.js";
import {blobSchema, copySchema, createSchema, deleteSchema, pushSchema} from "./schemas.js";
import {commandHint} from "../../command-hint.js";

export interface ManageApiOptions {
    runtime: Runtime;
    logger: Logger;
}

/** `name` and `name:latest` are one name to Ollama's clients. */
function spellings(name: string): string[] {
    return name.endsWith(":latest") ? [name, name.slice(0, -":latest".length)] : [name, `${name}:latest`];
}

/** An empty 200, as Ollama answers copy and delete. */
function ok(reply: FastifyReply): FastifyReply {
    return reply.code(200).header("content-length", "0").send();
}

const DIGEST = /^sha256[:-][0-9a-f]{64}$/;

export const ollamaManageApi: FastifyPluginAsync<ManageApiOptions> = async (app, {runtime, logger}) => {
    const config = runtime.config;

    /** A listed local model (file, variant) by exact name or alias, `:latest` or not. */
    const listed = (name: string): ModelEntry | null => {
        for (const n of spellings(name)) {
            const m = runtime.exactModel(n);
            if (m) return m;
        }
        return null;
    };

    const isVariant = (entry: ModelEntry): boolean => runtime.registry.fileOf(entry.name) != null;

    /** The config entry whose `aliases` hold `name`, if any (the model it names need not be installed now). */
    const aliasOwner = (name: string): string | null =>
        Object.entries(config.models).find(([, o]) => o.aliases?.includes(name))?.[0] ?? null;

    /** A name this provider cannot find: an upstream's (served there, not ours to change) or a plain 404. */
    const unknown = async (name: string, field: string, what: string): Promise<ProviderError> => {
        if (runtime.upstreams.all.length > 0) {
            const target = await runtime.resolve(name).catch(() => null);
            if (target?.kind === "upstream")
                return badRequest(`'${name}' is served by ${target.upstream.describe()}; ${what} only works for models installed here`, field);
        }
        return runtime.notFound(name);
    };

    /** Why a name cannot be given to something new, or null when it is free. */
    const taken = (name: string): string | null => {
        const existing = listed(name);
        if (existing) {
            const exact = spellings(name).includes(existing.name);
            if (!exact) return `'${name}' is already an alias of '${existing.name}'`;
            return isVariant(existing) ? `'${name}' is already a variant (of '${config.models[existing.name]?.from}')` : `'${name}' is already an installed model`;
        }
        const owner = aliasOwner(name);
        if (owner) return `'${name}' is already an alias in the config (models.${owner}.aliases)`;
        if (config.models[name]) return `the config already has settings for '${name}' (models.${name})`;
        return null;
    };

    /** Variants whose `from` names this entry (by its name or one of its aliases). */
    const dependents = (names: string[]): string[] =>
        Object.entries(config.models).filter(([, o]) => o.from != null && names.includes(o.from)).map(([k]) => k);

    const changed = (edits: ModelEdit[], what: Record<string, unknown>): void => {
        runtime.registry.configChanged();
        if (edits.length > 0) logger.info({...what, config: config.configPath}, "config models changed");
    };

    app.post("/api/copy", {schema: copySchema}, async (request, reply) => {
        const body = bodyOf(request);
        const source = optionalString(body, "source");
        const destinationRaw = optionalString(body, "destination");
        if (!source) throw badRequest("source is required", "source");
        if (!destinationRaw) throw badRequest("destination is required", "destination");
        const destination = checkModelName(destinationRaw, "destination");
        const entry = listed(source);
        if (!entry) throw await unknown(source, "source", "copying");
        const why = taken(destination);
        if (why) throw badRequest(`destination ${why}; choose another name, or delete that one first (DELETE /api/delete)`, "destination");
        const owner = entry.name;
        const edits = await editModels(config, (models) => {
            const aliases = models[owner]?.aliases ?? [];
            return [{name: owner, key: "aliases", value: [...aliases.filter((a) => a !== destination), destination]}];
        });
        changed(edits, {alias: destination, model: owner});
        return ok(reply);
    });

    app.post("/api/create", {schema: createSchema}, async (request, reply) => {
        const body = bodyOf(request);
        const stream = optionalBool(body, "stream") ?? true;
        const create = parseCreateRequest(body, config.paths.models);
        const base = await createBase(create.from);
        if (spellings(create.name).includes(base.name) || chainOf(base.name).includes(create.name))
            throw badRequest(`'${create.name}' cannot be built on itself (from '${create.from}')`, "from");
        const current = listed(create.name);
        const replacing = current != null && spellings(create.name).includes(current.name) && isVariant(current) ? current.name : null;
        if (!replacing) {
            const why = taken(create.name);
            if (why) throw badRequest(`${why}; choose another name for the new model (re-creating a variant under its own name replaces it)`, "model");
        }
        const name = replacing ?? create.name;
        const edits = await editModels(config, (models) => {
            // re-creating a variant keeps the aliases it was given
            const aliases = models[name]?.from != null ? models[name]?.aliases : undefined;
            const entry: ModelOverride = {from: base.name, ...create.defaults, ...(aliases ? {aliases} : {})};
            return [{name, entry}];
        });
        changed(edits, {variant: name, from: base.name});
        const file = runtime.fileEntry(base);
        const lines: Array<Record<string, string>> = [
            {status: `using existing layer sha256:${file.fingerprint}`},
            ...create.notices.map((status) => ({status})),
            {status: `writing config models.${name}`},
            {status: "success"}
        ];
        if (!stream) return reply.type("application/json; charset=utf-8").send({status: "success"});
        const w = new StreamWriter(reply, "application/x-ndjson");
        for (const line of lines) w.ndjson(line);
        w.end();
        return reply;
    });

    /** The installed model a `from` names: a model's name or alias, a variant, or the path of a file already served. */
    async function createBase(from: string): Promise<ModelEntry> {
        if (DIGEST.test(from))
            throw badRequest(`FROM ${from}: blobs are not stored here (no blob store). Instead, ${alternatives(config.paths.models)}`, "from");
        if (looksLikePath(from)) {
            const expanded = from.startsWith("~") ? path.join(os.homedir(), from.slice(1)) : from;
            const candidates = new Set([path.resolve(config.paths.models, expanded), path.resolve(config.home, expanded), path.resolve(expanded)]);
            const file = runtime.registry.models().find((m) => m.status !== "invalid" && runtime.registry.fileOf(m.name) == null
                && m.files.some((f) => candidates.has(path.resolve(f))));
            if (file) return file;
            throw badRequest(`FROM ${from}: that is not a model file this provider has found, and files are served in place, never imported. Instead, ${alternatives(config.paths.models)}`, "from");
        }
        const direct = listed(from);
        if (direct) return direct;
        const target = await runtime.resolve(from);
        if (target.kind === "upstream")
            throw badRequest(`'${from}' is served by ${target.upstream.describe()}; a variant can only be built on a model installed here`, "from");
        return target.entry;
    }

    /** The names a variant is built on, nearest first (empty for a model file). */
    function chainOf(name: string): string[] {
        const out: string[] = [];
        let cur = config.models[name]?.from;
        while (cur != null && !out.includes(cur)) {
            out.push(cur);
            cur = config.models[cur]?.from;
        }
        return out;
    }

    app.delete("/api/delete", {schema: deleteSchema}, async (request, reply) => {
        const body = bodyOf(request);
        const name = optionalString(body, "model") || optionalString(body, "name");
        if (!name) throw badRequest("model is required", "model");
        const entry = listed(name);
        if (entry && spellings(name).includes(entry.name)) {
            if (!isVariant(entry))
                throw badRequest(`'${entry.name}' is a model file (${entry.abs_path}); /api/delete removes only aliases and variants. ` +
                    "To delete model files, review the candidates of GET /models/safe-to-delete (or npm run audit) and remove them with " +
                    "POST /models/delete {\"paths\": [...], \"token\": ...} (" + commandHint("audit", "--delete") + "); see documentation/models.md. " +
                    "Or delete the file yourself and rescan.", "model");
            await deleteVariant(entry.name);
            return ok(reply);
        }
        // an alias, also one of a model that is not installed now
        const alias = spellings(name).find((n) => aliasOwner(n) != null);
        if (alias != null) {
            const owner = aliasOwner(alias)!;
            const users = dependents([alias]);
            if (users.length > 0)
                throw badRequest(`alias '${alias}' is what ${users.map((u) => `'${u}'`).join(", ")} ${users.length === 1 ? "is" : "are"} built on (models.<name>.from); delete ${users.length === 1 ? "that variant" : "those variants"} first`, "model");
            const edits = await editModels(config, (models) => {
                const left = (models[owner]?.aliases ?? []).filter((a) => a !== alias);
                return [{name: owner, key: "aliases", value: left.length > 0 ? left : undefined}];
            });
            changed(edits, {removed_alias: alias, model: owner});
            return ok(reply);
        }
        // a variant whose base is gone is not listed, but it is still the user's to remove
        const orphan = spellings(name).find((n) => config.models[n]?.from != null);
        if (orphan != null) {
            await deleteVariant(orphan);
            return ok(reply);
        }
        throw await unknown(name, "model", "deleting");
    });

    async function deleteVariant(name: string): Promise<void> {
        const users = dependents([name, ...(config.models[name]?.aliases ?? [])]).filter((u) => u !== name);
        if (users.length > 0)
            throw badRequest(`variant '${name}' is the base of ${users.map((u) => `'${u}'`).join(", ")}; delete ${users.length === 1 ? "it" : "them"} first`, "model");
        // removed from the running config even when the file no longer has it
        const edits = await editModels(config, () => [{name, entry: undefined}]);
        changed(edits, {removed_variant: name});
    }

    app.post("/api/push", {schema: pushSchema}, async (request) => {
        const body = bodyOf(request);
        const name = optionalString(body, "model") || optionalString(body, "name");
        const entry = name ? listed(name) : null;
        const where = entry ? ` ('${entry.name}' is ${runtime.fileEntry(entry).abs_path})` : "";
        throw new ProviderError("bad_request",
            "pushing is not supported: this provider serves GGUF files from local folders and has no registry to push to. " +
            `To share a model, copy its GGUF file${where} into the other machine's models folder, or push it with Ollama itself.`,
            {code: "not_supported", param: "model"});
    });

    // Blobs: Ollama's CLI uploads a GGUF before creating a model from it; here files are served where they lie.
    await app.register(async (blobs) => {
        // an upload is answered without reading it: there is nowhere to keep it
        blobs.removeAllContentTypeParsers();
        blobs.addContentTypeParser("*", (_request, _payload, done) => done(null, undefined));

        const digestOf = (params: unknown): string => {
            const digest = String((params as {digest?: string}).digest ?? "");
            if (!DIGEST.test(digest)) throw badRequest(`invalid digest format ${JSON.stringify(digest.slice(0, 80))}: expected sha256:<64 hex digits>`, "digest");
            return digest;
        };

        blobs.head("/api/blobs/:digest", {schema: blobSchema}, async (request) => {
            const digest = digestOf(request.params);
            throw new ProviderError("not_found", `blob "${digest}" not found: this provider keeps no blob store; model files are served in place from the models folder`,
                {code: "blob_not_found"});
        });

        blobs.post("/api/blobs/:digest", {schema: blobSchema}, async (request, reply) => {
            const digest = digestOf(request.params);
            // the rest of the upload is not wanted: end the connection rather than read it
            reply.header("connection", "close");
            throw new ProviderError("bad_request",
                `uploading blobs is not supported (${digest}): this provider has no blob store and never imports files. Instead, ${alternatives(config.paths.models)}`,
                {code: "not_supported"});
        });
    });
};

/** A FROM that points at a file rather than naming a model. */
function looksLikePath(from: string): boolean {
    return from.startsWith("/") || from.startsWith("./") || from.startsWith("../") || from.startsWith("~") || from.startsWith(".\\")
        || /^[A-Za-z]:[\\/]/.test(from) || from.includes("\\") || /\.gguf$/i.test(from);
}
