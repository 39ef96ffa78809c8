import { PixpaxError } from '@pixpax/shared'

/** Why an upload is refused: `details.reason` of MEDIA_INVALID (docs/media.md, docs/errors.md). */
export type MediaRefusal = 'format' | 'size' | 'dimensions' | 'frames' | 'decode' | 'mismatch'

export function mediaInvalid(reason: MediaRefusal, message: string, details: Record<string, unknown> = {}): PixpaxError {
  return new PixpaxError('MEDIA_INVALID', message, { reason, ...details })
}
