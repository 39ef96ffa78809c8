/**
 * NoticeRouter (sync/notice-router.ts): a commit notice reaches the sessions that follow its stream
 * and nobody else, so a notice costs O(watchers of that stream), not O(connected sessions); a reconnect
 * notice (`*`) reaches every reconnect handler; stopping a watch stops it.
 */
import { describe, expect, it } from 'vitest'
import { NoticeRouter } from '../src/sync/notice-router.js'
import { LocalNotifier, type ReceiptNotice } from '../src/sync/notifier.js'

describe('NoticeRouter', () => {
  it('calls only the watchers of the notice stream, one notifier listener for all of them', () => {
    const notifier = new LocalNotifier()
    const router = new NoticeRouter(notifier)
    const calls = new Map<string, ReceiptNotice[]>()
    // 1,000 sessions, each following its own stream; two of them also follow a shared one.
    for (let i = 0; i < 1000; i++) {
      router.watch(`device/d${i}`, (n) => calls.set(`s${i}`, [...(calls.get(`s${i}`) ?? []), n]))
    }
    router.watch('remote/acc/shared', (n) => calls.set('a', [...(calls.get('a') ?? []), n]))
    router.watch('remote/acc/shared', (n) => calls.set('b', [...(calls.get('b') ?? []), n]))
    expect((notifier as unknown as { emitter: { listenerCount(e: string): number } }).emitter.listenerCount('notice')).toBe(1)

    notifier.publish({ stream: 'device/d7', seq: 3 })
    notifier.publish({ stream: 'remote/acc/shared', seq: 1 })
    notifier.publish({ stream: 'device/nobody', seq: 1 })
    expect([...calls.keys()].sort()).toEqual(['a', 'b', 's7'])
    expect(calls.get('s7')).toEqual([{ stream: 'device/d7', seq: 3 }])
    expect(calls.get('a')).toEqual([{ stream: 'remote/acc/shared', seq: 1 }])
    expect(router.watchedStreams).toBe(1001)
    router.close()
  })

  it('sends a reconnect notice to every reconnect handler and to no stream watcher', () => {
    const notifier = new LocalNotifier()
    const router = new NoticeRouter(notifier)
    const seen: string[] = []
    router.watch('device/x', () => seen.push('watch'))
    router.onReconnect(() => seen.push('r1'))
    const stop = router.onReconnect(() => seen.push('r2'))
    notifier.publish({ stream: '*', seq: 0 })
    stop()
    notifier.publish({ stream: '*', seq: 0 })
    expect(seen).toEqual(['r1', 'r2', 'r1'])
  })

  it('stops a watch, forgets a stream nobody watches, and tolerates a watcher stopping another mid-dispatch', () => {
    const notifier = new LocalNotifier()
    const router = new NoticeRouter(notifier)
    const seen: string[] = []
    let stopB: () => void = () => {}
    const stopA = router.watch('device/x', () => {
      seen.push('a')
      stopB() // b still gets this notice (the dispatch works on a copy), not the next
    })
    stopB = router.watch('device/x', () => seen.push('b'))
    notifier.publish({ stream: 'device/x', seq: 1 })
    notifier.publish({ stream: 'device/x', seq: 2 })
    expect(seen).toEqual(['a', 'b', 'a'])
    stopA()
    expect(router.watchedStreams).toBe(0)
    notifier.publish({ stream: 'device/x', seq: 3 })
    expect(seen).toEqual(['a', 'b', 'a'])
  })
})
