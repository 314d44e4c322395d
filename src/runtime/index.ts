/** The runtime owns models, runners and jobs: name → job → permit and load → runner, and the errors by meaning. */
export {Runtime, type RuntimeOptions, type Target} from "./runtime.js";
export type {Capability, GenerationResult, Job, JobOptions, LocalJob, UpstreamJob} from "./job.js";
export {ProviderError, badRequest, notFound, type ErrorKind} from "./errors.js";
export {ModelManager} from "./manager.js";
export type {Runner, RunnerFactory} from "./runner.js";
