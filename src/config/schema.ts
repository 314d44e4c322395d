/**
 * The one place that defines the provider's configuration file.
 *
 * Each module owns a section (server core, models, upstreams, downloads, sources, service, watchdog, setup).
 * The sections are TypeBox schemas: they are the JSON schema the file is validated against, and the TypeScript
 * types below are derived from them, so the two cannot drift. A new module adds its section to
 * `ConfigFileSchema` and its defaults to `defaultConfigFile()`; a test checks that both list the same keys.
 */
import {Type, type Static, type TObject, type TSchema} from "typebox";

type JsonSchema = Record<string, unknown>;

/**
 * `type: ["string", "null"]` rather than a union: ajv then reports one "a value of type string or null"
 * instead of one error per branch of an `anyOf`.
 */
const NullableString = Type.Unsafe<string | null>({type: ["string", "null"]});
const PositiveInt = Type.Integer({minimum: 1});
const NonNegativeInt = Type.Integer({minimum: 0});
const NonEmptyString = Type.String({minLength: 1});
const PositiveNumber = Type.Number({exclusiveMinimum: 0});
const ContextSize = Type.Integer({minimum: 16, maximum: 1048576});
/**
 * A number of sequences, or "auto": as many as the model's memory allows, up to four (src/runtime/parallel.ts).
 * Written as a plain `anyOf` of a string constant and an integer so ajv reports the integer's bounds.
 */
const ParallelSetting = Type.Unsafe<number | "auto">({anyOf: [{type: "string", const: "auto"}, {type: "integer", minimum: 1, maximum: 64}]});
const ReservedSequences = Type.Integer({minimum: 0, maximum: 63});

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const GPU_SETTINGS = ["auto", "cuda", "vulkan", "metal", false] as const;
/** TypeBox enums hold only strings and numbers; `false` (CPU only) needs the plain `enum` keyword. */
export const GpuSchema = Type.Unsafe<(typeof GPU_SETTINGS)[number]>({enum: [...GPU_SETTINGS]});

/** Per-model overrides under `models.<name>`; every key is optional and falls back to the top-level setting. */
export const ModelOverrideSchema = Type.Object({
    keep_loaded: Type.Optional(Type.Boolean()),
    context_size: Type.Optional(ContextSize),
    parallel: Type.Optional(ParallelSetting),
    short_reserved_sequences: Type.Optional(ReservedSequences),
    /** Load this model in the background when the provider starts. */
    load_on_startup: Type.Optional(Type.Boolean()),
    /** Overrides `speculative.prompt_lookup` for this model. */
    prompt_lookup: Type.Optional(Type.Boolean()),
    /** Another installed model (a name, alias or GGUF path) that drafts tokens for this one; its vocabulary must match. */
    draft_model: Type.Optional(Type.String({minLength: 1, maxLength: 1024})),
    aliases: Type.Optional(Type.Array(Type.String({minLength: 1, maxLength: 256}))),
    pinned: Type.Optional(Type.Boolean()),
    system: Type.Optional(Type.String()),
    stop: Type.Optional(Type.Array(Type.String())),
    options: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /**
     * Makes this name a variant: another model (or variant) served by that model's runner, with this entry's
     * system prompt, options, stop strings and messages over the base's.
     */
    from: Type.Optional(Type.String({minLength: 1, maxLength: 256})),
    /** Messages put before every conversation (a Modelfile's MESSAGE lines). */
    messages: Type.Optional(Type.Array(Type.Object({
        role: Type.Enum(["system", "user", "assistant"]),
        content: Type.String()
    }, {additionalProperties: false})))
}, {additionalProperties: false});

/** One entry of `upstreams`: only the URL is required. */
export const UpstreamSchema = Type.Object({
    name: Type.Optional(Type.String()),
    url: Type.String({pattern: "^https?://"}),
    type: Type.Optional(Type.Enum(["ollama", "openai"])),
    api_key: Type.Optional(NullableString),
    timeout_ms: Type.Optional(PositiveInt)
}, {additionalProperties: false});

const AuthSchema = Type.Object({
    enable_api_key: Type.Boolean(),
    api_key: NullableString,
    api_key_file: NullableString,
    allow_loopback_without_key: Type.Boolean(),
    cors_origins: Type.Array(Type.String())
}, {additionalProperties: false});

const DownloadsSchema = Type.Object({
    max_concurrent: PositiveInt,
    hf_token: NullableString,
    hf_endpoint: NullableString,
    retries: NonNegativeInt,
    orphan_part_days: NonNegativeInt
}, {additionalProperties: false});

