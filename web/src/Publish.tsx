import { useEffect, useRef, useState } from 'react';
import { apiJson, ApiError, explain, type BookDoc, type TokenSource } from './api';

/** The public reader's address for a book; the API's shareUrl wins when it points at that page. */
export function shareLink(book: Pick<BookDoc, 'id' | 'shareUrl'>): string {
  const own = new URL(`/read/${encodeURIComponent(book.id)}`, window.location.origin).href;
  if (!book.shareUrl) return own;
  try {
    const given = new URL(book.shareUrl, window.location.origin);
    return given.pathname.startsWith('/read/') ? given.href : own;
  } catch {
    return own;
  }
}

/**
 * Publish a finished book (anyone with the link can read it, no account needed)
 * or make it private again.
 */
export function Publish({ book, token, onChanged }: { book: BookDoc; token: TokenSource; onChanged(patch: Partial<BookDoc>): void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [copied, setCopied] = useState(false);
  const linkRef = useRef<HTMLInputElement>(null);
  const publishRef = useRef<HTMLButtonElement>(null);
  const isPublic = book.visibility === 'public';
  const link = shareLink(book);

  // The button pressed goes away: keep keyboard focus on what replaced it (the link, or Publish again).
  const changed = useRef(false);
  useEffect(() => {
    if (!changed.current) return;
    changed.current = false;
    (isPublic ? linkRef.current : publishRef.current)?.focus();
  }, [isPublic]);

  const act = async (what: 'publish' | 'unpublish') => {
    setBusy(true);
    setError('');
    setCopied(false);
    try {
      const r = await apiJson<{ visibility: 'public' | 'private'; shareUrl?: string; publishedAt?: string }>(
        `/v1/ebooks/${encodeURIComponent(book.id)}/${what}`,
        token,
        { method: 'POST' },
      );
      changed.current = true;
      onChanged({ visibility: r.visibility, shareUrl: r.shareUrl ?? null });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && /^No route for /.test(err.detail)) {
        setError('Sharing is not available on this engine yet: it does not offer publishing. Ask whoever runs it to update it.');
      } else if (err instanceof ApiError && err.status === 409) {
        setError(`Only finished books can be shared. ${err.detail}`.trim());
      } else {
        setError(`The book could not be ${what === 'publish' ? 'shared' : 'made private'}. ${explain(err, 'This book')}`);
      }
    } finally {
      setBusy(false);
    }
  };

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(link);
      setCopied(true);
    } catch {
      // No clipboard permission: select the text so a person can copy it themselves.
      linkRef.current?.select();
    }
  };

  return (
    <section className="card share" aria-labelledby="share-heading">
      <h2 id="share-heading">Share</h2>
      {isPublic ? (
        <>
          <p>
            <span className="badge public">Public</span> Anyone with this link can read the book, without an account.
          </p>
          <label htmlFor="share-link">Share link</label>
          <div className="inline">
            <input id="share-link" ref={linkRef} readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
            <button type="button" className="button" onClick={copy}>
              {copied ? 'Copied' : 'Copy'}
            </button>
          </div>
          <div className="actions">
            <a className="button" href={link} target="_blank" rel="noopener">
              Open the public page
            </a>
            <button type="button" className="button" disabled={busy} aria-busy={busy} onClick={() => act('unpublish')}>
              {busy ? 'Making it private…' : 'Make private'}
            </button>
          </div>
        </>
      ) : (
        <>
          <p>Only you can see this book. Publish it to get a link anyone can read.</p>
          <div className="actions">
            <button ref={publishRef} type="button" className="button primary" disabled={busy} aria-busy={busy} onClick={() => act('publish')}>
              {busy ? 'Publishing…' : 'Publish'}
            </button>
          </div>
        </>
      )}
      <p className="sr-only" role="status">{copied ? 'Link copied' : ''}</p>
      {error && (
        <p className="notice error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
