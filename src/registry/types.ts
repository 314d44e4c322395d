/** Where a model file lives. `models_dir` files are ours; every other source is read-only and never written to. */
export type ModelSource = "models_dir" | "ollama" | "lmstudio" | "huggingface";

export type ModelStatus = "unloaded" | "loading" | "loaded" | "unloading" | "failed" | "invalid";

/** What the GGUF header says (cached per file by size + mtime). */
export interface GgufMetadata {
    architecture: string;
    /** Total parameters, when known (from insights or the header). */
    parameter_count: number | null;
    /** Ollama-style label: "494.0M", "1.5B". */
    parameter_size: string;
    /** Quantization as Ollama writes it: "Q8_0", "Q4_K_M", "F16". */
    quantization: string;
    file_type: number | null;
    context_length: number | null;
    embedding_length: number | null;
    has_chat_template: boolean;
    chat_template: string | null;
    is_embedding: boolean;
    pooling_type: number | null;
    /** The GGUF declares fill-in-the-middle tokens. */
    has_fim: boolean;
    /** The chat template renders tools, or node-llama-cpp has a dedicated wrapper with tool calls for this family. */
    supports_tools: boolean;
    /** The node-llama-cpp chat wrapper the header resolves to ("ChatML", "Llama 3.1", "JinjaTemplate", ...). */
    chat_wrapper?: string | null;
    general_name: string | null;
    split_count: number;
    /** Shape facts for the memory estimate made before a load. */
    block_count: number | null;
    head_count: number | null;
    head_count_kv: number | null;
    vocab_size: number | null;
}

/** One entry of registry/models_index.json: where the model is, what it is called, its state, and its GGUF facts. */
export interface ModelEntry {
    name: string;
    /** Path of the (first) file, relative to the provider home when inside it, else absolute. */
    path: string;
    /** Absolute path of the (first) file: the one handed to the engine. */
    abs_path: string;
    /** All files of the model (split parts), absolute. */
    files: string[];
    size_bytes: number;
    status: ModelStatus;
    reason?: string;
    keep_loaded: boolean;
    pinned: boolean;
    aliases: string[];
    source: ModelSource;
    read_only: boolean;
    /** Multimodal projector in the same folder, absolute, if any. */
    projector: string | null;
    /** Cheap content fingerprint: sha256 over header facts, size, first and last MiB. Hex. */
    fingerprint: string;
    modified_at: string;
    mtime_ms: number;
    /** Quantization tag used in `name:tag` lookups (lower case, e.g. "q8_0"). */
    quant_tag: string;
    /** Base name shared by every quantization of the model (without `:tag`). */
    base_name: string;
    metadata: GgufMetadata | null;
    /** Defaults from a Modelfile or an adopted store's params/system layers. */
    defaults?: ModelDefaults;
}

export interface ModelDefaults {
    system?: string;
    options?: Record<string, unknown>;
    stop?: string[];
    messages?: Array<{role: string; content: string}>;
    /** A Go template we show in /api/show but never execute. */
    template?: string;
    /** The raw Modelfile text, when one was read. */
    modelfile?: string;
}

/** A model found in another tool's store (Ollama, LM Studio, the Hugging Face cache). */
export interface ExternalModel {
    /** The name that tool uses (`llama3.2:latest` for Ollama). */
    name: string;
    files: string[];
    source: Exclude<ModelSource, "models_dir">;
    projector?: string | null;
    defaults?: ModelDefaults;
    digest?: string;
}

export interface ModelsIndex {
    version: 1;
    generated_at: string;
    home: string;
    models_dir: string;
    /** Every model file found, invalid ones included (status "invalid" with a reason; they are never served). */
    models: ModelEntry[];
    /** Projector files and the model they belong to. */
    projectors: Array<{path: string; abs_path: string; size_bytes: number; mtime_ms: number; model: string | null}>;
}
