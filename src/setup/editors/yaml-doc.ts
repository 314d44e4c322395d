/**
 * YAML settings files (Continue's config.yaml, aider's .aider.conf.yml) edited as documents: comments, key order and
 * scalar styles stay, and the file's own indentation is kept, so the diff shows only what setup changed.
 */
import YAML from "yaml";
import {EditorMergeError} from "./facts.js";

export interface YamlFile {
    doc: YAML.Document;
    options: {indent: number; indentSeq: boolean};
}

/** The indentation the file uses: its first indented line, and whether `- ` items sit under their key or level with it. */
function styleOf(text: string): YamlFile["options"] {
    const indent = /\n( +)\S/.exec(text)?.[1]?.length ?? 2;
    const seq = /^(\s*)[^\s#-][^\n]*:\s*\n(\s*)- /m.exec(text);
    return {indent: Math.min(8, Math.max(2, indent)), indentSeq: seq ? seq[2]!.length > seq[1]!.length : true};
}

export function readYaml(text: string | null, fallback: Record<string, unknown>, file: string): YamlFile {
    if (text == null || text.trim() === "") return {doc: new YAML.Document(fallback), options: {indent: 2, indentSeq: true}};
    const doc: YAML.Document = YAML.parseDocument(text);
    if (doc.errors.length > 0) throw new EditorMergeError(`${file} is not valid YAML (${doc.errors[0]!.message.split("\n")[0]}); fix it, then run setup again`);
    // Only comments: the comments stay, the mapping comes after them.
    if (doc.contents == null) doc.contents = doc.createNode(fallback);
    if (!YAML.isMap(doc.contents)) throw new EditorMergeError(`${file} does not hold a mapping at the top; setup only adds keys to one`);
    return {doc, options: styleOf(text)};
}

export function writeYaml(f: YamlFile, eol: string): string {
    // lineWidth 0: long values are never folded onto new lines, which would show up as changes.
    const text = f.doc.toString({indent: f.options.indent, indentSeq: f.options.indentSeq, lineWidth: 0});
    return eol === "\n" ? text : text.replace(/\n/g, eol);
}

export function eolOf(text: string | null): string {
    return text?.includes("\r\n") ? "\r\n" : "\n";
}
