/**
 * The test models' SentencePiece ("llama") vocabulary: the specials, 256 byte-fallback tokens and merged pieces.
 * Token ids stay stable for a given set of options, so tests can name them (TestModelTokenIds).
 */

/** llama.cpp token attributes as stored in tokenizer.ggml.token_type. */
export const TOKEN_TYPE = {normal: 1, unknown: 2, control: 3, userDefined: 4, byte: 6} as const;

/** SentencePiece's visible space: the tokenizer writes every input space as this character. */
export const SPACE = "\u2581";

// Chat-role words first: with the default piece budget they are the ones that become whole tokens.
const WORDS = [
    "user", "assistant", "system", "hello", "Hello", "world", "the", "and", "you", "that", "for", "are", "with",
    "this", "have", "from", "not", "what", "can", "your", "how", "will", "help", "code", "function", "return",
    "const", "import", "model", "test", "data", "about", "would", "make", "like", "into", "time", "more", "write",
    "number", "could", "people", "first", "water", "find", "come", "made", "is", "it", "in", "of", "to", "a", "I"
];

export interface TestModelTokenIds {
    unk: number;
    bos: number;
    eos: number;
    /** The end-of-turn token: `<|im_end|>` unless the chat format names another. */
    eot: number;
    imStart: number;
    imEnd: number;
    /** Id of `<0x00>`; byte b is `byteBase + b`. */
    byteBase: number;
    fimPrefix?: number;
    fimSuffix?: number;
    fimMiddle?: number;
    toolCallStart?: number;
    toolCallEnd?: number;
}

export interface Vocab {
    tokens: string[];
    scores: number[];
    types: number[];
    ids: TestModelTokenIds;
}

export interface VocabOptions {
    /** Normal pieces on top of the bytes and specials. */
    extraTokens: number;
    fim: boolean;
    tools: boolean;
    /** More control tokens (rendered only as special tokens), e.g. a chat format's `<|start|>`. */
    specialTokens?: readonly string[];
    /** More user-defined tokens (matched as text in any input, rendered as text), e.g. `<think>`. */
    addedTokens?: readonly string[];
    /** Text of the token to record as the end-of-turn token. Default `<|im_end|>`. */
    endOfTurn?: string;
}

function basePieces(): string[] {
    const out: string[] = [SPACE];
    for (let c = 0x21; c <= 0x7e; c++)
        out.push(String.fromCharCode(c));
    // Every prefix of each piece is itself a piece, so SentencePiece's pairwise merges can reach the whole word.
    for (const word of WORDS)
        for (const w of [SPACE + word, word])
            for (let n = 2; n <= w.length; n++)
                out.push(w.slice(0, n));
    return [...new Set(out)];
}

function* syntheticPieces(): Generator<string> {
    const letters = "abcdefghijklmnopqrstuvwxyz";
    for (let len = 2; ; len++) {
        const total = letters.length ** len;
        for (let i = 0; i < total; i++) {
            let s = "";
            for (let k = 0, n = i; k < len; k++, n = Math.floor(n / letters.length))
                s = letters[n % letters.length] + s;
            yield s;
            yield SPACE + s;
        }
    }
}

