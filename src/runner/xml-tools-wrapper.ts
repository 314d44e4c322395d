/**
 * A chat wrapper for models that call tools in Qwen3-Coder's XML style
 * (`<tool_call>\n<function=NAME>\n<parameter=KEY>\nVALUE\n</parameter>\n</function>\n</tool_call>`) inside ChatML
 * turns.
 *
 * node-llama-cpp's function calling cannot express this syntax (its calls are a name followed by one JSON object),
 * so for such a template it falls back to its generic `||call:` syntax and documents the tools in that syntax:
 * the model is taught calls it was never trained on, and the XML it writes anyway leaks into the answer. This
 * wrapper keeps the model's own Jinja template for the prompt and hands it the tools the way the template expects
 * (its `tools` variable), writes earlier calls and their results in the template's syntax, and leaves calls in the
 * answer text, where ToolCallFilter parses them.
 */
import {JinjaTemplateChatWrapper, LlamaText, SpecialTokensText, type ChatHistoryItem, type ChatWrapperSettings, type Tokenizer} from "node-llama-cpp";
import type {ToolDefinition} from "../runtime/protocol.js";

/** A Jinja template whose calls are `<function=…>` blocks with `<parameter=…>` arguments, in ChatML turns. */
export function isXmlToolTemplate(template: string | null | undefined): boolean {
    return template != null && template.includes("<function=") && template.includes("<parameter=") && template.includes("<|im_start|>");
}

/** An argument as the template writes it: strings as they are, everything else as JSON. */
function argumentText(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
}

export interface XmlToolsWrapperOptions {
    template: string;
    tokenizer: Tokenizer;
    tools: readonly ToolDefinition[];
    /** Passed to the template as `enable_thinking`; null leaves the template's default. */
    reasoning: boolean | null;
}

export class XmlToolsChatWrapper extends JinjaTemplateChatWrapper {
    constructor({template, tokenizer, tools, reasoning}: XmlToolsWrapperOptions) {
        super({
            template,
            tokenizer,
            reasoning,
            // the template's own call syntax is not one node-llama-cpp can extract; the parts are written below
            functionCallMessageTemplate: "noJinja",
            additionalRenderParameters: tools.length > 0
                ? {tools: tools.map((t) => ({type: "function", function: {name: t.name, description: t.description ?? "", parameters: t.parameters ?? {type: "object", properties: {}}}}))}
                : undefined
        });
        // earlier calls end the assistant turn, their results come back as a user turn of <tool_response> blocks,
        // and the model answers in a new assistant turn: the layout the template gives tool_calls and tool messages
        const settings: ChatWrapperSettings = {
            ...this.settings,
            functions: {
                ...this.settings.functions,
                parallelism: {
                    call: {sectionPrefix: "", betweenCalls: "\n", sectionSuffix: LlamaText(new SpecialTokensText("<|im_end|>\n"))},
                    result: {
                        sectionPrefix: LlamaText(new SpecialTokensText("<|im_start|>user\n")),
                        betweenResults: "",
                        sectionSuffix: LlamaText(new SpecialTokensText("<|im_end|>\n<|im_start|>assistant\n"))
                    }
                }
            }
        };
        Object.defineProperty(this, "settings", {value: settings, writable: false, enumerable: true, configurable: true});
    }

    /** The template documents the tools itself (they reach it as `tools`), in its own words. */
    override addAvailableFunctionsSystemMessageToHistory(history: readonly ChatHistoryItem[]): readonly ChatHistoryItem[] {
        return history;
    }

    override generateFunctionCall(name: string, params: unknown): LlamaText {
        const args = params != null && typeof params === "object" && !Array.isArray(params) ? Object.entries(params as Record<string, unknown>) : [];
        return LlamaText([
            new SpecialTokensText("<tool_call>\n<function="), name, new SpecialTokensText(">\n"),
            ...args.flatMap(([key, value]) => [
                new SpecialTokensText("<parameter="), key, new SpecialTokensText(">\n"), argumentText(value), new SpecialTokensText("\n</parameter>\n")
            ]),
            new SpecialTokensText("</function>\n</tool_call>")
        ]);
    }

    override generateFunctionCallResult(_name: string, _params: unknown, result: unknown): LlamaText {
        return LlamaText([
            new SpecialTokensText("<tool_response>\n"),
            result === undefined ? "" : typeof result === "string" ? result : JSON.stringify(result),
            new SpecialTokensText("\n</tool_response>\n")
        ]);
    }
}

/**
 * The opening of a forced call, written into the answer before the model continues it (function calling, which
 * forces calls for the other syntaxes, does not drive this one): "required" leaves the function's name to the
 * model, a named choice writes it too.
 */
export function xmlCallOpening(choice: unknown): string | undefined {
    if (choice === "required") return "<tool_call>\n<function=";
    if (choice != null && typeof choice === "object" && typeof (choice as {name?: unknown}).name === "string")
        return `<tool_call>\n<function=${(choice as {name: string}).name}>\n`;
    return undefined;
}
