/** The response headers this server adds to answers. */

/** The name of the model that served a request, on every answer (aliases and fuzzy matches resolve to it). */
export const MODEL_HEADER = "X-ZombieCoder-Model";
/** Set when a client asked for more context than the model is loaded with. */
export const CONTEXT_HEADER = "X-ZombieCoder-Context";

/** The scheduling facts of a whole (not streamed) answer: why it took as long as it did. */
export const SCHEDULING_HEADERS = {
    queueMs: "X-ZombieCoder-Queue-Ms",
    loadMs: "X-ZombieCoder-Load-Ms",
    evicted: "X-ZombieCoder-Evicted",
    promptTokensCached: "X-ZombieCoder-Prompt-Tokens-Cached",
    promptTokensEvaluated: "X-ZombieCoder-Prompt-Tokens-Evaluated",
    promptTokensRestored: "X-ZombieCoder-Prompt-Tokens-Restored",
    truncatedTokens: "X-ZombieCoder-Truncated-Tokens",
    latency: "X-ZombieCoder-Latency"
} as const;

/** For CORS's Access-Control-Expose-Headers: a browser client (the dashboard, a web UI) reads only those listed. */
export const EXPOSED_HEADERS: readonly string[] = [MODEL_HEADER, CONTEXT_HEADER, ...Object.values(SCHEDULING_HEADERS)];
