/** The media module (docs/media.md): validation, the blob record other modules read, the scrubber. */
export { isAllowedCanvas, MAKAPIX_SMALL_SIZES, MEDIA_MAX_BYTES, MEDIA_MAX_DECODED_PIXELS, MEDIA_MAX_FRAMES, MEDIA_MIMES } from './limits.js'
export type { MediaMime } from './limits.js'
export type { MediaRefusal } from './media-error.js'
export { mediaPlugin, type MediaModule } from './media-plugin.js'
export { MediaScrubber, type CorruptMedia, type ScrubReport } from './media-scrubber.js'
export { lookupMedia, mediaKey, takeDownMedia, type MediaRecord, type MediaStatus } from './media-store.js'
export { validateMedia, type MediaInfo, type ValidateOptions } from './validate-media.js'