const ImportSourcesSchema = Type.Object({
    ollama: Type.Boolean(),
    ollama_dir: NullableString,
    lmstudio: Type.Boolean(),
    lmstudio_dir: NullableString,
    huggingface: Type.Boolean(),
    huggingface_dir: NullableString
}, {additionalProperties: false});

const ServiceSchema = Type.Object({
    name: NonEmptyString,
    nssm_path: NullableString,
    scope: Type.Enum(["user", "system", "auto"])
}, {additionalProperties: false});

const WatchdogSchema = Type.Object({
    interval_seconds: PositiveNumber,
    timeout_ms: PositiveInt,
    failures_before_restart: PositiveInt,
    max_restarts: PositiveInt,
    window_minutes: PositiveNumber,
    backoff_initial_ms: NonNegativeInt,
    backoff_max_ms: NonNegativeInt,
    /** How long a (re)started provider may take to answer /health before that counts as a failed start. */
    startup_timeout_seconds: PositiveNumber,
    /** "service": restart through the installed service manager; "direct": spawn and adopt; "auto": service when one is installed. */
    mode: Type.Enum(["auto", "direct", "service"])
}, {additionalProperties: false});

const PromptCacheSchema = Type.Object({
    enabled: Type.Boolean(),
    dir: NonEmptyString,
    max_mb: NonNegativeInt,
    min_tokens: PositiveInt
}, {additionalProperties: false});

/** Speculative decoding: tokens guessed ahead and checked in one batch; greedy output never changes. */
const SpeculativeSchema = Type.Object({
    prompt_lookup: Type.Boolean(),
    prompt_lookup_tokens: Type.Integer({minimum: 1, maximum: 64}),
    prompt_lookup_min_match: Type.Integer({minimum: 1, maximum: 64}),
    draft_tokens: Type.Integer({minimum: 1, maximum: 64})
}, {additionalProperties: false});

const SetupSchema = Type.Object({
    test_command: NullableString,
    branch: NonEmptyString
}, {additionalProperties: false});

const AnthropicSchema = Type.Object({
    strip_attribution: Type.Boolean()
}, {additionalProperties: false});

const ResponsesSchema = Type.Object({
    store_max: NonNegativeInt
}, {additionalProperties: false});

/**
 * The configuration after defaults are applied (paths not yet resolved): every key is present.
 * The file itself may leave any key out; `configJsonSchema` is the form it is validated against.
 */
export const ConfigFileSchema = Type.Object({
    // core server
    server_port: Type.Integer({minimum: 0, maximum: 65535}),
    server_host: NonEmptyString,
    models_dir: NonEmptyString,
    log_level: Type.Enum(LOG_LEVELS),
    logs_dir: NonEmptyString,
    registry_file: NonEmptyString,
    default_model: NullableString,
    // model manager
    keep_loaded_default: Type.Boolean(),
    idle_unload_seconds: NonNegativeInt,
    ram_threshold_mb: NonNegativeInt,
    memory_reserve_mb: NonNegativeInt,
    max_queue: NonNegativeInt,
    parallel: ParallelSetting,
    short_reserved_sequences: ReservedSequences,
    load_on_startup: Type.Array(NonEmptyString),
    threads: Type.Integer({minimum: 0, maximum: 1024}),
    context_size: ContextSize,
    allow_context_growth: Type.Boolean(),
    shutdown_grace_seconds: NonNegativeInt,
    gpu: GpuSchema,
    // llama.cpp's flash attention: "auto" lets it choose per backend
    flash_attention: Type.Union([Type.Literal("auto"), Type.Boolean()]),
    models: Type.Record(Type.String(), ModelOverrideSchema),
    // sequences' evaluated states kept on disk across unloads and restarts
    prompt_cache: PromptCacheSchema,
    // token prediction: prompt lookup and draft models
    speculative: SpeculativeSchema,
    // upstreams
    upstream_ollama: NullableString,
    upstreams: Type.Array(UpstreamSchema),
    // auth and CORS
    auth: AuthSchema,
    // downloads and the other model stores served in place
    downloads: DownloadsSchema,
    import_sources: ImportSourcesSchema,
    // service and watchdog
    service: ServiceSchema,
    watchdog: WatchdogSchema,
    // setup orchestrator
    setup: SetupSchema,
    // API families
    anthropic: AnthropicSchema,
    responses: ResponsesSchema
}, {additionalProperties: false});

