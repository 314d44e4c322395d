/**
 * Scripted test models: what the model writes is chosen up front and followed on every CPU.
 *
 * The weights make the next token a function of the current token alone (see scriptedHeads in
 * test-model.ts), so a script is a successor map over tokens. Compiling a script picks, for each piece of its text,
 * a token that no other place in the script uses (a text may repeat words; each repetition gets another spelling:
 * a new vocabulary piece, a split into smaller pieces, or byte tokens), gives every such token its own state, and
 * records which token follows each state. Every token outside the script shares one "sink" state, so any prompt
 * whose last token is not one of the script's starts the default turn.
 *
 * Pieces are chosen so that tokenizing a prompt never yields them where that can be avoided: a new piece spells a
 * leading space as a plain " " (the tokenizer only ever produces "▁"), printable characters use their byte tokens
 * (the tokenizer only falls back to bytes for characters without a piece), and a new piece that pairwise merges
 * could build from a prompt's characters is used only when nothing else is left. A prompt that does end with one
 * of the script's tokens continues the script from there; `CompiledTurn.tokens` lists them.
 */
import {appendPiece, decodeToken, SPACE, TOKEN_TYPE, type Vocab} from "./vocab.js";

/** What follows a turn's text. */
export type ScriptEnd =
    /** The end-of-turn token (`<|im_end|>`, or the chat format's). */
    | "end-of-turn"
    /** The end-of-text token `</s>`. */
    | "end-of-text"
    /** The text again, forever: the model never ends by itself (its tokens must all be distinct). */
    | "repeat"
    /** A token named by its exact text, e.g. `<|call|>`. A token that does not end generation starts the default turn. */
    | {readonly token: string};

export interface ScriptedTurn {
    /**
     * The exact text of the prompt's last token that starts this turn (a token's text as the vocabulary holds it, or
     * one character: "\n" is the byte token `<0x0A>`). Omitted: every prompt whose last token belongs neither to the
     * script nor to another turn's `after`. At most one turn omits it; with none, such prompts end at once.
     */
    readonly after?: string;
    /**
     * What the model writes. A string is cut into words (each with the whitespace before it; tokens of the vocabulary
     * such as `<think>` are their own pieces); an array gives the pieces itself, which keeps them aligned with
     * whatever parses the output (a tool-call prefix, a stop sequence).
     */
    readonly text: string | readonly string[];
    /** Default "end-of-turn". */
    readonly then?: ScriptEnd;
}

/** One turn's text, or turns. */
export type TestModelScript = string | ScriptedTurn | readonly ScriptedTurn[];

export interface CompiledTurn {
    after?: string;
    /** The whole text the turn writes (once, for "repeat"). */
    text: string;
    /** The tokens written, in order; their count is what a completion-token counter must report. */
    tokens: number[];
    /** What each token decodes to (control tokens as their text). */
    pieces: string[];
    then: ScriptEnd;
    /** The token generated after the text; absent for "repeat". */
    endToken?: number;
}

export interface CompiledScript {
    turns: CompiledTurn[];
    /** Texts of the pieces this script added to the vocabulary. */
    addedPieces: string[];
    /** State of each token that has its own; every other token is in state 0 (the sink). */
    stateOf: Map<number, number>;
    /** successor[state] = the token generated next. */
    successor: number[];
}

export function normalizeScript(script: TestModelScript): ScriptedTurn[] {
    if (typeof script === "string")
        return [{text: script}];
    if (isTurnArray(script))
        return [...script];
    return [script];
}

function isTurnArray(script: ScriptedTurn | readonly ScriptedTurn[]): script is readonly ScriptedTurn[] {
    return Array.isArray(script);
}

// A word with the whitespace before it, and whitespace that ends the text stays with the last word.
const WORD = /\s*\S+(?:\s+$)?|\s+$/gu;

