import { useEffect, useState, type FormEvent } from 'react';
import { apiJson, ApiError, explain, type StatusDoc } from './api';
import { Link } from './Link';
import { navigate } from './router';
import type { Session } from './session';
import { statusLabel } from './labels';

type Row = StatusDoc & { createdAt: string };

interface Page {
  items: Row[];
  nextCursor: string | null;
}

export function Home({ session, onUnauthorized }: { session: Session; onUnauthorized(): void }) {
  const [rows, setRows] = useState<Row[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [listError, setListError] = useState('');
  const [openId, setOpenId] = useState('');
  const [openError, setOpenError] = useState('');

  // The account's books come from the server, so every browser shows the same list.
  const load = (after: string | null, signal?: AbortSignal) =>
    apiJson<Page>(`/v1/users/me/ebooks?limit=20${after ? `&cursor=${encodeURIComponent(after)}` : ''}`, session.token, { signal }).then(
      (page) => {
        setRows((rs) => (after && rs ? [...rs, ...page.items] : page.items));
        setCursor(page.nextCursor);
        setListError('');
      },
      (err) => {
        if (signal?.aborted) return;
        if (err instanceof ApiError && err.status === 401) return onUnauthorized();
        setListError(explain(err, 'Your books'));
        setRows((rs) => rs ?? []);
      },
    );

  useEffect(() => {
    const ctrl = new AbortController();
    void load(null, ctrl.signal);
    return () => ctrl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [session, onUnauthorized]);

  const open = (e: FormEvent) => {
    e.preventDefault();
    const id = openId.trim();
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
      setOpenError('A book id looks like 3f2b8c1e-…: 36 letters, digits and dashes. Copy it from the book’s address.');
      return;
    }
    setOpenError('');
    navigate(`/books/${id.toLowerCase()}`);
  };

  return (
    <section>
      <div className="page-head">
        <h1 tabIndex={-1}>My books</h1>
        <Link href="/new" className="button primary">Start a new book</Link>
      </div>
      {listError && <p className="field-error" role="alert">{listError}</p>}
      {rows === null ? (
        <p className="card empty" aria-live="polite">Loading your books…</p>
      ) : rows.length === 0 ? (
        <p className="card empty">No books yet. Start one with the button above: it takes a prompt and a minute.</p>
      ) : (
        <ul className="book-list" aria-label="Your books">
          {rows.map((r) => (
            <li key={r.id} className="card book-row">
              <div className="book-row-main">
                <Link href={`/books/${r.id}`} className="book-title">
                  {r.title && r.title !== 'Untitled book' ? r.title : 'A book being planned'}
                </Link>
                <span className="meta">Started {new Date(r.createdAt).toLocaleString()}</span>
              </div>
              <div className="book-row-status">
                <span className={`badge ${r.status}`}>{statusLabel(r.status)}</span>
                {r.status === 'awaiting_review' && (
                  <Link href={`/books/${r.id}`} className="meta" data-testid="review-link">
                    Review the outline
                  </Link>
                )}
                {r.status === 'running' || r.status === 'queued' ? (
                  <div className="bar small" role="progressbar" aria-label="Progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(r.progress * 100)}>
                    <div style={{ width: `${Math.round(r.progress * 100)}%` }} />
                  </div>
                ) : null}
              </div>
            </li>
          ))}
        </ul>
      )}
      {cursor && (
        <button type="button" className="button" onClick={() => void load(cursor)}>
          Show more
        </button>
      )}
      <form className="card open-form" onSubmit={open} noValidate>
        <label htmlFor="open-id">Open a book by its id</label>
        <div className="inline">
          <input id="open-id" value={openId} onChange={(e) => setOpenId(e.target.value)} aria-describedby={openError ? 'open-id-error' : undefined} aria-invalid={openError ? true : undefined} autoComplete="off" spellCheck={false} />
          <button type="submit" className="button">Open</button>
        </div>
        {openError && <p id="open-id-error" className="field-error" role="alert">{openError}</p>}
      </form>
    </section>
  );
}