export function buildVocab(opts: VocabOptions): Vocab {
    const tokens: string[] = [];
    const scores: number[] = [];
    const types: number[] = [];
    const seen = new Set<string>();
    const add = (text: string, type: number, score = 0): number => {
        // llama.cpp refuses a vocabulary with two tokens of the same text.
        if (seen.has(text))
            throw new RangeError(`the vocabulary already has a token "${text}"`);
        seen.add(text);
        tokens.push(text);
        types.push(type);
        scores.push(score);
        return tokens.length - 1;
    };

    // SentencePiece/llama conventions: 0 <unk>, 1 <s>, 2 </s>, then the byte-fallback tokens.
    const unk = add("<unk>", TOKEN_TYPE.unknown);
    const bos = add("<s>", TOKEN_TYPE.control);
    const eos = add("</s>", TOKEN_TYPE.control);
    const byteBase = tokens.length;
    for (let b = 0; b < 256; b++)
        add(byteTokenText(b), TOKEN_TYPE.byte);
    const imStart = add("<|im_start|>", TOKEN_TYPE.control);
    const imEnd = add("<|im_end|>", TOKEN_TYPE.control);

    const ids: TestModelTokenIds = {unk, bos, eos, eot: imEnd, imStart, imEnd, byteBase};
    if (opts.fim) {
        ids.fimPrefix = add("<|fim_prefix|>", TOKEN_TYPE.control);
        ids.fimSuffix = add("<|fim_suffix|>", TOKEN_TYPE.control);
        ids.fimMiddle = add("<|fim_middle|>", TOKEN_TYPE.control);
    }
    if (opts.tools) {
        // Qwen2.5 ships these as added, non-special tokens: matched as text, rendered as text.
        ids.toolCallStart = add("<tool_call>", TOKEN_TYPE.userDefined);
        ids.toolCallEnd = add("</tool_call>", TOKEN_TYPE.userDefined);
    }
    for (const text of opts.specialTokens ?? [])
        if (!seen.has(text))
            add(text, TOKEN_TYPE.control);
    for (const text of opts.addedTokens ?? [])
        if (!seen.has(text))
            add(text, TOKEN_TYPE.userDefined);
    if (opts.endOfTurn != null) {
        const eot = tokens.indexOf(opts.endOfTurn);
        if (eot < 0 || types[eot] !== TOKEN_TYPE.control)
            throw new RangeError(`the end-of-turn token "${opts.endOfTurn}" must be one of the control tokens`);
        ids.eot = eot;
    }

    let added = 0;
    const pushPiece = (piece: string): void => {
        if (added >= opts.extraTokens || seen.has(piece))
            return;
        // Earlier pieces merge first (SentencePiece picks the highest-scoring merge result).
        add(piece, TOKEN_TYPE.normal, -(added + 1));
        added++;
    };
    for (const piece of basePieces())
        pushPiece(piece);
    if (added < opts.extraTokens)
        for (const piece of syntheticPieces()) {
            pushPiece(piece);
            if (added >= opts.extraTokens)
                break;
        }
    return {tokens, scores, types, ids};
}

export function byteTokenText(b: number): string {
    return `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
}

/** Appends a normal piece that merges after every existing one; returns its id. */
export function appendPiece(vocab: Vocab, text: string): number {
    if (vocab.tokens.includes(text))
        throw new RangeError(`the vocabulary already has a token "${text}"`);
    const lowest = vocab.scores.reduce((min, s) => Math.min(min, s), 0);
    vocab.tokens.push(text);
    vocab.types.push(TOKEN_TYPE.normal);
    vocab.scores.push(lowest - 1);
    return vocab.tokens.length - 1;
}

/** The text a token decodes to (control tokens: their text, as rendered with special tokens on). */
export function decodeToken(vocab: Vocab, id: number): string {
    const type = vocab.types[id];
    if (type === TOKEN_TYPE.byte)
        return String.fromCharCode(id - vocab.ids.byteBase);
    if (type === TOKEN_TYPE.normal)
        return vocab.tokens[id].replaceAll(SPACE, " ");
    return vocab.tokens[id];
}

/** Output-head rows forced to zero so greedy decoding prefers printable pieces. */
export function suppressedTokenIds(vocab: Vocab): Set<number> {
    const ids = new Set<number>();
    vocab.types.forEach((type, id) => {
        if (type === TOKEN_TYPE.control || type === TOKEN_TYPE.unknown || type === TOKEN_TYPE.userDefined)
            ids.add(id);
        if (type === TOKEN_TYPE.byte) {
            const b = id - vocab.ids.byteBase;
            if (b < 0x20 || b > 0x7e)
                ids.add(id);
        }
    });
    return ids;
}