/** Cuts text into script pieces: vocabulary tokens that must stay whole (control, user-defined), then words. */
function cutText(text: string, wholeTokens: readonly string[]): string[] {
    const out: string[] = [];
    let rest = text;
    while (rest.length > 0) {
        let at = -1;
        let found = "";
        for (const t of wholeTokens) {
            const i = rest.indexOf(t);
            if (i >= 0 && (at < 0 || i < at || (i === at && t.length > found.length))) {
                at = i;
                found = t;
            }
        }
        const plain = at < 0 ? rest : rest.slice(0, at);
        out.push(...(plain.match(WORD) ?? []));
        if (at < 0)
            break;
        out.push(found);
        rest = rest.slice(at + found.length);
    }
    return out;
}

const MAX_SPLIT_STEPS = 20_000;

/** Picks a distinct token for every piece of every turn, adding pieces to the vocabulary as needed. */
class PieceAllocator {
    private readonly byText = new Map<string, number>();
    private readonly used = new Set<number>();
    private steps = 0;
    readonly addedPieces: string[] = [];

    constructor(private readonly vocab: Vocab, private readonly reserved: ReadonlySet<number>) {
        vocab.tokens.forEach((t, id) => this.byText.set(t, id));
    }

    /** Tokens of `piece`, all unused before; null when no spelling is left. */
    allocate(piece: string): number[] | null {
        this.steps = 0;
        // First without tokens a prompt could end with, then with them.
        return this.split(piece, true) ?? this.split(piece, false);
    }

    private split(s: string, strict: boolean): number[] | null {
        if (++this.steps > MAX_SPLIT_STEPS)
            return null;
        const whole = this.takeWhole(s, strict);
        if (whole != null)
            return [whole];
        // Spelled in pieces, a vocabulary token such as <tool_call> would read the same but no longer be that token.
        if (this.keptWhole(s))
            return null;
        const chars = Array.from(s);
        for (let cut = chars.length - 1; cut >= 1; cut--) {
            const head = this.takeWhole(chars.slice(0, cut).join(""), strict);
            if (head == null)
                continue;
            const tail = this.split(chars.slice(cut).join(""), strict);
            if (tail != null)
                return [head, ...tail];
            this.release(head);
        }
        return null;
    }

    /** One token spelling all of `s`, marked used; null when none is free. */
    private takeWhole(s: string, strict: boolean): number | null {
        for (const candidate of this.candidates(s, strict)) {
            const id = candidate === "new" ? this.newPiece(s) : candidate;
            if (id != null && !this.used.has(id) && !this.reserved.has(id)) {
                this.used.add(id);
                return id;
            }
        }
        return null;
    }

    private keptWhole(s: string): boolean {
        const id = this.byText.get(s);
        return id != null && (this.vocab.types[id] === TOKEN_TYPE.control || this.vocab.types[id] === TOKEN_TYPE.userDefined);
    }

    private release(id: number): void {
        this.used.delete(id);
    }

    private *candidates(s: string, strict: boolean): Generator<number | "new"> {
        const exact = this.byText.get(s);
        const type = exact == null ? undefined : this.vocab.types[exact];
        // Tokens the vocabulary keeps whole (<think>, <|channel|>) spell only themselves.
        if (exact != null && this.keptWhole(s)) {
            yield exact;
            return;
        }
        const chars = Array.from(s);
        if (chars.length === 1) {
            const code = s.codePointAt(0)!;
            const printable = code >= 0x20 && code <= 0x7e;
            // A printable character that has a piece: the tokenizer never falls back to its byte token.
            if (printable && (!strict || this.byText.has(code === 0x20 ? SPACE : s)))
                yield this.vocab.ids.byteBase + code;
            // A new one-character piece would change how every prompt with that character tokenizes: never.
            if (!strict) {
                const piece = this.byText.get(s.replaceAll(" ", SPACE));
                if (piece != null && this.vocab.types[piece] === TOKEN_TYPE.normal)
                    yield piece;
            }
            return;
        }
        if (exact == null) {
            if (!strict || !this.promptCouldBuild(s))
                yield "new";
        } else if (type === TOKEN_TYPE.normal && (!strict || !this.promptCouldBuild(s))) {
            yield exact;
        }
        // The SentencePiece spelling of the same text ("▁world" for " world"), which prompts do produce.
        if (!strict && s.includes(" ")) {
            const escaped = this.byText.get(s.replaceAll(" ", SPACE));
            if (escaped != null && this.vocab.types[escaped] === TOKEN_TYPE.normal)
                yield escaped;
        }
    }

