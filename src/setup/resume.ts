/**
 * `--resume`: which options the resumed run uses, and how its machine starts from the state file: a run that was
 * interrupted is restored from its snapshot; a run that aborted (its machine is in a final state) starts again with
 * its context, and every step it settled passes straight through.
 */
import {createActor, type Actor, type SnapshotFrom} from "xstate";
import type {SetupMachine} from "./machine.js";
import type {PersistedState, RunOptionsRecord, SetupContext} from "./records.js";
import {isSettled, type SetupInput} from "./run-context.js";
import {isStepId} from "./step-ids.js";

export type SetupActor = Actor<SetupMachine>;

/**
 * Flags given now replace the recorded ones, in either direction (--no-serve/--serve, --yes/--no-yes, --answers,
 * --full-tests);
 * flags not given keep the recorded values; --skip adds steps. Whether a terminal is there is decided anew.
 */
export function resumedOptions(recorded: RunOptionsRecord, now: RunOptionsRecord, given: {yes: boolean; serve: boolean; answers: boolean; fullTests?: boolean}): RunOptionsRecord {
    return {
        interactive: now.interactive,
        yes: given.yes ? now.yes : recorded.yes,
        answers_file: given.answers ? now.answers_file : recorded.answers_file,
        serve: given.serve ? now.serve : recorded.serve,
        skip: [...new Set([...recorded.skip, ...now.skip])],
        // A state file written before --full-tests existed has no such option: it ran the suite it was configured with.
        full_tests: given.fullTests ? now.full_tests : recorded.full_tests ?? false
    };
}

/** The recorded context of a run, if the state file has one. */
function recordedContext(persisted: PersistedState): SetupContext | undefined {
    const machine = persisted.machine;
    if (machine == null || typeof machine !== "object" || !("context" in machine)) return undefined;
    return (machine as {context?: SetupContext}).context;
}

/**
 * The machine's actor for this run, not started yet, with a line saying where a resumed run goes on.
 * `resume` is the state file of the run to continue, or null for a new run. Throws when the file cannot be restored.
 */
export function createSetupActor(machine: SetupMachine, input: SetupInput, resume: PersistedState | null): {actor: SetupActor; note: string | null} {
    if (!resume) return {actor: createActor(machine, {input}), note: null};
    const previous = recordedContext(resume);
    if (resume.status === "aborted") {
        if (!previous?.steps || !previous.order) throw new Error("the recorded run has no step records");
        const at = previous.order.find((id) => !isSettled(previous, id));
        return {
            actor: createActor(machine, {input: {...input, resumeFrom: previous}}),
            note: `Resuming run ${resume.run_id}, aborted${at ? ` at step "${previous.steps[at].title}"` : ""}; the steps it finished are not repeated.`
        };
    }
    const snap = structuredClone(resume.machine) as {context?: SetupContext};
    if (snap.context) {
        snap.context.options = input.options;
        // Entry actions do not run again on a restore, so the timeline would not show the step starting over.
        const value = resume.state;
        const [step, phase] = value != null && typeof value === "object" ? Object.entries(value as Record<string, unknown>)[0] ?? [] : [];
        if (typeof step === "string" && isStepId(step))
            snap.context.timeline = [...snap.context.timeline, {step, event: "resumed", at: new Date().toISOString(), pid: process.pid, detail: String(phase)}];
    }
    return {
        // The snapshot is XState's own persisted form, read back from JSON; XState checks it as it restores.
        actor: createActor(machine, {input, snapshot: snap as unknown as SnapshotFrom<SetupMachine>}),
        note: `Resuming run ${resume.run_id} at ${JSON.stringify(resume.state)}; completed steps are not repeated.`
    };
}
