import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { LoadFailed } from './LoadFailed';
import { apiJson, ApiError, download, explain, fetchBlobUrl, type BookDoc, type ChapterStatus, type StatusDoc, type TokenSource } from './api';
import { callCostUsd, formatUsd } from './cost';
import { ChapterImage } from './ChapterImage';
import { Publish } from './Publish';
import { streamEvents, type ConnectionState } from './sse';
import { chapterLabel, stageLabel, statusLabel } from './labels';
import { Link } from './Link';
import { OutlineReview } from './OutlineReview';
import type { Session } from './session';

const RANK: Record<ChapterStatus, number> = { pending: 0, writing: 1, written: 2, illustrating: 3, done: 4, failed: 5 };
const later = (a: ChapterStatus | undefined, b: ChapterStatus | undefined): ChapterStatus | undefined =>
  !a ? b : !b ? a : RANK[b] > RANK[a] ? b : a;

interface Props {
  id: string;
  session: Session;
  onUnauthorized(): void;
}

export function BookPage({ id, session, onUnauthorized }: Props) {
  const token = session.token;
  const [phase, setPhase] = useState<'loading' | 'notfound' | 'error' | 'ready'>('loading');
  const [loadError, setLoadError] = useState('');
  const [status, setStatus] = useState<StatusDoc | null>(null);
  const [book, setBook] = useState<BookDoc | null>(null);
  const [titles, setTitles] = useState<Record<number, string>>({});
  const [texts, setTexts] = useState<Record<number, string>>({});
  const [evStatus, setEvStatus] = useState<Record<number, ChapterStatus>>({});
  const [conn, setConn] = useState<ConnectionState>('connecting');
  const [coverUrl, setCoverUrl] = useState<string | null>(null);
  // Bumped on each reason to (re)load the cover: its event can arrive before the file is recorded.
  const [coverWanted, setCoverWanted] = useState(0);
  const [streamError, setStreamError] = useState('');
  // Summed from the provider.call events as they arrive (the stream replays earlier ones first).
  const [spend, setSpend] = useState({ usd: 0, calls: 0 });
  const unauthorized = useRef(onUnauthorized);
  unauthorized.current = onUnauthorized;

  const fail = useCallback((err: unknown) => {
    if (err instanceof ApiError && err.status === 401) return unauthorized.current();
    if (err instanceof ApiError && err.status === 404) return setPhase('notfound');
    setLoadError(explain(err, 'This book'));
    setPhase((p) => (p === 'ready' ? p : 'error'));
  }, []);

  const loadBook = useCallback(async () => {
    try {
      const b = await apiJson<BookDoc>(`/v1/ebooks/${encodeURIComponent(id)}`, token);
      setBook(b);
      setStatus(b);
      if (b.coverImageUrl) setCoverWanted((n) => n + 1);
    } catch (err) {
      fail(err);
    }
  }, [id, token, fail]);

  // Status refreshes are throttled: a chapter emits many events in a burst.
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const refreshStatus = useCallback(() => {
    if (refreshTimer.current) return;
    refreshTimer.current = setTimeout(async () => {
      refreshTimer.current = null;
      try {
        setStatus(await apiJson<StatusDoc>(`/v1/ebooks/${encodeURIComponent(id)}/status`, token));
      } catch (err) {
        fail(err);
      }
    }, 400);
  }, [id, token, fail]);
  useEffect(() => () => void (refreshTimer.current && clearTimeout(refreshTimer.current)), []);

  // First look, then the live stream unless the book is finished.
  useEffect(() => {
    const ctrl = new AbortController();
    (async () => {
      let s: StatusDoc;
      try {
        s = await apiJson<StatusDoc>(`/v1/ebooks/${encodeURIComponent(id)}/status`, token, { signal: ctrl.signal });
      } catch (err) {
        if (!ctrl.signal.aborted) fail(err);
        return;
      }
      setStatus(s);
      setPhase('ready');
      if (s.status === 'completed') {
        setConn('closed');
        await loadBook();
        return;
      }
      // From the first event: the stream replays the text written so far, then follows along.
      try {
        await streamEvents({
          url: `/v1/ebooks/${encodeURIComponent(id)}/events`,
          token,
          signal: ctrl.signal,
          onState: setConn,
          onMessage: ({ event, data }) => {
            const d = (data ?? {}) as Record<string, any>;
            switch (event) {
              case 'outline':
                setTitles(Object.fromEntries((d.chapters ?? []).map((c: { index: number; title: string }) => [c.index, c.title])));
                refreshStatus();
                break;
              case 'chapter.text':
                setTexts((t) => ({ ...t, [d.index]: (t[d.index] ?? '') + String(d.delta ?? '') }));
                setEvStatus((m) => ({ ...m, [d.index]: later(m[d.index], 'writing')! }));
                break;
              case 'chapter.restart':
                // A retry writes the chapter afresh: what the earlier attempt streamed is gone.
                setTexts((t) => ({ ...t, [d.index]: '' }));
                break;
              case 'chapter.written':
                setEvStatus((m) => ({ ...m, [d.index]: later(m[d.index], 'written')! }));
                refreshStatus();
                break;
              case 'chapter.illustrated':
                setEvStatus((m) => ({ ...m, [d.index]: later(m[d.index], 'done')! }));
                refreshStatus();
                break;
              case 'cover':
                setCoverWanted((n) => n + 1);
                refreshStatus();
                break;
              case 'provider.call':
                setSpend((c) => ({ usd: c.usd + callCostUsd(d), calls: c.calls + 1 }));
                break;
              case 'completed':
                void loadBook();
                return true;
              case 'failed':
              case 'cancelled':
                // The book's own total from the ledger: a call still running at the end is billed after this event.
                void loadBook();
                return true;
              default:
                refreshStatus();
            }
            return false;
          },
        });
      } catch (err) {
        if (ctrl.signal.aborted) return;
        if (err instanceof ApiError && (err.status === 401 || err.status === 404)) fail(err);
        else setStreamError(explain(err, 'The live view'));
      }
    })();
    return () => ctrl.abort();
  }, [id, token, fail, loadBook, refreshStatus]);

  // A slow poll as a safety net for progress (the stream carries the details).
  useEffect(() => {
    if (!status || ['completed', 'failed', 'cancelled'].includes(status.status)) return;
    const t = setInterval(refreshStatus, 5000);
    return () => clearInterval(t);
  }, [status, refreshStatus]);

  // The cover is protected: fetch it with the token into a blob URL.
  useEffect(() => {
    if (!coverWanted) return;
    const ctrl = new AbortController();
    let url: string | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    fetchBlobUrl(`/v1/ebooks/${encodeURIComponent(id)}/files/cover`, token, ctrl.signal).then(
      (r) => {
        url = r.url;
        setCoverUrl(r.url);
      },
      // Not there yet: keep the placeholder and look again shortly (a later event also retries).
      () => {
        if (!ctrl.signal.aborted && coverWanted < 5) retry = setTimeout(() => setCoverWanted((n) => n + 1), 1500);
      },
    );
    return () => {
      ctrl.abort();
      clearTimeout(retry);
      if (url) URL.revokeObjectURL(url);
    };
  }, [coverWanted, id, token]);

  if (phase === 'loading') {
    return (
      <section aria-busy="true">
        <h1 tabIndex={-1}>Loading the book…</h1>
      </section>
    );
  }
  if (phase === 'notfound') {
    return (
      <section className="narrow">
        <h1 tabIndex={-1}>Book not found</h1>
        <p className="notice error" role="alert">
          There is no book with this id in your account. It may belong to someone else, or the address may be mistyped.
        </p>
        <p>
          <Link href="/">Go back to your books</Link> or <Link href="/new">start a new one</Link>.
        </p>
      </section>
    );
  }
  if (phase === 'error' || !status) {
    return <LoadFailed message={loadError} />;
  }
  if (book && status.status === 'completed') {
    return <Reader book={book} coverUrl={coverUrl} token={token} onUpdated={setBook} />;
  }
  return (
    <Live
      status={status}
      titles={titles}
      texts={texts}
      evStatus={evStatus}
      conn={conn}
      coverUrl={coverUrl}
      streamError={streamError}
      spend={book?.cost ? { usd: Number(book.cost.totalUsd ?? 0), calls: Number(book.cost.calls ?? 0) } : spend}
      token={token}
      onChanged={refreshStatus}
      onUnauthorized={onUnauthorized}
    />
  );
}