    private newPiece(s: string): number | null {
        if (this.byText.has(s))
            return null;
        const id = appendPiece(this.vocab, s);
        this.byText.set(s, id);
        this.addedPieces.push(s);
        return id;
    }

    /**
     * Whether SentencePiece's pairwise merges could build `s` out of a prompt's characters: a piece is built only
     * from two adjacent symbols that are characters or pieces built before. A plain space never reaches the merges.
     */
    private promptCouldBuild(s: string, depth = 0): boolean {
        if (s.includes(" "))
            return false;
        const chars = Array.from(s);
        if (chars.length === 1)
            return true;
        if (depth > 0) {
            const id = this.byText.get(s);
            if (id == null || this.vocab.types[id] !== TOKEN_TYPE.normal)
                return false;
        }
        for (let cut = 1; cut < chars.length; cut++)
            if (this.promptCouldBuild(chars.slice(0, cut).join(""), depth + 1) && this.promptCouldBuild(chars.slice(cut).join(""), depth + 1))
                return true;
        return false;
    }
}

/** The id of the token whose text is exactly `text` ("\n" and other lone characters: their piece or byte token). */
export function tokenByText(vocab: Vocab, text: string): number {
    const exact = vocab.tokens.indexOf(text);
    if (exact >= 0)
        return exact;
    if (Array.from(text).length === 1) {
        const piece = vocab.tokens.indexOf(text.replaceAll(" ", SPACE));
        if (piece >= 0)
            return piece;
        const code = text.codePointAt(0)!;
        if (code < 0x80)
            return vocab.ids.byteBase + code;
    }
    throw new RangeError(`the vocabulary has no token "${text}"`);
}

/**
 * Compiles a script against a vocabulary, appending the pieces it needs. Errors name the turn and the reason.
 */
