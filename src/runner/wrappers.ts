/**
 * Which chat wrapper renders a request's prompt and reads the model's answer. node-llama-cpp resolves one from the
 * GGUF's template; a request's reasoning settings and tools may need another configuration of it (thinking off, a
 * reasoning effort, the XML tool syntax). Resolving renders the template several times, so each configuration is
 * resolved once and kept.
 */
import {
    HarmonyChatWrapper, JinjaTemplateChatWrapper, resolveChatWrapper,
    type ChatWrapper, type LlamaModel, type ResolveChatWrapperWithModelOptions
} from "node-llama-cpp";
import type {GenerateRequest, ToolDefinition} from "../runtime/protocol.js";
import {isHarmonyTemplate, thinkingSupport, thoughtBudget, type ThinkingSupport} from "./reasoning.js";
import type {WrapperMemo} from "./wrapper-memo.js";
import {isXmlToolTemplate, XmlToolsChatWrapper} from "./xml-tools-wrapper.js";

type CustomSettings = {-readonly [K in keyof NonNullable<ResolveChatWrapperWithModelOptions["customWrapperSettings"]>]: NonNullable<ResolveChatWrapperWithModelOptions["customWrapperSettings"]>[K]};

/** Wrappers with a native tool-call syntax that node-llama-cpp's function calling drives. */
const NATIVE_TOOL_WRAPPERS = new Set(["Llama 3.1", "Llama 3.2 lightweight", "Qwen", "Mistral", "Functionary", "DeepSeek", "Harmony", "Gemma 4", "Seed"]);

/** Distinct configurations kept per model: agents send the same tools every turn, so a handful is plenty. */
const CACHE_SIZE = 16;

export interface ChatPlan {
    wrapper: ChatWrapper;
    /** The client turned thinking off where the template cannot: the thought segment is generated but not sent. */
    hideThoughts: boolean;
    /** Tool calls come back as answer text in the model's own syntax (ToolCallFilter parses them), not through function calling. */
    textToolCalls: boolean;
    /** The thought-token budget; undefined leaves node-llama-cpp's default. */
    thoughtBudget?: number;
}

/** The wrapper has a thought segment it separates from the answer (and renders in earlier turns). */
export function hasThoughtSegments(wrapper: ChatWrapper): boolean {
    return wrapper.settings.segments?.thought != null;
}

export class ChatWrappers {
    private readonly template: string | null;
    /** The wrapper for a request that asks nothing special. */
    readonly base: ChatWrapper;
    readonly thinking: ThinkingSupport | null;
    private readonly cache = new Map<string, ChatWrapper>();

    /** `memo` skips resolveChatWrapper's template search for a file seen before (wrapper-memo.ts). */
    constructor(private readonly model: LlamaModel, private readonly memo?: {memo: WrapperMemo; modelPath: string}) {
        const template = model.fileInfo.metadata?.tokenizer?.chat_template;
        this.template = typeof template === "string" && template.trim() !== "" ? template : null;
        this.base = this.resolve({});
        this.thinking = thinkingSupport(this.template, this.base.wrapperName);
    }

    /**
     * node-llama-cpp's choice, except for Harmony: a Harmony template it could not match to its Harmony wrapper
     * (a fine-tune's edited template, for example) would be run as plain Jinja, which cannot tell the analysis
     * channel from the answer or read a call in the commentary channel.
     */
    private resolve(custom: CustomSettings): ChatWrapper {
        const wrapper = this.memo != null
            ? this.memo.memo.resolve(this.model, this.memo.modelPath, custom)
            : resolveChatWrapper(this.model, {customWrapperSettings: custom, warningLogs: false});
        if (wrapper instanceof JinjaTemplateChatWrapper && isHarmonyTemplate(this.template)) return new HarmonyChatWrapper(custom.harmony ?? {});
        return wrapper;
    }

    private cached(key: string, create: () => ChatWrapper): ChatWrapper {
        let w = this.cache.get(key);
        if (w) {
            this.cache.delete(key);
        } else {
            w = create();
            while (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
        }
        this.cache.set(key, w);
        return w;
    }

    /**
     * XML-style calls are read from the answer text unless a dedicated wrapper drives the syntax. The Jinja wrapper
     * never does: the best it extracts from such a template is one `<parameter=params>` holding the arguments as
     * JSON, which the model was not trained to write and which puts earlier calls in the prompt in that shape too.
     */
    private xmlTools(): boolean {
        return isXmlToolTemplate(this.template) && !NATIVE_TOOL_WRAPPERS.has(this.base.wrapperName);
    }

    /** The wrapper and reading rules for one chat request; `tools` are the tools the model may call (none: undefined). */
    plan(req: Pick<GenerateRequest, "reasoning">, tools: readonly ToolDefinition[] | undefined): ChatPlan {
        const reasoning = req.reasoning;
        const off = reasoning?.enabled === false;
        const custom: CustomSettings = {};
        if (this.thinking != null) {
            if (off && this.thinking.off === "disabled") {
                custom.qwen = {thoughts: "discourage"};
                custom.jinjaTemplate = {reasoning: false};
                custom.gemma4 = {reasoning: false};
                custom.seed = {thinkingBudget: 0};
            } else if (reasoning?.budgetTokens != null) {
                custom.seed = {thinkingBudget: reasoning.budgetTokens};
            }
            // gpt-oss reads its effort from the system message and cannot stop reasoning: off is the least of it
            if (this.base.wrapperName === "Harmony" || isHarmonyTemplate(this.template)) {
                const effort = off ? "low" : reasoning?.effort;
                if (effort != null) custom.harmony = {reasoningEffort: effort};
            }
        }
        const xml = tools != null && tools.length > 0 && this.xmlTools();
        let wrapper: ChatWrapper;
        if (xml) {
            const enable = custom.jinjaTemplate?.reasoning ?? null;
            wrapper = this.cached(JSON.stringify({xml: tools, enable}), () => new XmlToolsChatWrapper({
                template: this.template!, tokenizer: this.model.tokenizer, tools: tools!, reasoning: enable
            }));
        } else {
            wrapper = Object.keys(custom).length === 0 ? this.base : this.cached(JSON.stringify(custom), () => this.resolve(custom));
        }
        return {wrapper, hideThoughts: off, textToolCalls: xml, thoughtBudget: thoughtBudget(reasoning)};
    }
}
