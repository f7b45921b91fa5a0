import { useEffect, useState, type FormEvent } from 'react';
import { apiJson, ApiError, explain, type StatusDoc } from './api';
import { forgetBook, listBooks, type StoredBook } from './books-store';
import { Link } from './Link';
import { navigate } from './router';
import type { Session } from './session';
import { statusLabel } from './labels';

type Row = StoredBook & { status?: StatusDoc; error?: string; missing?: boolean };

export function Home({ session, onUnauthorized }: { session: Session; onUnauthorized(): void }) {
  const [rows, setRows] = useState<Row[]>(() => listBooks(session.userId));
  const [openId, setOpenId] = useState('');
  const [openError, setOpenError] = useState('');

  useEffect(() => {
    const ctrl = new AbortController();
    const books = listBooks(session.userId);
    setRows(books);
    books.forEach((b) => {
      apiJson<StatusDoc>(`/v1/ebooks/${encodeURIComponent(b.id)}/status`, session.token, { signal: ctrl.signal }).then(
        (status) => setRows((rs) => rs.map((r) => (r.id === b.id ? { ...r, status } : r))),
        (err) => {
          if (ctrl.signal.aborted) return;
          if (err instanceof ApiError && err.status === 401) return onUnauthorized();
          const missing = err instanceof ApiError && err.status === 404;
          setRows((rs) => rs.map((r) => (r.id === b.id ? { ...r, missing, error: explain(err, 'This book') } : r)));
        },
      );
    });
    return () => ctrl.abort();
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
      <p className="hint">Books started in this browser are listed here.</p>
      {rows.length === 0 ? (
        <p className="card empty">No books yet. Start one with the button above: it takes a prompt and a minute.</p>
      ) : (
        <ul className="book-list" aria-label="Books started in this browser">
          {rows.map((r) => (
            <li key={r.id} className="card book-row">
              <div className="book-row-main">
                <Link href={`/books/${r.id}`} className="book-title">
                  {r.status?.title && r.status.title !== 'Untitled book' ? r.status.title : r.prompt.slice(0, 80) || 'Untitled book'}
                </Link>
                <span className="meta">Started {new Date(r.createdAt).toLocaleString()}</span>
              </div>
              {r.status ? (
                <div className="book-row-status">
                  <span className={`badge ${r.status.status}`}>{statusLabel(r.status.status)}</span>
                  {r.status.status === 'running' || r.status.status === 'queued' ? (
                    <div className="bar small" role="progressbar" aria-label="Progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(r.status.progress * 100)}>
                      <div style={{ width: `${Math.round(r.status.progress * 100)}%` }} />
                    </div>
                  ) : null}
                </div>
              ) : r.error ? (
                <div className="book-row-status">
                  <span className="error-text">{r.error}</span>
                  {r.missing && (
                    <button type="button" className="link-button" onClick={() => { forgetBook(session.userId, r.id); setRows((rs) => rs.filter((x) => x.id !== r.id)); }}>
                      Remove from list
                    </button>
                  )}
                </div>
              ) : (
                <span className="meta" aria-live="polite">Checking…</span>
              )}
            </li>
          ))}
        </ul>
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
