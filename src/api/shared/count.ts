/** Counting a prompt's tokens the way the model will see it, for the token-counting routes. */
import type {Job} from "../../runtime/job.js";
import type {ChatMessage, ToolDefinition} from "../../runtime/protocol.js";

/**
 * The prompt's tokens through the model's own chat template. Tool definitions are counted as their JSON in the system
 * turn: the runner's count takes messages only, and templates render tools close to that (the exact rendering needs
 * the count to take the tools too). A remote model has no tokenizer here, so it is the usual four characters a token.
 */
export async function countPromptTokens(job: Job, chat: ChatMessage[], tools: ToolDefinition[] | undefined, signal: AbortSignal): Promise<number> {
    const toolText = tools?.length ? JSON.stringify(tools) : "";
    let messages = chat;
    if (toolText !== "") {
        const first = chat[0];
        messages = first?.role === "system"
            ? [{...first, content: `${first.content}\n\n${toolText}`}, ...chat.slice(1)]
            : [{role: "system", content: toolText}, ...chat];
    }
    if (job.where === "upstream") {
        const chars = messages.reduce((a, m) => a + m.content.length + JSON.stringify(m.tool_calls ?? []).length, 0);
        return Math.ceil(chars / 4);
    }
    return job.countTokens("", job.withDefaults(messages), signal);
}
