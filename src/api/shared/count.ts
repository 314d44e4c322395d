/** Counting a prompt's tokens the way the model will see it, for the token-counting routes. */
import type {Job} from "../../runtime/job.js";
import type {ChatMessage, ToolDefinition} from "../../runtime/protocol.js";

/**
 * The prompt's tokens through the model's own chat template, tool definitions included as the template renders them
 * for a generation (the runner picks the same wrapper and function layout). A remote model has no tokenizer here, so
 * it is the usual four characters a token, the tools' JSON included.
 */
export async function countPromptTokens(job: Job, chat: ChatMessage[], tools: ToolDefinition[] | undefined, signal: AbortSignal): Promise<number> {
    if (job.where === "upstream") {
        const chars = chat.reduce((a, m) => a + m.content.length + JSON.stringify(m.tool_calls ?? []).length, 0) +
            (tools?.length ? JSON.stringify(tools).length : 0);
        return Math.ceil(chars / 4);
    }
    return job.countTokens("", job.withDefaults(chat), signal, tools?.length ? tools : undefined);
}
