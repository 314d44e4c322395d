import {describe, expect, it} from "vitest";
import {ToolCallFilter, type ParsedCall} from "../../src/runner/tool-syntax.js";
import type {ToolDefinition} from "../../src/runtime/protocol.js";

const TOOLS: ToolDefinition[] = [
    {name: "get_weather", parameters: {type: "object", properties: {city: {type: "string"}, days: {type: "integer"}, metric: {type: "boolean"}}}},
    {name: "read_file", parameters: {type: "object", properties: {path: {type: "string"}}}}
];

/** Feeds `text` in chunks of `size` characters (calls split anywhere) and collects what comes out. */
function run(text: string, size: number, maxCalls = 8) {
    let out = "";
    const calls: ParsedCall[] = [];
    const unparsed: string[] = [];
    const f = new ToolCallFilter({tools: TOOLS, maxCalls, onText: (t) => (out += t), onCalls: (c) => calls.push(...c), onUnparsed: (s) => unparsed.push(s)});
    for (let i = 0; i < text.length; i += size) f.push(text.slice(i, i + size));
    f.finish();
    return {out, calls, unparsed};
}

const XML = "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>";

describe("tool calls in the model's own syntax, streamed in any chunking", () => {
    for (const size of [1, 3, 1000])
        it(`Qwen3-Coder XML (chunks of ${size}): typed arguments, no call text in the answer`, () => {
            const r = run("Let me check.\n\n" + XML, size);
            expect(r.out).toBe("Let me check.");
            expect(r.calls).toEqual([{name: "get_weather", arguments: {city: "Paris", days: 3}}]);
        });

    it("Qwen2.5/Qwen3 and Hermes <tool_call> JSON, two calls in a row", () => {
        const r = run('<tool_call>\n{"name": "read_file", "arguments": {"path": "a.md"}}\n</tool_call>\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call>', 2);
        expect(r.out).toBe("");
        expect(r.calls.map((c) => c.name)).toEqual(["read_file", "get_weather"]);
    });

    it("GLM's arg_key/arg_value pairs", () => {
        const r = run("<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Oslo</arg_value>\n<arg_key>metric</arg_key>\n<arg_value>true</arg_value>\n</tool_call>", 4);
        expect(r.calls).toEqual([{name: "get_weather", arguments: {city: "Oslo", metric: true}}]);
    });

    it("Mistral [TOOL_CALLS] (list and NAME[ARGS] forms), Llama 3.1 <function=NAME>{json}</function> and bare JSON", () => {
        expect(run('[TOOL_CALLS][{"name": "read_file", "arguments": {"path": "x"}}]', 5).calls).toEqual([{name: "read_file", arguments: {path: "x"}}]);
        expect(run('[TOOL_CALLS]get_weather[ARGS]{"city": "Lima"}', 5).calls).toEqual([{name: "get_weather", arguments: {city: "Lima"}}]);
        expect(run('<function=read_file>{"path": "y"}</function>', 3).calls).toEqual([{name: "read_file", arguments: {path: "y"}}]);
        expect(run('{"name": "read_file", "parameters": {"path": "z"}}', 7).calls).toEqual([{name: "read_file", arguments: {path: "z"}}]);
    });

    it("a call that does not parse goes out as the text it was, and is reported", () => {
        const bad = "<tool_call>\n<function=launch_rockets>\n</function>\n</tool_call>";
        const r = run("Sure. " + bad, 3);
        expect(r.calls).toEqual([]);
        expect(r.out).toBe("Sure. " + bad);
        expect(r.unparsed).toEqual(["tool_call"]);
        // an unclosed block at the end: parsed if it can be, else text
        expect(run(XML.replace("</tool_call>", ""), 4).calls).toHaveLength(1);
        expect(run("<tool_call>\n{\"name\": ", 4).out).toBe("<tool_call>\n{\"name\": ");
    });

    it("plain text, a marker's beginning at the end, and JSON that is not a call stay text", () => {
        expect(run("No tools needed.\n", 2).out).toBe("No tools needed.\n");
        expect(run("a < b and <tool", 1).out).toBe("a < b and <tool");
        expect(run('{"answer": 42}', 3).out).toBe('{"answer": 42}');
    });

    it("stops at the call limit", () => {
        let limited = 0;
        const calls: ParsedCall[] = [];
        const f = new ToolCallFilter({tools: TOOLS, maxCalls: 1, onText: () => undefined, onCalls: (c) => calls.push(...c), onUnparsed: () => undefined, onLimit: () => limited++});
        f.push(XML + "\n" + XML);
        f.finish();
        expect(calls).toHaveLength(1);
        expect(limited).toBe(1);
    });
});
