/**
 * Responses answers: the SSE event sequence (response.created … response.completed, a sequence_number on each) and the
 * whole response object, both built by one writer so a streamed answer and a whole one always agree.
 */
import type {GenerationResult} from "../../runtime/job.js";
import type {ChatMessage, ToolCall} from "../../runtime/protocol.js";
import type {StreamWriter} from "../../server/stream.js";
import {schedulingFacts, type WireFormat} from "../shared/generation.js";
import type {Body} from "../shared/parse.js";
import {randomId} from "../openai/format.js";
import type {ToolSet} from "./tools.js";
import type {
    DroppedTool, FunctionCallItem, MessageItem, OutputItem, ReasoningItem, ResponseEcho, ResponseObject, ResponseStatus, ResponseUsage
} from "./wire.js";
import type {ReasoningWireFormat} from "../ollama/format.js";

export interface ResponseContext {
    id: string;
    model: string;
    echo: ResponseEcho;
    tools: ToolSet;
    dropped: DroppedTool[];
    maxToolCalls: number;
    /** Called once with the finished response and its answer as a chat message (for the store). */
    onComplete(response: ResponseObject, answer: ChatMessage): void;
}

const unix = () => Math.floor(Date.now() / 1000);

export function responsesUsage(r: GenerationResult): ResponseUsage {
    return {
        input_tokens: r.stats.prompt_tokens,
        input_tokens_details: {cached_tokens: r.stats.cached_tokens},
        output_tokens: r.stats.eval_count,
        output_tokens_details: {reasoning_tokens: r.stats.reasoning_tokens ?? 0},
        total_tokens: r.stats.prompt_tokens + r.stats.eval_count,
        zombiecoder: schedulingFacts(r)
    };
}

type Emit = (type: string, data: Body) => void;

/**
 * One response as it is written: output items grow as text and calls arrive, and each change is announced through
 * `emit` (a no-op for a whole answer).
 */
export class ResponseWriter {
    readonly createdAt = unix();
    readonly items: OutputItem[] = [];
    private message: MessageItem | null = null;
    private reasoning: ReasoningItem | null = null;
    private calls = 0;
    private completed = false;

    constructor(private readonly ctx: ResponseContext, private readonly emit: Emit) {}

    snapshot(status: ResponseStatus, extra: Partial<ResponseObject> = {}): ResponseObject {
        return {
            id: this.ctx.id,
            object: "response",
            created_at: this.createdAt,
            completed_at: null,
            status,
            error: null,
            incomplete_details: null,
            model: this.ctx.model,
            output: structuredClone(this.items),
            background: false,
            service_tier: "default",
            usage: null,
            ...this.ctx.echo,
            ...(this.ctx.dropped.length > 0 ? {dropped_tools: this.ctx.dropped} : {}),
            ...extra
        };
    }

    begin(): void {
        this.emit("response.created", {response: this.snapshot("in_progress")});
        this.emit("response.in_progress", {response: this.snapshot("in_progress")});
    }

    /** A piece of the thought: a reasoning item (before the message it precedes) with one reasoning_text part. */
    thinking(delta: string): void {
        if (delta === "") return;
        let item = this.reasoning;
        if (!item) {
            this.closeMessage("completed");
            item = {id: randomId("rs_"), type: "reasoning", status: "in_progress", summary: [], content: []};
            this.items.push(item);
            this.reasoning = item;
            const output_index = this.items.length - 1;
            this.emit("response.output_item.added", {output_index, item: structuredClone(item)});
            item.content.push({type: "reasoning_text", text: ""});
            this.emit("response.content_part.added", {item_id: item.id, output_index, content_index: 0, part: {type: "reasoning_text", text: ""}});
        }
        item.content[0]!.text += delta;
        this.emit("response.reasoning_text.delta", {item_id: item.id, output_index: this.items.indexOf(item), content_index: 0, delta});
    }

    private closeReasoning(status: ReasoningItem["status"]): void {
        const item = this.reasoning;
        if (!item) return;
        this.reasoning = null;
        const output_index = this.items.indexOf(item);
        const text = item.content[0]!.text;
        this.emit("response.reasoning_text.done", {item_id: item.id, output_index, content_index: 0, text});
        this.emit("response.content_part.done", {item_id: item.id, output_index, content_index: 0, part: {type: "reasoning_text", text}});
        item.status = status;
        this.emit("response.output_item.done", {output_index, item: structuredClone(item)});
    }

    private openMessage(): MessageItem {
        this.closeReasoning("completed");
        if (this.message) return this.message;
        const item: MessageItem = {id: randomId("msg_"), type: "message", status: "in_progress", role: "assistant", content: []};
        this.items.push(item);
        this.message = item;
        const output_index = this.items.length - 1;
        this.emit("response.output_item.added", {output_index, item: structuredClone(item)});
        item.content.push({type: "output_text", text: "", annotations: [], logprobs: []});
        this.emit("response.content_part.added", {item_id: item.id, output_index, content_index: 0, part: {type: "output_text", text: "", annotations: []}});
        return item;
    }

