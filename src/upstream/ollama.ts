import {randomBytes} from "node:crypto";
import {badRequest, ProviderError} from "../runtime/errors.js";
import type {ChatMessage, EmbedResult, GenerateRequest, GenerationEvent, GenerationStats, SamplingOptions, ToolCall} from "../runtime/protocol.js";
import {Upstream, upstreamStats, type UpstreamCall, type UpstreamModel} from "./client.js";

type Json = Record<string, unknown>;

/** Every sampling value explicitly, so the upstream samples as the local engine would. */
export function ollamaOptions(o: SamplingOptions): Json {
    return {
        temperature: o.temperature,
        top_k: o.top_k,
        top_p: o.top_p,
        min_p: o.min_p,
        ...(o.seed != null ? {seed: o.seed} : {}),
        num_predict: o.num_predict,
        ...(o.stop.length > 0 ? {stop: o.stop} : {}),
        repeat_penalty: o.repeat_penalty,
        repeat_last_n: o.repeat_last_n,
        presence_penalty: o.presence_penalty,
        frequency_penalty: o.frequency_penalty
    };
}

function ollamaMessages(messages: ChatMessage[]): Json[] {
    return messages.map((m) => ({
        role: m.role,
        content: m.content,
        ...(m.tool_calls?.length ? {tool_calls: m.tool_calls.map((c) => ({function: {name: c.name, arguments: c.arguments}}))} : {}),
        ...(m.role === "tool" && m.tool_name ? {tool_name: m.tool_name} : {})
    }));
}

function callId(): string {
    return "call_" + randomBytes(6).toString("hex");
}

/** An Ollama server: Ollama requests pass through as they are; other families reach it through /api/chat and /api/generate. */
export class OllamaUpstream extends Upstream {
    async listModels(): Promise<UpstreamModel[]> {
        const body = await this.listJson<{models?: Json[] | null}>("/api/tags");
        return (body.models ?? []).filter((m) => typeof m.name === "string").map((m) => ({name: m.name as string, tag: m}));
    }

    async startGeneration(name: string, req: GenerateRequest, signal?: AbortSignal): Promise<UpstreamCall> {
        if (req.grammar != null) throw badRequest(`${this.describe()} is an Ollama server, which does not accept a GBNF grammar; send format instead`);
        if (req.tool_choice === "required" || typeof req.tool_choice === "object")
            throw badRequest(`${this.describe()} is an Ollama server, which cannot force a tool call; send tool_choice "auto" or "none"`);
        const options = ollamaOptions(req.options);
        const format = req.format;
        let path: string;
        let body: Json;
        if (req.mode === "chat") {
            path = "/api/chat";
            const tools = req.tool_choice === "none" ? undefined : req.tools;
            body = {
                model: name, messages: ollamaMessages(req.messages ?? []), stream: true, options,
                ...(tools?.length ? {tools: tools.map((t) => ({type: "function", function: {name: t.name, description: t.description ?? "", parameters: t.parameters ?? {type: "object", properties: {}}}}))} : {}),
                ...(format != null ? {format} : {})
            };
        } else {
            path = "/api/generate";
            body = {
                model: name, prompt: req.prompt ?? "", stream: true, options,
                ...(req.mode === "infill" ? {suffix: req.suffix ?? ""} : {raw: true}),
                ...(format != null ? {format} : {})
            };
        }
        const call = await this.send(path, {body, signal});
        if (!call.response.ok) throw await this.failure(call);
        return call;
    }

    async readGeneration(call: UpstreamCall, req: GenerateRequest, onEvent: (e: GenerationEvent) => void, signal: AbortSignal): Promise<GenerationStats> {
        call.link(signal);
        let sawCalls = false;
        for await (const line of this.lines(call, signal)) {
            if (line.trim() === "") continue;
            let chunk: Json;
            try {
                chunk = JSON.parse(line) as Json;
            } catch {
                throw new ProviderError("upstream_failed", `${this.describe()} sent a line that is not JSON: ${line.slice(0, 200)}`, {code: "upstream_bad_response"});
            }
            if (chunk.error != null) throw new ProviderError("upstream_failed", `${this.describe()}: ${String(chunk.error)}`, {code: "upstream_error"});
            const text = req.mode === "chat" ? (chunk.message as Json | undefined)?.content : chunk.response;
            if (typeof text === "string" && text !== "") onEvent({type: "text", id: 0, text, tokens: 1});
            const toolCalls = (chunk.message as Json | undefined)?.tool_calls;
            if (Array.isArray(toolCalls) && toolCalls.length > 0) {
                sawCalls = true;
                const calls: ToolCall[] = toolCalls.map((tc: Json) => {
                    const fn = (tc.function ?? {}) as Json;
                    let args = fn.arguments ?? {};
                    if (typeof args === "string") args = JSON.parse(args || "{}") as Json;
                    return {id: typeof tc.id === "string" ? tc.id : callId(), name: String(fn.name ?? ""), arguments: args as Json};
                });
                onEvent({type: "tool_calls", id: 0, calls});
            }
            if (chunk.done === true) {
                const reason = chunk.done_reason === "length" ? "length" : sawCalls ? "tool_calls" : "stop";
                return upstreamStats({
                    done_reason: reason,
                    prompt_eval_count: Number(chunk.prompt_eval_count ?? 0),
                    eval_count: Number(chunk.eval_count ?? 0),
                    prompt_eval_duration_ns: Number(chunk.prompt_eval_duration ?? 0),
                    eval_duration_ns: Number(chunk.eval_duration ?? 0)
                });
            }
        }
        if (signal.aborted) return upstreamStats({done_reason: "stop"});
        throw new ProviderError("upstream_failed", `${this.describe()} ended the stream without a final done line`, {code: "upstream_broken"});
    }

    async embed(name: string, inputs: string[], truncate: boolean, signal: AbortSignal): Promise<EmbedResult> {
        const call = await this.send("/api/embed", {body: {model: name, input: inputs, truncate}, signal});
        if (!call.response.ok) throw await this.failure(call);
        const body = await this.json<{embeddings?: number[][]; prompt_eval_count?: number}>(call);
        return {vectors: body.embeddings ?? [], prompt_tokens: body.prompt_eval_count ?? 0};
    }
}
