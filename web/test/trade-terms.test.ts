/**
 * The pixbook screen's parsing (Node): book addresses as a trade's recipient, the text of a scanned
 * printed code, and which card an instance id is (held, traded away, or another book's).
 */
import type { BookView } from '@pixpax/client-sdk'
import { describe, expect, it } from 'vitest'
import { cardOfInstance, parseBookAddress, tokenFromScan } from '../src/economy/trade-terms.js'

describe('pixbook trade terms', () => {
  it('reads a book address as shown, or as its stream key; anything else is refused', () => {
    expect(parseBookAddress(' a-abc123/main ')).toEqual({ accountId: 'a-abc123', bookId: 'main' })
    expect(parseBookAddress('pixbook/a-abc123/main')).toEqual({ accountId: 'a-abc123', bookId: 'main' })
    for (const bad of ['', 'a-abc123', 'a-abc123/main/extra', 'a b/main', '../main', 'a-abc123/'])
      expect(parseBookAddress(bad), bad).toBeUndefined()
  })

  it('takes the token from a scanned QR: the text itself, or a link’s code parameter or last segment', () => {
    expect(tokenFromScan('  eyJhbGciOi.abc.def \n')).toBe('eyJhbGciOi.abc.def')
    expect(tokenFromScan('https://pixpax.example/redeem?code=eyJ.x.y')).toBe('eyJ.x.y')
    expect(tokenFromScan('https://pixpax.example/c/eyJ.x.y')).toBe('eyJ.x.y')
  })

  it('names the card of an instance: held, from the book’s own pack once traded away, else its id', () => {
    const view = {
      instances: [{ instanceId: 'pk1-0', collectionId: 'one', cardId: 'c0', packId: 'pk1', acquiredEventId: 'e1' }],
      packs: [{ packId: 'pk1', dropId: null, collectionId: 'one', cards: [{ cardId: 'c0' }, { cardId: 'c7' }], issuedEventId: 'e1' }],
    } as unknown as BookView
    expect(cardOfInstance(view, 'pk1-0')).toBe('c0')
    expect(cardOfInstance(view, 'pk1-1')).toBe('c7') // traded away: still in the book's pack history
    expect(cardOfInstance(view, 'pk9-2')).toBe('pk9-2') // another book's pack: only its id is known
    expect(cardOfInstance(view, 'pk1-5')).toBe('pk1-5')
  })
})