    private closeMessage(status: MessageItem["status"]): void {
        const item = this.message;
        if (!item) return;
        this.message = null;
        const output_index = this.items.indexOf(item);
        const text = item.content[0]!.text;
        this.emit("response.output_text.done", {item_id: item.id, output_index, content_index: 0, text, logprobs: []});
        this.emit("response.content_part.done", {item_id: item.id, output_index, content_index: 0, part: {type: "output_text", text, annotations: []}});
        item.status = status;
        this.emit("response.output_item.done", {output_index, item: structuredClone(item)});
    }

    text(delta: string): void {
        if (delta === "") return;
        const item = this.openMessage();
        item.content[0]!.text += delta;
        this.emit("response.output_text.delta", {item_id: item.id, output_index: this.items.indexOf(item), content_index: 0, delta, logprobs: []});
    }

    /** Calls past the request's limit (parallel_tool_calls: false, max_tool_calls) are not returned. */
    toolCalls(calls: ToolCall[]): void {
        if (calls.length === 0) return;
        this.closeReasoning("completed");
        this.closeMessage("completed");
        for (const call of calls) {
            if (this.calls >= this.ctx.maxToolCalls) return;
            this.calls++;
            const wire = this.ctx.tools.wireName(call.name);
            const args = JSON.stringify(call.arguments);
            const item: FunctionCallItem = {
                id: randomId("fc_"), type: "function_call", status: "in_progress", call_id: call.id, name: wire.name, arguments: "",
                ...(wire.namespace ? {namespace: wire.namespace} : {})
            };
            this.items.push(item);
            const output_index = this.items.length - 1;
            this.emit("response.output_item.added", {output_index, item: structuredClone(item)});
            this.emit("response.function_call_arguments.delta", {item_id: item.id, output_index, delta: args});
            item.arguments = args;
            this.emit("response.function_call_arguments.done", {item_id: item.id, output_index, name: wire.name, arguments: args});
            item.status = "completed";
            this.emit("response.output_item.done", {output_index, item: structuredClone(item)});
        }
    }

    /** The final response: announced (completed, or incomplete when the output limit ended it) and handed to onComplete. */
    finish(r: GenerationResult): ResponseObject {
        const incomplete = r.stats.done_reason === "length" && this.calls === 0;
        // an answer always has a message or a call, even an empty one, as OpenAI's does
        if (!this.items.some((i) => i.type !== "reasoning")) this.openMessage();
        this.closeMessage(incomplete ? "incomplete" : "completed");
        const response = this.snapshot(incomplete ? "incomplete" : "completed", {
            completed_at: unix(),
            usage: responsesUsage(r),
            ...(incomplete ? {incomplete_details: {reason: "max_output_tokens" as const}} : {})
        });
        this.emit(incomplete ? "response.incomplete" : "response.completed", {response});
        if (!this.completed) {
            this.completed = true;
            this.ctx.onComplete(response, this.answer());
        }
        return response;
    }

    fail(message: string, status: number): void {
        const code = status >= 500 ? "server_error" : "invalid_request";
        this.closeReasoning("incomplete");
        this.closeMessage("incomplete");
        this.emit("response.failed", {response: this.snapshot("failed", {error: {code, message}})});
        this.emit("error", {code, message, param: null});
    }

    /** The answer as the model wrote it (its own tool names), for the conversation a later response continues. */
    private answer(): ChatMessage {
        let content = "";
        let thinking = "";
        const calls: ToolCall[] = [];
        for (const item of this.items) {
            if (item.type === "message") content += item.content.map((c) => c.text).join("");
            else if (item.type === "reasoning") thinking += item.content.map((c) => c.text).join("");
            else calls.push({id: item.call_id, name: this.ctx.tools.modelName(item.name, item.namespace), arguments: JSON.parse(item.arguments) as Record<string, unknown>});
        }
        // the thought goes with the answer: the template keeps it while a tool round trip continues this turn
        return {role: "assistant", content, ...(thinking !== "" ? {thinking} : {}), ...(calls.length > 0 ? {tool_calls: calls} : {})};
    }
}

/** The Responses wire format for the shared generation driver. */
export function responsesFormat(ctx: ResponseContext): ReasoningWireFormat {
    let sequence = 0;
    // a streamed answer starts with start(), which hands over the stream every later event goes to
    let stream: StreamWriter | null = null;
    const writer = new ResponseWriter(ctx, (type, data) => stream?.sse({type, ...data, sequence_number: sequence++}, type));
    return {
        contentType: "text/event-stream",
        start: (w) => {
            stream = w;
            writer.begin();
        },
        text: (_w, text) => writer.text(text),
        toolCalls: (_w, calls) => writer.toolCalls(calls),
        finish: (_w, r) => {
            writer.finish(r);
        },
        error: (_w, message, status) => writer.fail(message, status),
        thinking: (_w, text) => writer.thinking(text),
        aggregate: (text, calls, r, thinking) => {
            writer.thinking(thinking ?? "");
            writer.text(text);
            writer.toolCalls(calls);
            return writer.finish(r);
        }
    };
}