function ProviderLine({ status }: { status: StatusDoc }) {
  const names = status.providers.used.length ? status.providers.used : [status.providers.text, status.providers.image].filter(Boolean);
  if (!names.length) return <p className="meta provider">Provider: not chosen yet</p>;
  return (
    <p className="meta provider" data-testid="provider">
      Written and drawn by: <strong>{names.join(', ')}</strong>
      {status.offline && <span className="badge offline" title="No provider keys are set, so the engine uses its built-in writer and painter.">offline</span>}
    </p>
  );
}

function Live(props: {
  status: StatusDoc;
  titles: Record<number, string>;
  texts: Record<number, string>;
  evStatus: Record<number, ChapterStatus>;
  conn: ConnectionState;
  coverUrl: string | null;
  streamError: string;
  spend: { usd: number; calls: number };
  token: TokenSource;
  onChanged(): void;
  onUnauthorized(): void;
}) {
  const { status, titles, texts, conn, coverUrl } = props;
  const [confirming, setConfirming] = useState(false);
  const [cancelMsg, setCancelMsg] = useState('');
  const pct = Math.round(status.progress * 100);
  const terminal = ['failed', 'cancelled'].includes(status.status);
  const indexes = [
    ...new Set([...status.chapters.map((c) => c.index), ...Object.keys(titles).map(Number), ...Object.keys(texts).map(Number)]),
  ].sort((a, b) => a - b);

  const cancel = async () => {
    setConfirming(false);
    setCancelMsg('Cancelling…');
    try {
      await apiJson(`/v1/ebooks/${encodeURIComponent(status.id)}/cancel`, props.token, { method: 'POST' });
      setCancelMsg('Cancelling: the engine stops at its next step.');
      props.onChanged();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return props.onUnauthorized();
      setCancelMsg(explain(err, 'This book'));
    }
  };

  return (
    <section className="live">
      <div className="live-head">
        <div className="cover-box" aria-hidden={coverUrl ? undefined : true}>
          {coverUrl ? <img src={coverUrl} alt={`Cover of ${status.title}`} /> : <span className="placeholder-text">Cover coming</span>}
        </div>
        <div className="live-summary">
          <h1 tabIndex={-1}>{status.title === 'Untitled book' ? 'Your new book' : status.title}</h1>
          <p className="stage" aria-live="polite" data-testid="stage">
            <span className={`badge ${status.status}`}>{statusLabel(status.status)}</span> {stageLabel(status.stage)}
          </p>
          <div className="bar" role="progressbar" aria-label="Progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-valuetext={`${pct}%`}>
            <div style={{ width: `${pct}%` }} />
          </div>
          <p className="meta">{pct}% done</p>
          <ProviderLine status={status} />
          <CostLine usd={props.spend.usd} calls={props.spend.calls} running={!terminal} />
          <p className="meta conn" aria-live="polite">
            {terminal ? '' : conn === 'open' ? 'Live' : conn === 'reconnecting' ? 'Connection lost; reconnecting without losing text…' : conn === 'connecting' ? 'Connecting…' : ''}
          </p>
          {props.streamError && <p className="notice error" role="alert">{props.streamError}</p>}
          {status.status === 'failed' && (
            <p className="notice error" role="alert">
              The book stopped because of an error: {status.error?.message ?? 'unknown error'}. Start a new book to try again.
            </p>
          )}
          {status.status === 'cancelled' && <p className="notice warn">This book was cancelled. What was written so far is below.</p>}
          {!terminal && (
            <div className="actions">
              {confirming ? (
                <>
                  <span id="cancel-q">Stop making this book? This cannot be undone.</span>
                  <button type="button" className="button danger" onClick={cancel} aria-describedby="cancel-q">
                    Yes, cancel it
                  </button>
                  <button type="button" className="button" onClick={() => setConfirming(false)}>
                    Keep going
                  </button>
                </>
              ) : (
                <button type="button" className="button" onClick={() => setConfirming(true)}>
                  Cancel this book
                </button>
              )}
            </div>
          )}
          {cancelMsg && <p className="meta" role="status">{cancelMsg}</p>}
        </div>
      </div>
      {status.status === 'awaiting_review' && status.outline ? (
        <OutlineReview bookId={status.id} outline={status.outline} token={props.token} onChanged={props.onChanged} onUnauthorized={props.onUnauthorized} />
      ) : (
        <Chapters {...props} indexes={indexes} />
      )}
    </section>
  );
}

