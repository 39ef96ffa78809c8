/**
 * The pixel editor screen: the view over the pure model in editor/model (document, tools, history,
 * exporters). Keyboard: B E F L R I pick tools, M mirror, G grid, + / − zoom, Ctrl+Z / Ctrl+Shift+Z
 * (or Ctrl+Y) undo / redo, Ctrl+S save, [ ] previous / next frame; on the canvas, arrows move the
 * cursor and Space applies the tool.
 *
 * Drafts: with an identity, the piece lives in an Automerge draft synced live to the identity's other
 * browsers (editor/drafts, loaded on demand so Automerge stays out of the shell); Save signs a
 * PIXBOOK_SAVE receipt of its snapshot. Without an identity (or offline before the draft exists on the
 * relay) Save keeps the piece in this device's IndexedDB, as before.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { downloadBlob } from '../util/download.js'
import { listLocalDrafts, saveDraftLocally, type DraftRow } from '../editor/draft-store.js'
import { CANVAS_SIZES, type CanvasSize } from '../editor/model/bitmap.js'
import { parseHex, toCss, toHex } from '../editor/model/color.js'
import { MAX_FRAME_MS, MIN_FRAME_MS, PixelDocument } from '../editor/model/document.js'
import { encodeGif } from '../editor/model/gif.js'
import { addCustomColor, defaultPalette, paletteColors } from '../editor/model/palette.js'
import { encodePng } from '../editor/model/png.js'
import { parsePiece, serializePiece } from '../editor/model/serialize.js'
import { Stroke, TOOLS, type Point, type ToolId } from '../editor/model/tools.js'
import { PixelCanvas } from '../editor/view/pixel-canvas.js'
import { Link } from '../app/router.js'
import { useStore } from '../app/store.js'
import { identityState } from '../identity/identity-session.js'
import { queuePublication } from '../social/publisher.js'
import { AnimationPreview } from '../editor/view/preview.js'
import type { DraftSummary, DraftSync, SyncedDraft } from '../editor/drafts/synced-drafts.js'

/** The draft sync of the active identity, opened once per identity and kept while the app runs. */
let draftSync: { identityId: string; ready: Promise<DraftSync> } | undefined
function loadDraftSync(identityId: string): Promise<DraftSync> {
  if (draftSync?.identityId !== identityId) {
    const previous = draftSync?.ready
    const ready = (async () => {
      await previous?.then((s) => s.close()).catch(() => undefined)
      const { openDraftSync } = await import('../editor/drafts/synced-drafts.js')
      return openDraftSync()
    })()
    draftSync = { identityId, ready }
    ready.catch(() => {
      if (draftSync?.ready === ready) draftSync = undefined
    })
  }
  return draftSync.ready
}

function defaultZoom(size: number): number {
  const fit = Math.floor(Math.min(512, typeof innerWidth === 'number' ? innerWidth - 48 : 512) / size)
  return Math.max(1, Math.min(32, fit))
}

