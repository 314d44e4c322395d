/**
 * The one place that defines the provider's configuration file.
 *
 * Each module owns a section (server core, models, upstreams, downloads, sources, service, watchdog, setup);
 * they are all declared here so that validation, defaults and documentation come from a single source.
 * A new module adds its section to `sections` below and its type to `ProviderConfigFile`.
 */

type JsonSchema = Record<string, unknown>;

const nullableString = {type: ["string", "null"]};
const positiveInt = {type: "integer", minimum: 1};
const nonNegativeInt = {type: "integer", minimum: 0};

/** Per-model overrides under `models.<name>`. */
export const modelOverrideSchema: JsonSchema = {
    type: "object",
    additionalProperties: false,
    properties: {
        keep_loaded: {type: "boolean"},
        context_size: {type: "integer", minimum: 16, maximum: 1048576},
        parallel: {type: "integer", minimum: 1, maximum: 64},
        aliases: {type: "array", items: {type: "string", minLength: 1, maxLength: 256}},
        pinned: {type: "boolean"},
        system: {type: "string"},
        stop: {type: "array", items: {type: "string"}},
        options: {type: "object"}
    }
};

const upstreamSchema: JsonSchema = {
    type: "object",
    additionalProperties: false,
    required: ["url"],
    properties: {
        name: {type: "string"},
        url: {type: "string", pattern: "^https?://"},
        type: {enum: ["ollama", "openai"]},
        api_key: nullableString,
        timeout_ms: positiveInt
    }
};

export const sections: Record<string, JsonSchema> = {
    // core server
    server_port: {type: "integer", minimum: 0, maximum: 65535},
    server_host: {type: "string", minLength: 1},
    models_dir: {type: "string", minLength: 1},
    log_level: {enum: ["fatal", "error", "warn", "info", "debug", "trace", "silent"]},
    logs_dir: {type: "string", minLength: 1},
    registry_file: {type: "string", minLength: 1},
    default_model: nullableString,
    // model manager
    keep_loaded_default: {type: "boolean"},
    idle_unload_seconds: nonNegativeInt,
    ram_threshold_mb: nonNegativeInt,
    memory_reserve_mb: nonNegativeInt,
    max_queue: nonNegativeInt,
    parallel: {type: "integer", minimum: 1, maximum: 64},
    threads: {type: "integer", minimum: 0, maximum: 1024},
    context_size: {type: "integer", minimum: 16, maximum: 1048576},
    allow_context_growth: {type: "boolean"},
    shutdown_grace_seconds: nonNegativeInt,
    gpu: {enum: ["auto", "cuda", "vulkan", "metal", false]},
    models: {type: "object", additionalProperties: modelOverrideSchema},
    // upstreams
    upstream_ollama: nullableString,
    upstreams: {type: "array", items: upstreamSchema},
    // auth and CORS
    auth: {
        type: "object",
        additionalProperties: false,
        properties: {
            enable_api_key: {type: "boolean"},
            api_key: nullableString,
            api_key_file: nullableString,
            allow_loopback_without_key: {type: "boolean"},
            cors_origins: {type: "array", items: {type: "string"}}
        }
    },
    // downloads (models-from-everywhere issue)
    downloads: {
        type: "object",
        additionalProperties: false,
        properties: {
            max_concurrent: positiveInt,
            hf_token: nullableString,
            hf_endpoint: nullableString,
            retries: nonNegativeInt,
            orphan_part_days: nonNegativeInt
        }
    },
    import_sources: {
        type: "object",
        additionalProperties: false,
        properties: {
            ollama: {type: "boolean"},
            ollama_dir: nullableString,
            lmstudio: {type: "boolean"},
            lmstudio_dir: nullableString,
            huggingface: {type: "boolean"},
            huggingface_dir: nullableString
        }
    },
    // service and watchdog
    service: {
        type: "object",
        additionalProperties: false,
        properties: {
            name: {type: "string", minLength: 1},
            nssm_path: nullableString,
            scope: {enum: ["user", "system", "auto"]}
        }
    },
    watchdog: {
        type: "object",
        additionalProperties: false,
        properties: {
            interval_seconds: {type: "number", exclusiveMinimum: 0},
            timeout_ms: positiveInt,
            failures_before_restart: positiveInt,
            max_restarts: positiveInt,
            window_minutes: {type: "number", exclusiveMinimum: 0},
            backoff_initial_ms: nonNegativeInt,
            backoff_max_ms: nonNegativeInt,
            startup_timeout_seconds: {type: "number", exclusiveMinimum: 0},
            mode: {enum: ["auto", "direct", "service"]}
        }
    },
    // setup orchestrator
    setup: {
        type: "object",
        additionalProperties: false,
        properties: {
            test_command: nullableString,
            branch: {type: "string", minLength: 1}
        }
    }
};