/** The chapters as they are written and illustrated, their text streaming in. */
function Chapters(props: {
  status: StatusDoc;
  titles: Record<number, string>;
  texts: Record<number, string>;
  evStatus: Record<number, ChapterStatus>;
  token: TokenSource;
  indexes: number[];
}) {
  const { status, titles, texts, evStatus, indexes } = props;
  return (
    <>
      <h2>Chapters</h2>
      {indexes.length === 0 ? (
        <p className="card empty">The chapters appear here once the story is planned.</p>
      ) : (
        <ol className="chapters">
          {indexes.map((i) => {
            const server = status.chapters.find((c) => c.index === i);
            const st = later(server?.status, evStatus[i]);
            return (
              <li key={i} className="card chapter" data-chapter={i} data-status={st ?? 'pending'}>
                <div className="chapter-head">
                  <h3>
                    {i}. {server?.title ?? titles[i] ?? `Chapter ${i}`}
                  </h3>
                  <span className={`badge ch-${st ?? 'pending'}`}>{chapterLabel(st)}</span>
                </div>
                <div className="chapter-body">
                  <ChapterImage bookId={status.id} index={i} token={props.token} ready={st === 'done'} />
                  <StreamingText text={texts[i] ?? ''} index={i} active={st === 'writing'} />
                </div>
              </li>
            );
          })}
        </ol>
      )}
    </>
  );
}