export type GpuSetting = Static<typeof GpuSchema>;
export type ModelOverride = Static<typeof ModelOverrideSchema>;
export type UpstreamConfig = Static<typeof UpstreamSchema>;
/** The file as written by the user, after defaults are applied (paths not yet resolved). */
export type ProviderConfigFile = Static<typeof ConfigFileSchema>;

/** The top-level keys whose value is a section object of named settings (`auth`, `watchdog`, …). */
export function sectionKeys(): string[] {
    return Object.entries(ConfigFileSchema.properties)
        .filter(([, schema]) => isSectionSchema(schema))
        .map(([key]) => key);
}

function isSectionSchema(schema: TSchema): schema is TObject {
    return Type.IsObject(schema);
}

/**
 * The schema with no key required at the top level or inside a section, since defaults fill in whatever the file
 * leaves out. Entries of lists and maps (an upstream, a model override) keep their own required keys.
 */
function withOptionalKeys(schema: TObject): JsonSchema {
    const {required: _required, properties, ...rest} = schema;
    const optionalProperties: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(properties)) {
        if (isSectionSchema(value)) {
            const {required: _sectionRequired, ...section} = value;
            optionalProperties[key] = section;
        } else optionalProperties[key] = value;
    }
    return {...rest, properties: optionalProperties};
}

/** What a configuration file is validated against. */
export const configJsonSchema: JsonSchema = withOptionalKeys(ConfigFileSchema);

/** Accepted spellings that map onto a canonical key (older config files write `idle_timeout_seconds`). */
export const keyAliases: Record<string, string> = {
    idle_timeout_seconds: "idle_unload_seconds"
};

/**
 * The placeholder key written into new config files, which every installation must replace: the server warns
 * while it is in use, and refuses to listen beyond loopback with it.
 */
export const SEED_DEFAULT_API_KEY = "zombie-local-please-change";

export const OLLAMA_DEFAULT_CORS_ORIGINS = [
    "http://localhost", "https://localhost", "http://localhost:*", "https://localhost:*",
    "http://127.0.0.1", "https://127.0.0.1", "http://127.0.0.1:*", "https://127.0.0.1:*",
    "http://0.0.0.0", "https://0.0.0.0", "http://0.0.0.0:*", "https://0.0.0.0:*",
    "app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*"
];

export function defaultConfigFile(): ProviderConfigFile {
    return {
        server_port: 8007,
        server_host: "127.0.0.1",
        models_dir: "models",
        log_level: "info",
        logs_dir: "logs",
        registry_file: "registry/models_index.json",
        default_model: null,
        keep_loaded_default: true,
        idle_unload_seconds: 86400,
        ram_threshold_mb: 14000,
        memory_reserve_mb: 512,
        max_queue: 64,
        parallel: "auto",
        short_reserved_sequences: 1,
        load_on_startup: [],
        threads: 0,
        context_size: 8192,
        allow_context_growth: false,
        shutdown_grace_seconds: 10,
        gpu: "auto",
        flash_attention: "auto",
        models: {},
        prompt_cache: {enabled: true, dir: "cache/prompt-states", max_mb: 2048, min_tokens: 64},
        // prompt lookup is off: on one CPU thread a step checking a guess cost 3x a plain one (documentation/performance.md),
        // and eval_count counts refused guesses' samples until the runner subtracts SequencePool.wastedSamples
        speculative: {prompt_lookup: false, prompt_lookup_tokens: 1, prompt_lookup_min_match: 2, draft_tokens: 1},
        upstream_ollama: null,
        upstreams: [],
        auth: {
            enable_api_key: true,
            api_key: SEED_DEFAULT_API_KEY,
            api_key_file: null,
            allow_loopback_without_key: false,
            cors_origins: [...OLLAMA_DEFAULT_CORS_ORIGINS]
        },
        downloads: {max_concurrent: 2, hf_token: null, hf_endpoint: null, retries: 5, orphan_part_days: 7},
        import_sources: {
            ollama: true, ollama_dir: null,
            lmstudio: true, lmstudio_dir: null,
            huggingface: true, huggingface_dir: null
        },
        service: {name: "ZombieCoderAI", nssm_path: null, scope: "auto"},
        watchdog: {
            interval_seconds: 5,
            timeout_ms: 3000,
            failures_before_restart: 3,
            max_restarts: 5,
            window_minutes: 10,
            backoff_initial_ms: 1000,
            backoff_max_ms: 60000,
            startup_timeout_seconds: 60,
            mode: "auto"
        },
        setup: {test_command: null, branch: "feature/provider-setup"},
        anthropic: {strip_attribution: true},
        responses: {store_max: 200}
    };
}