/** Accepted spellings that map onto a canonical key (the seed's prose uses `idle_timeout_seconds`). */
export const keyAliases: Record<string, string> = {
    idle_timeout_seconds: "idle_unload_seconds"
};

export const configJsonSchema: JsonSchema = {
    type: "object",
    additionalProperties: false,
    properties: sections
};

export type GpuSetting = "auto" | "cuda" | "vulkan" | "metal" | false;

export interface ModelOverride {
    keep_loaded?: boolean;
    context_size?: number;
    parallel?: number;
    aliases?: string[];
    pinned?: boolean;
    system?: string;
    stop?: string[];
    options?: Record<string, unknown>;
}

export interface UpstreamConfig {
    name?: string;
    url: string;
    type?: "ollama" | "openai";
    api_key?: string | null;
    timeout_ms?: number;
}

/** The file as written by the user, after defaults are applied (paths not yet resolved). */
export interface ProviderConfigFile {
    server_port: number;
    server_host: string;
    models_dir: string;
    log_level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
    logs_dir: string;
    registry_file: string;
    default_model: string | null;
    keep_loaded_default: boolean;
    idle_unload_seconds: number;
    ram_threshold_mb: number;
    memory_reserve_mb: number;
    max_queue: number;
    parallel: number;
    threads: number;
    context_size: number;
    allow_context_growth: boolean;
    shutdown_grace_seconds: number;
    gpu: GpuSetting;
    models: Record<string, ModelOverride>;
    upstream_ollama: string | null;
    upstreams: UpstreamConfig[];
    auth: {
        enable_api_key: boolean;
        api_key: string | null;
        api_key_file: string | null;
        allow_loopback_without_key: boolean;
        cors_origins: string[];
    };
    downloads: {
        max_concurrent: number;
        hf_token: string | null;
        hf_endpoint: string | null;
        retries: number;
        orphan_part_days: number;
    };
    import_sources: {
        ollama: boolean;
        ollama_dir: string | null;
        lmstudio: boolean;
        lmstudio_dir: string | null;
        huggingface: boolean;
        huggingface_dir: string | null;
    };
    service: {name: string; nssm_path: string | null; scope: "user" | "system" | "auto"};
    watchdog: {
        interval_seconds: number;
        timeout_ms: number;
        failures_before_restart: number;
        max_restarts: number;
        window_minutes: number;
        backoff_initial_ms: number;
        backoff_max_ms: number;
        /** How long a (re)started provider may take to answer /health before that counts as a failed start. */
        startup_timeout_seconds: number;
        /** "service": restart through the installed service manager; "direct": spawn and adopt; "auto": service when one is installed. */
        mode: "auto" | "direct" | "service";
    };
    setup: {test_command: string | null; branch: string};
}

/** The seed's key which must be replaced: the server warns, and refuses a non-loopback host with it. */
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
        parallel: 1,
        threads: 0,
        context_size: 8192,
        allow_context_growth: false,
        shutdown_grace_seconds: 10,
        gpu: "auto",
        models: {},
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
        setup: {test_command: null, branch: "feature/provider-setup"}
    };
}
