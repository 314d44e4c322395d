// The editors view: configuration for each editor and agent, filled in with this server's address and a model.
// The key stays a placeholder unless the user asks to see it.

import {storedKey} from "./api.js";
import {$, copyText, h} from "./dom.js";
import {chatModels, models, onModels} from "./store.js";

const PLACEHOLDER = "<your API key>";

/** Each snippet: where it goes, the text, and what to know. */
export function snippets({base, model, key, contextSize}) {
  return [
    {
      id: "continue", title: "Continue", where: "~/.continue/config.yaml",
      text: [
        "name: ZombieCoder", "version: 1.0.0", "schema: v1", "models:",
        `  - name: ${model} (ZombieCoder)`, "    provider: ollama", `    model: ${model}`, `    apiBase: ${base}/`, `    apiKey: ${key}`,
        "    roles: [chat, edit, apply, autocomplete]"
      ].join("\n"),
      note: "Continue sends the key as Authorization: Bearer. Keep it out of the file with apiKey: ${{ secrets.ZOMBIECODER_API_KEY }}."
    },
    {
      id: "zed", title: "Zed", where: "settings.json",
      text: JSON.stringify({language_models: {ollama: {api_url: base, available_models: [
        {name: model, display_name: `${model} (ZombieCoder)`, max_tokens: contextSize ?? 8192, supports_tools: true}
      ]}}}, null, 2),
      note: `Put the key in Agent → Settings → Ollama (API key), or start Zed with OLLAMA_API_KEY=${key}.`
    },
    {
      id: "copilot", title: "VS Code Copilot Chat", where: "settings.json",
      text: JSON.stringify({"github.copilot.chat.byok.ollamaEndpoint": base}, null, 2),
      note: "Then Manage Models… → Ollama. Copilot's Ollama provider sends no key: allow this machine with auth.allow_loopback_without_key, " +
        `or use its OpenAI Compatible provider with ${base}/v1 and the key.`
    },
    {
      id: "codex", title: "Codex CLI", where: "~/.codex/config.toml",
      text: [
        `model = "${model}"`, `model_provider = "zombiecoder"`, "", "[model_providers.zombiecoder]", `name = "ZombieCoder Provider"`,
        `base_url = "${base}/v1"`, `env_key = "ZOMBIECODER_API_KEY"`, `wire_api = "responses"`, "", `# in the shell that runs codex:`,
        `# export ZOMBIECODER_API_KEY=${key}`
      ].join("\n"),
      note: "Codex speaks only OpenAI's Responses API (/v1/responses)."
    },
    {
      id: "claude-code", title: "Claude Code", where: "shell, before running claude",
      text: [
        `export ANTHROPIC_BASE_URL=${base}`, `export ANTHROPIC_AUTH_TOKEN=${key}`, `export ANTHROPIC_MODEL=${model}`,
        `export ANTHROPIC_SMALL_FAST_MODEL=${model}`, "export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
        "# the same system prompt every turn, so its tokens are reused", "export CLAUDE_CODE_ATTRIBUTION_HEADER=0", "claude"
      ].join("\n"),
      note: "Claude Code sends tools and a long system prompt on every turn: give the model a large context_size (32768 or more)."
    },
    {
      id: "aider", title: "aider", where: "shell",
      text: [`export OLLAMA_API_BASE=${base}`, `export OLLAMA_API_KEY=${key}`, `aider --model ollama_chat/${model}`].join("\n"),
      note: `The OpenAI API works too: OPENAI_API_BASE=${base}/v1 OPENAI_API_KEY=… aider --model openai/${model}.`
    }
  ];
}

function render() {
  const model = $("#snip-model").value || "<model>";
  const reveal = $("#snip-show-key").checked;
  const key = reveal && storedKey() ? storedKey() : PLACEHOLDER;
  const contextSize = models.list.find((m) => m.name === model)?.contextSize ?? null;
  const cards = snippets({base: location.origin, model, key, contextSize}).map((s) => {
    const status = h("span", {class: "small muted", role: "status"});
    return h("div", {class: "snippet", "data-snippet": s.id},
      h("div", {class: "row between"},
        h("div", {}, h("h3", {}, s.title), h("span", {class: "small muted mono"}, s.where)),
        h("div", {class: "row"}, status, h("button", {type: "button", class: "small", "data-action": "copy", onclick: async () => {
          status.textContent = (await copyText(s.text)) ? "copied" : "select and copy by hand";
          setTimeout(() => (status.textContent = ""), 2000);
        }}, "Copy"))),
      h("pre", {}, s.text),
      h("p", {class: "note"}, s.note));
  });
  $("#snippets").replaceChildren(...cards);
}

function fillModels() {
  const select = $("#snip-model");
  const current = select.value;
  const names = chatModels();
  select.replaceChildren(...names.map((n) => h("option", {value: n}, n)));
  if (names.includes(current)) select.value = current;
  render();
}

export function init() {
  onModels(fillModels);
  $("#snip-model").addEventListener("change", render);
  $("#snip-show-key").addEventListener("change", render);
}

export function show() {
  fillModels();
}
