export {DownloadError, type DownloadErrorCode, isDownloadError} from "./errors.js";
export {parseModelRef, formatModelRef, targetFolderName, DEFAULT_QUANT, type ModelRef, type HfModelRef, type UrlModelRef, type ParseOptions} from "./ref.js";
export {resolveHfSettings, listHfRepoFiles, selectHfFiles, hfResolveUrl, DEFAULT_HF_ENDPOINT, type HfSettings, type HfFileEntry, type HfSelection} from "./hf.js";
export {fetchFile, type FileSpec, type FetchFileOptions, type FetchFileResult, type FilePhase} from "./fetch-file.js";
export {statfsFreeSpace, formatBytes, type FreeSpaceProbe} from "./space.js";
export {
    DownloadManager, defaultStateFile,
    type DownloadManagerOptions, type DownloadJob, type DownloadFileState, type DownloadProgressEvent, type JobStatus
} from "./manager.js";
export {
    assertSafeFileName, assertSafeRepoPath, isInside, resolveInside, isProjectorName, isGgufName, splitInfo,
    quantFromFileName, nameHasQuant, modelNameFromFile, SPLIT_RE, PARTIAL_SUFFIXES
} from "./names.js";
