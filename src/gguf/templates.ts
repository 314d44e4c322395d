/**
 * Chat templates for the test models, and the extra tokens each needs. Written for these tests (none is a copy of a
 * vendor's template): each renders the turn structure its family uses, so node-llama-cpp and the server meet the
 * same prompt shapes they meet with real models.
 */

export const CHATML_TEMPLATE =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** ChatML with Qwen2.5-style tool calling: tools listed in the system turn, calls in `<tool_call>` JSON blocks. */
export const CHATML_TOOLS_TEMPLATE = [
    "{%- if tools %}",
    "{{- '<|im_start|>system\\n' }}",
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}{%- else %}{{- 'You are a helpful assistant.' }}{%- endif %}",
    "{{- \"\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n" +
        "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}",
    "{%- for tool in tools %}{{- \"\\n\" }}{{- tool | tojson }}{%- endfor %}",
    "{{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within " +
        "<tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}",
    "{%- else %}",
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}",
    "{%- else %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}",
    "{%- endif %}",
    "{%- for message in messages %}",
    "{%- if (message.role == 'user') or (message.role == 'system' and not loop.first) or (message.role == 'assistant' and not message.tool_calls) %}",
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}",
    "{%- elif message.role == 'assistant' %}",
    "{{- '<|im_start|>' + message.role }}",
    "{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}",
    "{%- for tool_call in message.tool_calls %}",
    "{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}",
    "{{- '\\n<tool_call>\\n{\"name\": \"' }}{{- tool_call.name }}{{- '\", \"arguments\": ' }}{{- tool_call.arguments | tojson }}{{- '}\\n</tool_call>' }}",
    "{%- endfor %}",
    "{{- '<|im_end|>\\n' }}",
    "{%- elif message.role == 'tool' %}",
    "{%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != 'tool') %}{{- '<|im_start|>user' }}{%- endif %}",
    "{{- '\\n<tool_response>\\n' }}{{- message.content }}{{- '\\n</tool_response>' }}",
    "{%- if loop.last or (messages[loop.index0 + 1].role != 'tool') %}{{- '<|im_end|>\\n' }}{%- endif %}",
    "{%- endif %}",
    "{%- endfor %}",
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
].join("\n");

/**
 * Qwen3-style: ChatML plus `<think>…</think>` reasoning. Earlier assistant turns keep only the text after `</think>`;
 * `enable_thinking: false` pre-fills an empty think block, as Qwen3's template does.
 */
export const QWEN3_STYLE_TEMPLATE = [
    "{%- if tools %}",
    "{{- '<|im_start|>system\\n' }}",
    "{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}",
    "{{- \"# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n" +
        "You are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}",
    "{%- for tool in tools %}{{- \"\\n\" }}{{- tool | tojson }}{%- endfor %}",
    "{{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within " +
        "<tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}",
    "{%- elif messages[0].role == 'system' %}",
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}",
    "{%- endif %}",
    "{%- for message in messages %}",
    "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}",
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}",
    "{%- elif message.role == 'assistant' %}",
    "{%- set content = message.content if message.content else '' %}",
    "{%- if '</think>' in content %}{%- set content = content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}",
    "{{- '<|im_start|>assistant\\n' + content }}",
    "{%- if message.tool_calls %}{%- for tool_call in message.tool_calls %}",
    "{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}",
    "{%- if loop.first and content %}{{- '\\n' }}{%- elif not loop.first %}{{- '\\n' }}{%- endif %}",
    "{{- '<tool_call>\\n{\"name\": \"' + tool_call.name + '\", \"arguments\": ' }}{{- tool_call.arguments | tojson }}{{- '}\\n</tool_call>' }}",
    "{%- endfor %}{%- endif %}",
    "{{- '<|im_end|>\\n' }}",
    "{%- elif message.role == 'tool' %}",
    "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}",
    "{{- '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}",
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}",
    "{%- endif %}",
    "{%- endfor %}",
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}",
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}",
    "{%- endif %}"
].join("\n");

/**
 * gpt-oss Harmony-style: `<|start|>ROLE<|message|>…<|end|>` turns, answers in the `final` channel, tool calls in the
 * `commentary` channel addressed `to=functions.NAME` and ended by `<|call|>`; the generation prompt is
 * `<|start|>assistant`, so the model writes the channel header itself.
 */
export const HARMONY_STYLE_TEMPLATE = [
    "{%- if tools %}",
    "{{- '<|start|>developer<|message|># Tools\\n\\n## functions\\n\\nnamespace functions {\\n' }}",
    "{%- for tool in tools %}{%- set fn = tool.function if tool.function is defined else tool %}",
    "{{- '\\n// ' + (fn.description if fn.description else '') + '\\ntype ' + fn.name + ' = (_: ' }}{{- fn.parameters | tojson }}{{- ') => any;\\n' }}",
    "{%- endfor %}",
    "{{- '\\n} // namespace functions<|end|>' }}",
    "{%- endif %}",
    "{%- for message in messages %}",
    "{%- if message.role == 'system' or message.role == 'developer' or message.role == 'user' %}",
    "{{- '<|start|>' + message.role + '<|message|>' + message.content + '<|end|>' }}",
    "{%- elif message.role == 'assistant' and message.tool_calls %}",
    "{%- for tool_call in message.tool_calls %}",
    "{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}",
    "{{- '<|start|>assistant<|channel|>commentary to=functions.' + tool_call.name + ' <|constrain|>json<|message|>' }}{{- tool_call.arguments | tojson }}{{- '<|call|>' }}",
    "{%- endfor %}",
    "{%- elif message.role == 'assistant' %}",
    "{{- '<|start|>assistant<|channel|>final<|message|>' + message.content + '<|end|>' }}",
    "{%- elif message.role == 'tool' %}",
    "{{- '<|start|>functions.' + (message.name if message.name else 'tool') + ' to=assistant<|channel|>commentary<|message|>' + message.content + '<|end|>' }}",
    "{%- endif %}",
    "{%- endfor %}",
    "{%- if add_generation_prompt %}{{- '<|start|>assistant' }}{%- endif %}"
].join("\n");

