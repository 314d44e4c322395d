import type {ChatMessage, EmbedRequest, EmbedResult, GenerateRequest, GenerationEvent, GenerationStats, LoadedInfo, LoadSpec, ToolDefinition} from "./protocol.js";

/**
 * What the runtime needs from the process that serves one loaded model. RunnerProcess (a child process over IPC)
 * is the real one; the manager is given a factory, so its tests can use a stand-in that answers at once.
 */
export interface Runner {
    /** OS process id, when there is a process. */
    readonly pid: number | undefined;
    /** False once the runner exited or could not start. */
    readonly alive: boolean;
    /** Resolves with a reason once the runner is gone, whether it was stopped or died. */
    readonly exited: Promise<string>;
    load(spec: LoadSpec): Promise<LoadedInfo>;
    /** Streams one generation; `signal` aborting stops it after the token in progress. */
    generate(request: GenerateRequest, onEvent: (e: GenerationEvent) => void, signal?: AbortSignal): Promise<GenerationStats>;
    embed(request: EmbedRequest): Promise<EmbedResult>;
    countTokens(text: string, chat?: ChatMessage[], tools?: ToolDefinition[]): Promise<number>;
    /** Resident memory of the runner, bytes. */
    memory(): Promise<number>;
    /** Asks the runner to free its model and exit, killing it after `graceMs`; resolves once it exited. */
    stop(graceMs?: number): Promise<void>;
    kill(): void;
}

export type RunnerFactory = (model: string, onStderr: (line: string) => void) => Runner;