/** What the providers cost so far (or in total), in money, marked as the estimate it is. */
function CostLine({ usd, calls, running }: { usd: number; calls: number; running: boolean }) {
  return (
    <p className="meta cost" data-testid="cost">
      {running ? 'Cost so far' : 'Cost'}: <strong data-usd={usd.toFixed(6)}>{formatUsd(usd)}</strong>{' '}
      <span className="badge estimated" title="From the providers' list prices; the bill may differ.">estimated</span>
      <span className="cost-calls">
        {' '}
        · {calls} provider {calls === 1 ? 'call' : 'calls'}
        {calls > 0 && usd === 0 ? ' (the built-in writer and painter are free)' : ''}
      </span>
    </p>
  );
}

/** A fixed-height pane that follows the text as it streams, so the page below never jumps. */
function StreamingText({ text, index, active }: { text: string; index: number; active: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (el && active) el.scrollTop = el.scrollHeight;
  }, [text, active]);
  const paragraphs = text.split(/\n{2,}/).filter((p) => p.trim() !== '');
  return (
    <div ref={ref} className="stream" tabIndex={0} role="region" aria-label={`Text of chapter ${index}`} data-testid={`chapter-text-${index}`}>
      {paragraphs.length ? paragraphs.map((p, n) => <p key={n}>{p}</p>) : <p className="placeholder-text">Not written yet.</p>}
    </div>
  );
}

