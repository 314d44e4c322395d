/**
 * The ids of setup's steps, in run order. The tasklist (tasks/provider-setup.yaml), state names, `--skip`,
 * `failure:<id>` answers and report entries all use them.
 */
export const STEP_IDS = ["repo", "models", "endpoints", "config", "lazy-load", "service", "tests", "safety", "reports", "editors"] as const;
export type StepId = typeof STEP_IDS[number];

export function isStepId(v: string): v is StepId {
    return (STEP_IDS as readonly string[]).includes(v);
}
