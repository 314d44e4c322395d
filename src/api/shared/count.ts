/** Counting a prompt's tokens the way the model will see it, for the token-counting routes. */
import type {Job} from "../../runtime/job.js";
import type {ChatMessage, ToolDefinition} from "../../runtime/protocol.js";

/**
 * The prompt's tokens through the model's own chat template. Tool definitions are counted as their JSON in the system
 * turn, because the runner's count takes messages only: that leaves out the template's tool instructions and layout,
 * so with tools the count is low (documentation/api.md gives a measured case). The exact figure needs the count
 * message to carry the tools to the runner, which renders them as a generation would. A remote model has no
 * tokenizer here, so it is the usual four characters a token.
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
