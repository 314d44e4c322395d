import {badRequest, ProviderError} from "../runtime/errors.js";
import type {ChatMessage, EmbedResult, GenerateRequest, GenerationEvent, GenerationStats, ToolCall} from "../runtime/protocol.js";
import {Upstream, upstreamStats, type UpstreamCall, type UpstreamModel} from "./client.js";

type Json = Record<string, unknown>;

function openAIMessages(messages: ChatMessage[]): Json[] {
    const out: Json[] = [];
    for (const m of messages) {
        if (m.role === "assistant" && m.tool_calls?.length) {
            out.push({
                role: "assistant", content: m.content === "" ? null : m.content,
                tool_calls: m.tool_calls.map((c) => ({id: c.id, type: "function", function: {name: c.name, arguments: JSON.stringify(c.arguments)}}))
            });
        } else if (m.role === "tool") {
            out.push({role: "tool", content: m.content, tool_call_id: m.tool_call_id ?? "", ...(m.tool_name ? {name: m.tool_name} : {})});
        } else {
            out.push({role: m.role, content: m.content});
        }
    }
    return out;
}

function toolChoice(choice: GenerateRequest["tool_choice"]): unknown {
    if (choice == null) return undefined;
    if (typeof choice === "object") return {type: "function", function: {name: choice.name}};
    return choice;
}

/** One streamed tool call, assembled from its fragments by index. */
interface PartialCall {
    id: string;
    name: string;
    args: string;
}

/**
 * An OpenAI-compatible server (vLLM, llama-server, another ZombieCoder): every family, Ollama's included, reaches it
 * through the internal request, translated to /v1/chat/completions or /v1/completions and back.
 */
export class OpenAIUpstream extends Upstream {
    async listModels(): Promise<UpstreamModel[]> {
        const body = await this.listJson<{data?: Json[] | null}>("/v1/models");
        return (body.data ?? []).filter((m) => typeof m.id === "string")
            .map((m) => ({name: m.id as string, ...(typeof m.created === "number" ? {created: m.created} : {})}));
    }

    async startGeneration(name: string, req: GenerateRequest, signal?: AbortSignal): Promise<UpstreamCall> {
        const o = req.options;
        const sampling: Json = {
            temperature: o.temperature,
            top_p: o.top_p,
            // not in OpenAI's schema, but vLLM and llama-server honour them and other servers ignore them
            top_k: o.top_k,
            min_p: o.min_p,
            ...(o.repeat_penalty !== 1 ? {repeat_penalty: o.repeat_penalty} : {}),
            ...(o.seed != null ? {seed: o.seed} : {}),
            ...(o.num_predict > 0 ? {max_tokens: o.num_predict} : {}),
            ...(o.stop.length > 0 ? {stop: o.stop} : {}),
            presence_penalty: o.presence_penalty,
            frequency_penalty: o.frequency_penalty,
            stream: true,
            stream_options: {include_usage: true},
            ...(req.grammar != null ? {grammar: req.grammar} : {})
        };
        let path: string;
        let body: Json;
        if (req.mode === "chat") {
            path = "/v1/chat/completions";
            const format = req.format;
            body = {
                model: name, messages: openAIMessages(req.messages ?? []), ...sampling,
                ...(req.tools?.length ? {
                    tools: req.tools.map((t) => ({type: "function", function: {name: t.name, description: t.description ?? "", parameters: t.parameters ?? {type: "object", properties: {}}}})),
                    ...(req.tool_choice != null ? {tool_choice: toolChoice(req.tool_choice)} : {})
                } : {}),
                ...(format === "json" ? {response_format: {type: "json_object"}} : {}),
                ...(format != null && format !== "json" ? {response_format: {type: "json_schema", json_schema: {name: "output", schema: format}}} : {})
            };
        } else {
            if (req.format != null) throw badRequest(`${this.describe()} is OpenAI-compatible; its /v1/completions takes no format: use a chat request`);
            path = "/v1/completions";
            body = {model: name, prompt: req.prompt ?? "", ...(req.mode === "infill" ? {suffix: req.suffix ?? ""} : {}), ...sampling};
        }
        const call = await this.send(path, {body, signal});
        if (!call.response.ok) throw await this.failure(call);
        return call;
    }