/**
 * Qwen3-Coder-style: ChatML turns; tools listed in the system turn as `<function>` entries with their parameters;
 * calls written as `<tool_call>\n<function=NAME>\n<parameter=KEY>\nVALUE\n</parameter>\n</function>\n</tool_call>`
 * (one `<parameter>` per argument, values as text); results come back in a user turn of `<tool_response>` blocks.
 */
export const QWEN3_CODER_STYLE_TEMPLATE = [
    "{%- if messages and messages[0].role == 'system' %}{%- set system = messages[0].content %}{%- set rest = messages[1:] %}",
    "{%- else %}{%- set system = '' %}{%- set rest = messages %}{%- endif %}",
    "{%- if tools %}",
    "{{- '<|im_start|>system\n' + (system if system else 'You are a coding assistant that can use tools.') }}",
    "{{- '\n\nThese functions are available:\n\n<tools>' }}",
    "{%- for tool in tools %}{%- set fn = tool.function if tool.function is defined else tool %}",
    "{{- '\n<function>\n<name>' + fn.name + '</name>\n<description>' + (fn.description if fn.description else '') + '</description>\n<parameters>' }}",
    "{%- if fn.parameters and fn.parameters.properties %}{%- for pname, pfields in fn.parameters.properties | items %}",
    "{{- '\n<parameter>\n<name>' + pname + '</name>' }}{%- if pfields.type is defined %}{{- '\n<type>' + (pfields.type | string) + '</type>' }}{%- endif %}{{- '\n</parameter>' }}",
    "{%- endfor %}{%- endif %}",
    "{{- '\n</parameters>\n</function>' }}",
    "{%- endfor %}",
    "{{- '\n</tools>\n\nTo call a function, answer with nothing else but:\n\n<tool_call>\n<function=function_name>\n<parameter=parameter_name>\nvalue\n</parameter>\n</function>\n</tool_call><|im_end|>\n' }}",
    "{%- elif system %}",
    "{{- '<|im_start|>system\n' + system + '<|im_end|>\n' }}",
    "{%- endif %}",
    "{%- for message in rest %}",
    "{%- if message.role == 'assistant' and message.tool_calls %}",
    "{{- '<|im_start|>assistant' }}{%- if message.content %}{{- '\n' + message.content }}{%- endif %}",
    "{%- for tool_call in message.tool_calls %}{%- set call = tool_call.function if tool_call.function is defined else tool_call %}",
    "{{- '\n<tool_call>\n<function=' + call.name + '>\n' }}",
    "{%- for key, value in call.arguments | items %}{{- '<parameter=' + key + '>\n' + (value if value is string else value | tojson) + '\n</parameter>\n' }}{%- endfor %}",
    "{{- '</function>\n</tool_call>' }}",
    "{%- endfor %}",
    "{{- '<|im_end|>\n' }}",
    "{%- elif message.role == 'tool' %}",
    "{%- if loop.first or rest[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user\n' }}{%- endif %}",
    "{{- '<tool_response>\n' + message.content + '\n</tool_response>\n' }}",
    "{%- if loop.last or rest[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\n' }}{%- endif %}",
    "{%- else %}",
    "{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}",
    "{%- endif %}",
    "{%- endfor %}",
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"
].join("\n");

export type ChatFormatName = "chatml" | "chatml-tools" | "qwen3" | "qwen3-coder" | "harmony";

export interface ChatFormat {
    template: string;
    /** Control tokens the template writes (the tokenizer must know them to keep them whole). */
    specialTokens: readonly string[];
    /** User-defined tokens: whole tokens that render as text. */
    addedTokens: readonly string[];
    /** The token that ends an assistant turn (`tokenizer.ggml.eot_token_id`). */
    endOfTurn: string;
}

export const CHAT_FORMATS: Readonly<Record<ChatFormatName, Readonly<ChatFormat>>> = {
    "chatml": {template: CHATML_TEMPLATE, specialTokens: [], addedTokens: [], endOfTurn: "<|im_end|>"},
    "chatml-tools": {template: CHATML_TOOLS_TEMPLATE, specialTokens: [], addedTokens: ["<tool_call>", "</tool_call>"], endOfTurn: "<|im_end|>"},
    "qwen3": {
        template: QWEN3_STYLE_TEMPLATE, specialTokens: [],
        addedTokens: ["<tool_call>", "</tool_call>", "<think>", "</think>", "<tool_response>", "</tool_response>"], endOfTurn: "<|im_end|>"
    },
    "qwen3-coder": {
        template: QWEN3_CODER_STYLE_TEMPLATE, specialTokens: [],
        addedTokens: ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"], endOfTurn: "<|im_end|>"
    },
    // llama.cpp treats <|return|> and <|call|> as end-of-generation; with both present it stops treating <|end|> as one.
    "harmony": {
        template: HARMONY_STYLE_TEMPLATE,
        specialTokens: ["<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>", "<|return|>", "<|call|>"],
        addedTokens: [], endOfTurn: "<|return|>"
    }
};
