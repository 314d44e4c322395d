/** `npm run setup -- --plan`: every step's prepare half, run in order against the home as it is; nothing changes. */
import type {SetupContext} from "./records.js";
import {errorMessage} from "./run-context.js";
import {makeStepContext, type StepDeps} from "./step-context.js";
import type {StepId} from "./step-ids.js";
import type {StepDefinition} from "./steps/contract.js";
import {STEP_IMPLEMENTATIONS} from "./steps/index.js";
import type {TaskDef} from "./tasklist.js";

/** What the plan says about one step. */
export interface PlannedStep {
    task: TaskDef;
    summary: string[];
    approvals: string[];
    skip: string | null;
    error: string | null;
    /** Seconds the step should take: its own estimate, else the tasklist's; 0 when it will be skipped. */
    expectedSeconds: number;
}

export async function planSetup(tasks: TaskDef[], deps: StepDeps & {steps?: Partial<Record<StepId, StepDefinition<unknown>>>}, run: SetupContext): Promise<PlannedStep[]> {
    const out: PlannedStep[] = [];
    for (const t of tasks) {
        const impl = deps.steps?.[t.id] ?? STEP_IMPLEMENTATIONS[t.id];
        if (run.options.skip.includes(t.id)) {
            out.push({task: t, summary: [], approvals: [], skip: "skipped with --skip", error: null, expectedSeconds: 0});
            continue;
        }
        try {
            const p = await impl.prepare(makeStepContext(deps, run, t.id, true));
            out.push({
                task: t, summary: p.summary, approvals: p.approvals.map((a) => a.id), skip: p.skip ?? null, error: null,
                expectedSeconds: p.skip ? 0 : p.expectedSeconds ?? t.expectedSeconds
            });
        } catch (err) {
            out.push({task: t, summary: [], approvals: [], skip: null, error: errorMessage(err), expectedSeconds: t.expectedSeconds});
        }
    }
    return out;
}

/** "about 5 s", "about 2 min": estimates, so rounded the way people say them. */
export function formatDuration(seconds: number): string {
    if (seconds < 1) return "under 1 s";
    if (seconds < 90) return `about ${Math.round(seconds)} s`;
    return `about ${Math.round(seconds / 60)} min`;
}

/** The plan as the CLI prints it: each step with its tags, expected time, what it would change and the approvals it would ask. */
export function renderPlan(planned: readonly PlannedStep[], home: string): string {
    const out: string[] = [`Setup plan for ${home} (nothing has been changed):\n\n`];
    planned.forEach((p, i) => {
        const t = p.task;
        const tags = [t.required ? "required" : "optional", t.mutates ? "changes files" : "reads only", t.gate ? "git gate first" : null].filter(Boolean).join(", ");
        out.push(`${i + 1}. ${t.title} [${t.id}] (${tags}; ${p.skip ? "skipped" : formatDuration(p.expectedSeconds)})\n`);
        out.push(`   ${t.description}\n`);
        if (p.error) out.push(`   cannot plan this step now: ${p.error.split("\n").join("\n   ")}\n`);
        if (p.skip) out.push(`   would be skipped: ${p.skip.split("\n").join("\n   ")}\n`);
        // Lines that start with spaces continue the line above (a service plan, a diff): shown as a block.
        for (const s of p.summary) out.push(s.startsWith("  ") ? `     ${s.slice(2)}\n` : `   - ${s}\n`);
        if (p.approvals.length > 0) out.push(`   approvals it will ask: ${p.approvals.join(", ")}\n`);
        else if (t.approvals.length > 0) out.push(`   approvals it may ask, depending on what it finds then: ${t.approvals.join(", ")}\n`);
        if (t.windowsAdmin) out.push("   on Windows: its changes need a terminal started as Administrator (Run as administrator); without one the step is skipped and says so\n");
        out.push("\n");
    });
    const total = planned.reduce((n, p) => n + p.expectedSeconds, 0);
    const admin = planned.filter((p) => p.task.windowsAdmin && !p.skip).map((p) => p.task.title);
    out.push(`Expected time: ${formatDuration(total)} in all${admin.length > 0 ? `. On Windows, ${admin.join(" and ")} needs an Administrator terminal` : ""}.\n`);
    return out.join("");
}
