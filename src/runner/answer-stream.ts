/**
 * Sorts what a chat generation writes into the events the server forwards: thought segments into `thinking`, the
 * answer into `text`, and tool calls written as answer text (ToolCallFilter) into `tool_calls`, as they come.
 */
import type {LlamaChatResponseChunk} from "node-llama-cpp";
import type {GenerationEvent, ToolCall, ToolDefinition} from "../runtime/protocol.js";
import type {GenerationMeter} from "./meter.js";
import {ToolCallFilter} from "./tool-syntax.js";

export interface AnswerStreamOptions {
    id: number;
    meter: GenerationMeter;
    emit: (event: GenerationEvent) => void;
    /** The client turned thinking off where the model cannot: thoughts are counted, never sent. */
    hideThoughts: boolean;
    /** Tools whose calls may arrive as answer text; absent: the answer is passed on as it is. */
    textTools?: {definitions: readonly ToolDefinition[]; maxCalls: number; onLimit(): void; prefill?: string};
    /** A call-like block that did not parse (it went out as text). */
    warn(message: string, data: Record<string, unknown>): void;
    newCallId(): string;
}

export class AnswerStream {
    /** Calls parsed from the answer text, already sent. */
    readonly textCalls: ToolCall[] = [];
    private readonly filter: ToolCallFilter | null;
    /** The answer after a thought starts with the template's separator (Qwen3's blank line), which is not answer text. */
    private trimLeading = false;

    constructor(private readonly opts: AnswerStreamOptions) {
        const tools = opts.textTools;
        this.filter = tools == null ? null : new ToolCallFilter({
            tools: tools.definitions,
            maxCalls: tools.maxCalls,
            onLimit: tools.onLimit,
            onText: (text) => opts.meter.add("text", text, 0),
            onCalls: (calls) => {
                const out = calls.map((c) => ({id: opts.newCallId(), name: c.name, arguments: c.arguments}));
                this.textCalls.push(...out);
                opts.meter.flush();
                opts.emit({type: "tool_calls", id: opts.id, calls: out});
            },
            onUnparsed: (syntax, reason, raw) => opts.warn("a tool call in the model's answer did not parse; it was sent as text",
                {syntax, reason, text: raw.length > 400 ? raw.slice(0, 400) + "…" : raw})
        });
        // a forced call's opening is already in the prompt (the answer continues it)
        if (this.filter && tools?.prefill) this.filter.push(tools.prefill);
    }

    /** Pass as generateResponse's `onResponseChunk`. */
    readonly onResponseChunk = (chunk: LlamaChatResponseChunk): void => {
        const tokens = chunk.tokens.length;
        if (chunk.type === "segment" && chunk.segmentType === "thought") {
            this.opts.meter.reasoningTokens += tokens;
            this.trimLeading = true;
            if (this.opts.hideThoughts) this.opts.meter.add("text", "", tokens);
            else this.opts.meter.add("thinking", chunk.text, tokens);
            return;
        }
        // Harmony's commentary channel without a recipient is the model's preamble to the user: answer text
        let text = chunk.text;
        if (this.trimLeading) {
            text = text.replace(/^\s+/, "");
            if (text !== "") this.trimLeading = false;
        }
        if (this.filter) {
            this.opts.meter.add("text", "", tokens);
            this.filter.push(text);
        } else {
            this.opts.meter.add("text", text, tokens);
        }
    };

    /** The generation ended: sends what the filter held back. */
    finish(): void {
        this.filter?.finish();
    }
}