export default function Editor() {
  const [doc, setDoc] = useState(() => new PixelDocument(16))
  const [version, setVersion] = useState(0)
  const [tool, setTool] = useState<ToolId>('pencil')
  const [palette, setPalette] = useState(defaultPalette)
  const [color, setColor] = useState(palette.base[0]!)
  const [mirror, setMirror] = useState(false)
  const [grid, setGrid] = useState(true)
  const [zoom, setZoom] = useState(() => defaultZoom(16))
  const [cursor, setCursor] = useState<Point | undefined>()
  const [playing, setPlaying] = useState(true)
  const [draftId, setDraftId] = useState<string>(() => crypto.randomUUID())
  const [name, setName] = useState('Untitled')
  const [dirty, setDirty] = useState(false)
  const [status, setStatus] = useState('')
  const [drafts, setDrafts] = useState<DraftRow[]>([])
  const [newSize, setNewSize] = useState<CanvasSize>(16)
  const [exportScale, setExportScale] = useState(1)
  const stroke = useRef<Stroke | undefined>(undefined)
  const identity = useStore(identityState)
  const [hashtags, setHashtags] = useState('')
  const [description, setDescription] = useState('')
  const [published, setPublished] = useState<string | undefined>()
  const [synced, setSynced] = useState<SyncedDraft | undefined>()
  const [syncedList, setSyncedList] = useState<DraftSummary[]>([])
  const [autosave, setAutosave] = useState(false)
  const [, setWritten] = useState(0)
  // The latest values for timers and Automerge listeners, which outlive a render.
  const latest = useRef({ doc, name, synced })
  latest.current = { doc, name, synced }
  const writeTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  const creating = useRef<Promise<void> | undefined>(undefined)
  const identityId = identity.phase === 'ready' ? identity.identity?.identityId : undefined

  /** Puts the piece into its synced draft (making the draft on the relay the first time). Not a save. */
  const writeDraft = async () => {
    if (writeTimer.current) clearTimeout(writeTimer.current)
    writeTimer.current = undefined
    const { doc: piece, name: title, synced: draft } = latest.current
    if (draft) {
      draft.write(title.trim() || 'Untitled', piece)
      setWritten((n) => n + 1)
      return
    }
    if (!identityId || creating.current) return creating.current
    creating.current = (async () => {
      try {
        const made = await (await loadDraftSync(identityId)).create(title.trim() || 'Untitled', piece)
        if (latest.current.doc !== piece) return // a new canvas was started meanwhile
        setSynced(made)
        setStatus('Draft synced to your other devices (not saved yet).')
        void loadDraftSync(identityId)
          .then((s) => s.list())
          .then(setSyncedList, () => undefined)
      } catch (e) {
        setStatus(`Draft not synced (${(e as Error).message}); Save keeps it on this device.`)
      } finally {
        creating.current = undefined
      }
    })()
    return creating.current
  }
  /** Coalesces writes: a burst of edits becomes one Automerge change, off the drawing path. */
  const scheduleWrite = () => {
    if (writeTimer.current) clearTimeout(writeTimer.current)
    writeTimer.current = setTimeout(() => void writeDraft(), 100)
  }

  const changed = () => {
    setVersion((v) => v + 1)
    setDirty(true)
    if (identityId) scheduleWrite()
  }

  useEffect(() => {
    void listLocalDrafts().then(setDrafts)
  }, [])

  useEffect(() => {
    if (!identityId) return
    loadDraftSync(identityId)
      .then((s) => s.list())
      .then(setSyncedList, (e: Error) => setStatus(`Synced drafts unavailable: ${e.message}`))
  }, [identityId])

  // Edits made on another device arrive through the relay: show them (not in the middle of a stroke).
  useEffect(() => {
    if (!synced) return
    setAutosave(false)
    return synced.onRemoteChange(() => {
      if (stroke.current || latest.current.synced !== synced) return
      try {
        const { name: title, piece } = synced.read()
        piece.selectFrame(Math.min(latest.current.doc.current, piece.frames.length - 1))
        setDoc(piece)
        setName(title)
        setVersion((v) => v + 1)
        setStatus('Updated from another device.')
      } catch (e) {
        setStatus(`The synced draft cannot be shown: ${(e as Error).message}`)
      }
    })
  }, [synced])

  useEffect(() => {
    if (synced && name !== synced.read().name) scheduleWrite()
  }, [name])

  const startStroke = (at: Point) => {
    stroke.current = new Stroke(tool, doc.bitmap, { color, mirror }, at)
    if (tool !== 'eyedropper') setVersion((v) => v + 1)
  }
  const redraw = useRef<(() => void) | undefined>(undefined)
  // A sample that changed pixels is drawn straight onto the canvas (no re-render of the screen per
  // sample); the stroke's end re-renders everything (preview, history buttons).
  const moveStroke = (at: Point) => {
    if (stroke.current?.move(at)) {
      if (redraw.current) redraw.current()
      else setVersion((v) => v + 1)
    }
  }
  const endStroke = () => {
    const s = stroke.current
    stroke.current = undefined
    if (!s) return
    if (s.tool === 'eyedropper') {
      if (s.picked !== undefined && (s.picked & 0xff) > 0) {
        setColor(s.picked)
        setPalette((p) => addCustomColor(p, s.picked!))
      }
      return
    }
    if (doc.commitPixels(s.original)) changed()
  }

  const undo = () => doc.undo() && changed()
  const redo = () => doc.redo() && changed()

  const save = async () => {
    if (synced) {
      try {
        await writeDraft()
        const result = await synced.save()
        setDirty(false)
        setStatus(`Saved “${name.trim() || 'Untitled'}”: PIXBOOK_SAVE signed for snapshot ${result.snapshotHash.slice(0, 19)}…`)
      } catch (e) {
        setStatus(`Could not save (the snapshot is uploaded to the relay first): ${(e as Error).message}. The draft keeps your drawing.`)
      }
      return
    }
    const row: DraftRow = { id: draftId, name: name.trim() || 'Untitled', updatedAt: Date.now(), piece: serializePiece(doc) }
    await saveDraftLocally(row)
    setDirty(false)
    setStatus(`Saved “${row.name}” on this device.`)
    setDrafts(await listLocalDrafts())
  }

  const open = (row: DraftRow) => {
    if (dirty && !confirm('Discard unsaved changes?')) return
    try {
      const d = parsePiece(row.piece)
      setDoc(d)
      setSynced(undefined)
      setDraftId(row.id)
      setName(row.name)
      setZoom(defaultZoom(d.size))
      setDirty(false)
      setStatus(`Opened “${row.name}”.`)
    } catch (e) {
      setStatus(`This draft cannot be opened: ${(e as Error).message}`)
    }
  }

  const openSynced = async (summary: DraftSummary) => {
    if (!identityId) return
    try {
      const draft = await (await loadDraftSync(identityId)).open(summary.documentUrl)
      const { name: title, piece } = draft.read()
      setDoc(piece)
      setName(title)
      setSynced(draft)
      setZoom(defaultZoom(piece.size))
      setDirty(false)
      setStatus(`Opened “${title}” (synced draft).`)
    } catch (e) {
      setStatus(`This draft cannot be opened: ${(e as Error).message}`)
    }
  }

  const toggleAutosave = async (on: boolean) => {
    if (!synced) return
    setAutosave(on)
    await synced.setAutosave(
      on,
      () => setStatus('Autosaved: PIXBOOK_SAVE signed.'),
      (e) => setStatus(`Autosave failed: ${(e as Error).message}`),
    )
  }

  const startNew = () => {
    if (dirty && !confirm('Discard unsaved changes?')) return
    setSynced(undefined)
    setDoc(new PixelDocument(newSize))
    setDraftId(crypto.randomUUID())
    setName('Untitled')
    setZoom(defaultZoom(newSize))
    setDirty(false)
    setStatus(`New ${newSize}×${newSize} canvas.`)
  }

  const exportPng = async () => {
    const bytes = await encodePng(doc.bitmap, exportScale)
    downloadBlob(new Blob([bytes as BlobPart], { type: 'image/png' }), `${name.trim() || 'pixpax'}.png`)
  }
  const exportGif = () => {
    const bytes = encodeGif(doc.frames, exportScale)
    downloadBlob(new Blob([bytes as BlobPart], { type: 'image/gif' }), `${name.trim() || 'pixpax'}.gif`)
  }

  /** Queues the piece for publication (PNG, or GIF when animated); it goes out when the relay is reachable. */
  const publish = async () => {
    setPublished(undefined)
    try {
      const animated = doc.frames.length > 1
      const bytes = animated ? encodeGif(doc.frames, 1) : await encodePng(doc.bitmap, 1)
      await queuePublication({
        title: name.trim() || 'Untitled',
        ...(description.trim() ? { description: description.trim() } : {}),
        hashtags: hashtags
          .split(/[\s,]+/)
          .filter(Boolean)
          .map((t) => t.replace(/^#/, '')),
        mime: animated ? 'image/gif' : 'image/png',
        width: doc.size,
        height: doc.size,
        frames: doc.frames.length,
        bytes,
      })
      setPublished(
        navigator.onLine ? 'Publishing… it appears in the feed once the relay has it.' : 'Queued: it is published when you are online.',
      )
    } catch (e) {
      setPublished(`Could not publish: ${(e as Error).message}`)
    }
  }

  const applyAtCursor = () => {
    const at = cursor ?? { x: 0, y: 0 }
    startStroke(at)
    endStroke()
  }

  // Shortcuts for the whole screen (not while typing in a field).
  const handlers = useRef({ undo, redo, save, applyAtCursor })
  handlers.current = { undo, redo, save, applyAtCursor }
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement
      if (target.closest('input, textarea, select')) return
      const key = event.key.toLowerCase()
      const mod = event.ctrlKey || event.metaKey
      if (mod && key === 'z') {
        event.preventDefault()
        if (event.shiftKey) handlers.current.redo()
        else handlers.current.undo()
      } else if (mod && key === 'y') {
        event.preventDefault()
        handlers.current.redo()
      } else if (mod && key === 's') {
        event.preventDefault()
        void handlers.current.save()
      } else if (!mod && !event.altKey) {
        const t = TOOLS.find((x) => x.key === key)
        if (t) setTool(t.id)
        else if (key === 'm') setMirror((m) => !m)
        else if (key === 'g') setGrid((g) => !g)
        else if (key === '+' || key === '=') setZoom((z) => Math.min(32, z + 1))
        else if (key === '-') setZoom((z) => Math.max(1, z - 1))
        else if (key === '[') {
          doc.selectFrame(doc.current - 1)
          setVersion((v) => v + 1)
        } else if (key === ']') {
          doc.selectFrame(doc.current + 1)
          setVersion((v) => v + 1)
        }
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [doc])

  const onCanvasKey = (event: KeyboardEvent) => {
    const moves: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }
    const move = moves[event.key]
    if (move) {
      event.preventDefault()
      const c = cursor ?? { x: 0, y: 0 }
      setCursor({ x: Math.min(doc.size - 1, Math.max(0, c.x + move[0])), y: Math.min(doc.size - 1, Math.max(0, c.y + move[1])) })
    } else if (event.key === ' ' || event.key === 'Enter') {
      event.preventDefault()
      applyAtCursor()
    }
  }

  const colors = useMemo(() => paletteColors(palette), [palette])
  const frame = doc.frames[doc.current]!

  return (
    <section class="screen editor" data-draft-url={synced?.documentUrl ?? ''}>
      <h1 tabIndex={-1}>Draw</h1>
      <div class="editor-bar" role="toolbar" aria-label="Piece">
        <label for="piece-name">Name</label>
        <input id="piece-name" value={name} maxLength={80} onInput={(e) => setName(e.currentTarget.value)} />
        <button type="button" class="primary" onClick={() => void save()} aria-keyshortcuts="Control+S">
          Save draft{(synced ? synced.changedSinceSave() : dirty) ? ' *' : ''}
        </button>
        {synced ? (
          <label class="check">
            <input type="checkbox" checked={autosave} onChange={(e) => void toggleAutosave(e.currentTarget.checked)} /> Autosave
          </label>
        ) : null}
        <label for="new-size">Size</label>
        <select id="new-size" value={newSize} onChange={(e) => setNewSize(Number(e.currentTarget.value) as CanvasSize)}>
          {CANVAS_SIZES.map((s) => (
            <option value={s}>
              {s}×{s}
            </option>
          ))}
        </select>
        <button type="button" onClick={startNew}>
          New canvas
        </button>
      </div>
      <p role="status" class="status-line" data-testid="editor-status">
        {status}
      </p>
      <div class="editor-layout">
        <div class="tools" role="toolbar" aria-label="Tools" aria-orientation="vertical">
          {TOOLS.map((t) => (
            <button
              type="button"
              aria-pressed={tool === t.id}
              aria-keyshortcuts={t.key.toUpperCase()}
              title={`${t.label} (${t.key.toUpperCase()})`}
              data-tool={t.id}
              onClick={() => setTool(t.id)}
            >
              {t.label}
            </button>
          ))}
          <button type="button" aria-pressed={mirror} aria-keyshortcuts="M" onClick={() => setMirror((m) => !m)} data-tool="mirror">
            Mirror
          </button>
          <button type="button" aria-pressed={grid} aria-keyshortcuts="G" onClick={() => setGrid((g) => !g)}>
            Grid
          </button>
          <button type="button" onClick={undo} disabled={!doc.canUndo} aria-keyshortcuts="Control+Z">
            Undo
          </button>
          <button type="button" onClick={redo} disabled={!doc.canRedo} aria-keyshortcuts="Control+Shift+Z">
            Redo
          </button>
          <div class="zoom" role="group" aria-label="Zoom">
            <button type="button" aria-label="Zoom out" onClick={() => setZoom((z) => Math.max(1, z - 1))}>
              −
            </button>
            <output aria-live="polite">{zoom}×</output>
            <button type="button" aria-label="Zoom in" onClick={() => setZoom((z) => Math.min(32, z + 1))}>
              +
            </button>
          </div>
        </div>
        <div class="canvas-wrap">
          <PixelCanvas
            bitmap={doc.bitmap}
            version={version}
            zoom={zoom}
            grid={grid}
            cursor={cursor}
            label={`${doc.size} by ${doc.size} canvas, frame ${doc.current + 1} of ${doc.frames.length}. Arrow keys move the cursor, Space applies ${tool}.`}
            onStrokeStart={startStroke}
            onStrokeMove={moveStroke}
            onStrokeEnd={endStroke}
            onKeyDown={onCanvasKey}
            redrawRef={redraw}
          />
        </div>
        <div class="side">
          <fieldset class="palette">
            <legend>Colour</legend>
            <div class="swatches" role="radiogroup" aria-label="Palette">
              {colors.map((c) => (
                <button
                  type="button"
                  role="radio"
                  aria-checked={c === color}
                  aria-label={toHex(c)}
                  data-color={toHex(c)}
                  class="swatch"
                  style={{ background: toCss(c) }}
                  onClick={() => setColor(c)}
                />
              ))}
            </div>
            <label for="custom-color">Custom colour</label>
            <input
              id="custom-color"
              type="color"
              value={toHex(color)}
              onChange={(e) => {
                const c = parseHex(e.currentTarget.value)
                setColor(c)
                setPalette((p) => addCustomColor(p, c))
              }}
            />
          </fieldset>
          <fieldset class="frames">
            <legend>
              Frames ({doc.current + 1}/{doc.frames.length})
            </legend>
            <div class="frame-list" role="listbox" aria-label="Frames">
              {doc.frames.map((_, i) => (
                <button
                  type="button"
                  role="option"
                  aria-selected={i === doc.current}
                  onClick={() => {
                    doc.selectFrame(i)
                    setVersion((v) => v + 1)
                  }}
                >
                  {i + 1}
                </button>
              ))}
            </div>
            <div class="row">
              <button type="button" onClick={() => doc.addFrame() && changed()}>
                Add
              </button>
              <button type="button" onClick={() => doc.addFrame(true) && changed()}>
                Duplicate
              </button>
              <button type="button" onClick={() => doc.moveFrame(-1) && changed()} aria-label="Move frame earlier">
                ◀
              </button>
              <button type="button" onClick={() => doc.moveFrame(1) && changed()} aria-label="Move frame later">
                ▶
              </button>
              <button type="button" onClick={() => doc.deleteFrame() && changed()} disabled={doc.frames.length < 2}>
                Delete
              </button>
            </div>
            <label for="frame-ms">Frame time (ms)</label>
            <input
              id="frame-ms"
              type="number"
              min={MIN_FRAME_MS}
              max={MAX_FRAME_MS}
              step={10}
              value={frame.durationMs}
              onChange={(e) => {
                doc.setDuration(Number(e.currentTarget.value))
                changed()
              }}
            />
            <AnimationPreview doc={doc} version={version} playing={playing} />
            <button type="button" aria-pressed={playing} onClick={() => setPlaying((p) => !p)}>
              {playing ? 'Pause preview' : 'Play preview'}
            </button>
          </fieldset>
          <fieldset>
            <legend>Export</legend>
            <label for="export-scale">Scale</label>
            <select id="export-scale" value={exportScale} onChange={(e) => setExportScale(Number(e.currentTarget.value))}>
              {[1, 2, 4, 8, 16].map((s) => (
                <option value={s}>{s}×</option>
              ))}
            </select>
            <div class="row">
              <button type="button" onClick={() => void exportPng()}>
                Export PNG
              </button>
              <button type="button" onClick={exportGif}>
                Export GIF
              </button>
            </div>
          </fieldset>
          <fieldset>
            <legend>Publish</legend>
            {identity.phase === 'ready' ? (
              <>
                <p class="hint">Title: the piece's name above.</p>
                <label for="publish-tags">Hashtags</label>
                <input
                  id="publish-tags"
                  value={hashtags}
                  placeholder="sunset pixelart"
                  onInput={(e) => setHashtags(e.currentTarget.value)}
                />
                <label for="publish-description">Description</label>
                <textarea
                  id="publish-description"
                  rows={2}
                  maxLength={5000}
                  value={description}
                  onInput={(e) => setDescription(e.currentTarget.value)}
                />
                <button type="button" class="primary" onClick={() => void publish()}>
                  Publish
                </button>
                <p role="status" data-testid="publish-status">
                  {published ? (
                    <>
                      {published} <Link href="/feed">Open the feed</Link>
                    </>
                  ) : null}
                </p>
              </>
            ) : (
              <p>
                <Link href="/welcome">Create an identity</Link> to publish.
              </p>
            )}
          </fieldset>
          {syncedList.length > 0 ? (
            <fieldset>
              <legend>Your drafts (synced)</legend>
              <ul class="drafts" data-testid="synced-drafts">
                {syncedList.map((d) => (
                  <li>
                    <button
                      type="button"
                      aria-current={d.documentUrl === synced?.documentUrl ? 'true' : undefined}
                      onClick={() => void openSynced(d)}
                    >
                      {d.name}
                      {d.size ? ` · ${d.size}×${d.size}` : ''} · {new Date(d.createdAt).toLocaleString()}
                    </button>
                  </li>
                ))}
              </ul>
            </fieldset>
          ) : null}
          {drafts.length > 0 ? (
            <fieldset>
              <legend>Drafts on this device</legend>
              <ul class="drafts">
                {drafts.map((d) => (
                  <li>
                    <button type="button" onClick={() => open(d)}>
                      {d.name} · {d.piece.size}×{d.piece.size} · {new Date(d.updatedAt).toLocaleString()}
                    </button>
                  </li>
                ))}
              </ul>
            </fieldset>
          ) : null}
        </div>
      </div>
    </section>
  )
}
