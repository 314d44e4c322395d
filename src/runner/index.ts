/** The runner: the child process that loads one model with node-llama-cpp and serves its sequences over IPC. */
export {Engine} from "./engine.js";