export function compileScript(vocab: Vocab, script: TestModelScript): CompiledScript {
    const turns = normalizeScript(script);
    if (turns.length === 0)
        throw new RangeError("a script needs at least one turn");
    if (turns.filter((t) => t.after == null).length > 1)
        throw new RangeError("at most one scripted turn may omit `after` (the turn for every other prompt)");

    const afterIds = turns.map((t, i) => {
        if (t.after == null)
            return undefined;
        try {
            return tokenByText(vocab, t.after);
        } catch (err) {
            throw new RangeError(`scripted turn ${i}: after: ${(err as Error).message}`);
        }
    });
    const seenAfter = new Set<number>();
    for (const id of afterIds)
        if (id != null) {
            if (seenAfter.has(id))
                throw new RangeError(`two scripted turns start after the same token "${vocab.tokens[id]}"`);
            seenAfter.add(id);
        }
    const endIds = turns.map((t, i) => endTokenOf(vocab, t.then ?? "end-of-turn", i));

    // Tokens that must never be part of a text: what starts turns, what ends them, the tokenizer's own specials,
    // and byte tokens outside printable ASCII (prompts produce them for newlines and non-ASCII text).
    const reserved = new Set<number>([vocab.ids.unk, vocab.ids.bos, vocab.ids.eos, vocab.ids.eot, ...seenAfter]);
    for (const id of endIds)
        if (id != null)
            reserved.add(id);
    for (let b = 0; b < 256; b++)
        if (b < 0x20 || b > 0x7e)
            reserved.add(vocab.ids.byteBase + b);

    const wholeTokens = vocab.tokens
        .filter((t, id) => (vocab.types[id] === TOKEN_TYPE.control || vocab.types[id] === TOKEN_TYPE.userDefined))
        .sort((a, b) => b.length - a.length);
    const allocator = new PieceAllocator(vocab, reserved);
    const compiled: CompiledTurn[] = turns.map((turn, i) => {
        const then = turn.then ?? "end-of-turn";
        const pieces = typeof turn.text === "string" ? cutText(turn.text, wholeTokens) : [...turn.text];
        const tokens: number[] = [];
        for (const piece of pieces) {
            if (piece === "")
                throw new RangeError(`scripted turn ${i}: empty piece`);
            const ids = allocator.allocate(piece);
            if (ids == null)
                throw new RangeError(`scripted turn ${i}: no distinct tokens are left to spell ${JSON.stringify(piece)} again ` +
                    "(each token may appear once in a script; for a long run use then: \"repeat\" on a shorter text)");
            tokens.push(...ids);
        }
        if (then === "repeat" && tokens.length === 0)
            throw new RangeError(`scripted turn ${i}: "repeat" needs a non-empty text`);
        const text = typeof turn.text === "string" ? turn.text : turn.text.join("");
        return {after: turn.after, text, tokens, pieces: tokens.map((id) => decodeToken(vocab, id)), then, endToken: endIds[i]};
    });

    // State 0 is the sink; then every token of every text, then every `after` token.
    const stateOf = new Map<number, number>();
    const successor: number[] = [];
    const newState = (token: number | undefined, next: number): void => {
        if (token != null)
            stateOf.set(token, successor.length);
        successor.push(next);
    };
    const defaultIndex = compiled.findIndex((t) => t.after == null);
    const firstOf = (turn: CompiledTurn): number => turn.tokens[0] ?? turn.endToken!;
    newState(undefined, defaultIndex < 0 ? vocab.ids.eot : firstOf(compiled[defaultIndex]));
    for (const turn of compiled)
        turn.tokens.forEach((token, k) => {
            const next = k + 1 < turn.tokens.length ? turn.tokens[k + 1] : turn.then === "repeat" ? turn.tokens[0] : turn.endToken!;
            newState(token, next);
        });
    compiled.forEach((turn, i) => {
        const after = afterIds[i];
        if (after != null)
            newState(after, firstOf(turn));
    });
    return {turns: compiled, addedPieces: allocator.addedPieces, stateOf, successor};
}

function endTokenOf(vocab: Vocab, then: ScriptEnd, turn: number): number | undefined {
    if (then === "repeat")
        return undefined;
    if (then === "end-of-turn")
        return vocab.ids.eot;
    if (then === "end-of-text")
        return vocab.ids.eos;
    if (typeof then === "object" && typeof then.token === "string") {
        try {
            return tokenByText(vocab, then.token);
        } catch (err) {
            throw new RangeError(`scripted turn ${turn}: then: ${(err as Error).message}`);
        }
    }
    throw new RangeError(`scripted turn ${turn}: then must be "end-of-turn", "end-of-text", "repeat" or {token}, got ${JSON.stringify(then)}`);
}

/** A tool call for `toolCallScript`. */
export interface ScriptedToolCall {
    name: string;
    arguments: Record<string, unknown>;
}

/**
 * A script that answers with one tool call in the `<tool_call>` JSON syntax (the "chatml-tools" and "qwen3" chat
 * formats), as node-llama-cpp's function calling drives it: once the model starts the call, node-llama-cpp writes
 * the call's fixed parts itself (`\n{"name": "`, `", "arguments": `, the closing `}\n</tool_call>`) and lets the
 * model write only the name and the arguments under a grammar. So the name follows the last token of the first
 * fixed part (`"`), the arguments follow the last token of the second (a space), and the turn ends after
 * `</tool_call>`. Without function calling the model writes the call's first fixed part and ends its turn.
 */
export function toolCallScript(call: ScriptedToolCall): ScriptedTurn[] {
    return [
        {text: ["<tool_call>", "\n{\"name\": \""]},
        {after: "\"", text: [call.name]},
        {after: " ", text: [JSON.stringify(call.arguments)]},
        {after: "</tool_call>", text: ""}
    ];
}