function Reader({
  book,
  coverUrl,
  token,
  onUpdated,
}: {
  book: BookDoc;
  coverUrl: string | null;
  token: TokenSource;
  onUpdated(book: BookDoc): void;
}) {
  const [current, setCurrent] = useState(book.chapters[0]?.index ?? 1);
  const [dlError, setDlError] = useState('');
  const [busy, setBusy] = useState<'' | 'pdf' | 'epub'>('');
  const headingRef = useRef<HTMLHeadingElement>(null);
  const chapter = book.chapters.find((c) => c.index === current) ?? book.chapters[0];
  const pos = book.chapters.indexOf(chapter);

  const go = (index: number) => {
    setCurrent(index);
    // Move focus to the new chapter so reading continues from its start.
    requestAnimationFrame(() => headingRef.current?.focus());
  };
  const save = async (kind: 'pdf' | 'epub') => {
    setBusy(kind);
    setDlError('');
    try {
      await download(`/v1/ebooks/${encodeURIComponent(book.id)}/files/${kind}`, token, `ebook.${kind}`);
    } catch (err) {
      setDlError(`The ${kind.toUpperCase()} could not be downloaded. ${explain(err, 'The file')}`);
    } finally {
      setBusy('');
    }
  };

  return (
    <article className="reader">
      <header className="reader-head">
        <div className="cover-box">
          {coverUrl ? <img src={coverUrl} alt={`Cover of ${book.title}`} /> : <span className="placeholder-text">Loading cover…</span>}
        </div>
        <div>
          <h1 tabIndex={-1}>{book.title}</h1>
          {book.description && <p className="logline">{book.description}</p>}
          <p className="stage">
            <span className="badge completed">{statusLabel('completed')}</span> {book.chapters.length} chapters
          </p>
          <ProviderLine status={book} />
          <CostLine usd={Number(book.cost?.totalUsd ?? 0)} calls={Number(book.cost?.calls ?? 0)} running={false} />
          <div className="actions downloads">
            <button type="button" className="button primary" onClick={() => save('pdf')} disabled={busy !== ''} aria-busy={busy === 'pdf'}>
              {busy === 'pdf' ? 'Preparing PDF…' : 'Download PDF'}
            </button>
            <button type="button" className="button primary" onClick={() => save('epub')} disabled={busy !== ''} aria-busy={busy === 'epub'}>
              {busy === 'epub' ? 'Preparing EPUB…' : 'Download EPUB'}
            </button>
          </div>
          {dlError && <p className="notice error" role="alert">{dlError}</p>}
        </div>
      </header>
      <Publish book={book} token={token} onChanged={(patch) => onUpdated({ ...book, ...patch })} />
      <div className="reader-body">
        <nav className="toc" aria-label="Chapters">
          <h2>Contents</h2>
          <ol>
            {book.chapters.map((c) => (
              <li key={c.index}>
                <button type="button" className="toc-item" aria-current={c.index === chapter.index ? 'true' : undefined} onClick={() => go(c.index)}>
                  {c.index}. {c.title}
                </button>
              </li>
            ))}
          </ol>
        </nav>
        <section className="chapter-read" aria-labelledby="chapter-heading">
          <h2 id="chapter-heading" ref={headingRef} tabIndex={-1}>
            Chapter {chapter.index}: {chapter.title}
          </h2>
          <ChapterImage
            key={chapter.index}
            bookId={book.id}
            index={chapter.index}
            token={token}
            ready={Boolean(chapter.imageAlt) || chapter.status === 'done'}
            alt={chapter.imageAlt}
            version={book.fileVersion}
            wide
          />
          {(chapter.paragraphs ?? []).length ? (
            chapter.paragraphs!.map((p, n) => <p key={n}>{p}</p>)
          ) : (
            <p className="placeholder-text">This chapter’s text could not be loaded. Download the PDF or EPUB to read it.</p>
          )}
          <Rewrite key={chapter.index} book={book} index={chapter.index} token={token} onUpdated={onUpdated} />
          <div className="actions pager">
            <button type="button" className="button" disabled={pos <= 0} onClick={() => go(book.chapters[pos - 1].index)}>
              Previous chapter
            </button>
            <button type="button" className="button" disabled={pos >= book.chapters.length - 1} onClick={() => go(book.chapters[pos + 1].index)}>
              Next chapter
            </button>
          </div>
        </section>
      </div>
    </article>
  );
}

/**
 * Asks for one chapter again, optionally saying what to change, then waits for
 * the book's next file version and shows it.
 */
function Rewrite({ book, index, token, onUpdated }: { book: BookDoc; index: number; token: TokenSource; onUpdated(book: BookDoc): void }) {
  const [feedback, setFeedback] = useState('');
  const [state, setState] = useState<'idle' | 'sending' | 'waiting'>('idle');
  const [error, setError] = useState('');
  const from = book.fileVersion ?? 1;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setState('sending');
    setError('');
    try {
      const body = feedback.trim() ? { feedback: feedback.trim() } : {};
      await apiJson(`/v1/ebooks/${encodeURIComponent(book.id)}/chapters/${index}/regenerate`, token, { method: 'POST', body });
      setState('waiting');
      for (;;) {
        await new Promise((r) => setTimeout(r, 1500));
        const next = await apiJson<BookDoc>(`/v1/ebooks/${encodeURIComponent(book.id)}`, token);
        if ((next.fileVersion ?? 1) > from) {
          setState('idle');
          setFeedback('');
          onUpdated(next);
          return;
        }
      }
    } catch (err) {
      setState('idle');
      setError(explain(err, 'The rewrite'));
    }
  };

  return (
    <form className="card rewrite" onSubmit={submit} noValidate>
      <label htmlFor={`rewrite-${index}`}>What should change in this chapter? (optional)</label>
      <textarea
        id={`rewrite-${index}`}
        value={feedback}
        maxLength={1000}
        rows={2}
        onChange={(e) => setFeedback(e.target.value)}
        disabled={state !== 'idle'}
      />
      <div className="actions">
        <button type="submit" className="button" disabled={state !== 'idle'} aria-busy={state !== 'idle'}>
          {state === 'idle' ? 'Rewrite this chapter' : 'Rewriting… (the new version appears here when ready)'}
        </button>
      </div>
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