    async readGeneration(call: UpstreamCall, req: GenerateRequest, onEvent: (e: GenerationEvent) => void, signal: AbortSignal): Promise<GenerationStats> {
        call.link(signal);
        const partial = new Map<number, PartialCall>();
        let finish: string | null = null;
        let usage: Json | null = null;
        let done = false;
        for await (const line of this.lines(call, signal)) {
            if (!line.startsWith("data:")) continue;
            const data = line.slice(5).trim();
            if (data === "[DONE]") {
                done = true;
                break;
            }
            let chunk: Json;
            try {
                chunk = JSON.parse(data) as Json;
            } catch {
                throw new ProviderError("upstream_failed", `${this.describe()} sent an event that is not JSON: ${data.slice(0, 200)}`, {code: "upstream_bad_response"});
            }
            if (chunk.error != null) {
                const e = chunk.error as {message?: unknown; type?: unknown};
                // an error event carries no status; its type tells a refused request from a failure
                const status = e.type === "invalid_request_error" ? 400 : e.type === "not_found_error" ? 404 : null;
                const message = `${this.describe()}: ${typeof e.message === "string" ? e.message : JSON.stringify(chunk.error)}`;
                throw status != null
                    ? new ProviderError("upstream_refused", message, {code: "upstream_error", upstreamStatus: status})
                    : new ProviderError("upstream_failed", message, {code: "upstream_error"});
            }
            if (chunk.usage != null && typeof chunk.usage === "object") usage = chunk.usage as Json;
            const choice = (chunk.choices as Json[] | undefined)?.[0];
            if (!choice) continue;
            const delta = (req.mode === "chat" ? choice.delta : choice) as Json | undefined;
            const text = req.mode === "chat" ? delta?.content : choice.text;
            if (typeof text === "string" && text !== "") onEvent({type: "text", id: 0, text, tokens: 1});
            for (const tc of (delta?.tool_calls as Json[] | undefined) ?? []) {
                const index = typeof tc.index === "number" ? tc.index : partial.size;
                const fn = (tc.function ?? {}) as Json;
                const p = partial.get(index) ?? {id: "", name: "", args: ""};
                if (typeof tc.id === "string") p.id = tc.id;
                if (typeof fn.name === "string") p.name += fn.name;
                if (typeof fn.arguments === "string") p.args += fn.arguments;
                partial.set(index, p);
            }
            if (typeof choice.finish_reason === "string") finish = choice.finish_reason;
        }
        if (signal.aborted) return upstreamStats({done_reason: "stop"});
        if (!done && finish == null) throw new ProviderError("upstream_failed", `${this.describe()} ended the stream before it finished`, {code: "upstream_broken"});
        if (partial.size > 0) {
            const calls: ToolCall[] = [...partial.entries()].sort((a, b) => a[0] - b[0]).map(([i, p]) => {
                let args: Json;
                try {
                    args = p.args.trim() === "" ? {} : JSON.parse(p.args) as Json;
                } catch {
                    throw new ProviderError("upstream_failed", `${this.describe()} sent tool call arguments that are not JSON: ${p.args.slice(0, 200)}`, {code: "upstream_bad_response"});
                }
                return {id: p.id || `call_${i}`, name: p.name, arguments: args};
            });
            onEvent({type: "tool_calls", id: 0, calls});
        }
        const promptTokens = Number(usage?.prompt_tokens ?? 0);
        const cached = Number((usage?.prompt_tokens_details as Json | undefined)?.cached_tokens ?? 0);
        return upstreamStats({
            done_reason: partial.size > 0 || finish === "tool_calls" ? "tool_calls" : finish === "length" ? "length" : "stop",
            prompt_tokens: promptTokens,
            prompt_eval_count: Math.max(0, promptTokens - cached),
            cached_tokens: cached,
            eval_count: Number(usage?.completion_tokens ?? 0)
        });
    }

    async embed(name: string, inputs: string[], _truncate: boolean, signal: AbortSignal): Promise<EmbedResult> {
        const call = await this.send("/v1/embeddings", {body: {model: name, input: inputs, encoding_format: "float"}, signal});
        if (!call.response.ok) throw await this.failure(call);
        const body = await this.json<{data?: Array<{embedding: number[]; index: number}>; usage?: {prompt_tokens?: number}}>(call);
        const data = [...(body.data ?? [])].sort((a, b) => a.index - b.index);
        return {vectors: data.map((d) => d.embedding), prompt_tokens: body.usage?.prompt_tokens ?? 0};
    }
}
