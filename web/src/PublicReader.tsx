import { useEffect, useState } from 'react';
import { LoadFailed } from './LoadFailed';
import { apiJson, ApiError, explain } from './api';

/** What GET /shared/ebooks/{id} answers for a published book (fields read defensively). */
interface SharedBook {
  id?: string;
  title: string;
  description?: string | null;
  chapters: Array<{ index?: number; title: string; paragraphs?: string[]; imageUrl?: string | null; imageAlt?: string | null }>;
  pdfUrl?: string | null;
  epubUrl?: string | null;
  coverImageUrl?: string | null;
  files?: Partial<Record<'pdf' | 'epub' | 'cover', string | null>>;
}

/** A same-origin path under /shared only: the page never follows the data to another site. */
function sharedPath(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url, window.location.origin);
    return u.origin === window.location.origin && u.pathname.startsWith('/shared/') ? u.pathname + u.search : null;
  } catch {
    return null;
  }
}

/** The public page of a published book: no sign-in, read straight from /shared. */
export function PublicReader({ id }: { id: string }) {
  const [book, setBook] = useState<SharedBook | null>(null);
  const [problem, setProblem] = useState<'' | 'missing' | 'error'>('');
  const [message, setMessage] = useState('');

  useEffect(() => {
    const ctrl = new AbortController();
    apiJson<SharedBook>(`/shared/ebooks/${encodeURIComponent(id)}`, null, { signal: ctrl.signal }).then(
      (b) => {
        if (!b || typeof b.title !== 'string' || !Array.isArray(b.chapters)) {
          setProblem('error');
          setMessage('The engine answered with something that is not a book. Try again later.');
          return;
        }
        setBook(b);
      },
      (err) => {
        if (ctrl.signal.aborted) return;
        if (err instanceof ApiError && err.status === 404) setProblem('missing');
        else {
          setProblem('error');
          setMessage(explain(err, 'This book'));
        }
      },
    );
    return () => ctrl.abort();
  }, [id]);

  useEffect(() => {
    if (book) document.title = `${book.title} · Ebooks`;
  }, [book]);

  if (problem === 'missing') {
    return (
      <section className="narrow">
        <h1 tabIndex={-1}>This book is not shared</h1>
        <p className="notice error" role="alert">
          There is no public book at this address. Its owner may have made it private, or the link may be mistyped. Ask
          the person who sent it for a new link.
        </p>
      </section>
    );
  }
  if (problem === 'error') {
    return <LoadFailed message={message} />;
  }
  if (!book) {
    return (
      <section aria-busy="true">
        <h1 tabIndex={-1}>Loading the book…</h1>
      </section>
    );
  }
  const pdf = sharedPath(book.files?.pdf ?? book.pdfUrl);
  const epub = sharedPath(book.files?.epub ?? book.epubUrl);
  const cover = sharedPath(book.files?.cover ?? book.coverImageUrl);
  const chapters = book.chapters.map((c, n) => ({ ...c, index: c.index ?? n + 1 }));
  return (
    <article className="reader public-reader">
      <header className="reader-head">
        <div className="cover-box">{cover ? <img src={cover} alt={`Cover of ${book.title}`} /> : <span className="placeholder-text">No cover</span>}</div>
        <div>
          <p className="meta">A shared book</p>
          <h1 tabIndex={-1}>{book.title}</h1>
          {book.description && <p className="logline">{book.description}</p>}
          {(pdf || epub) && (
            <div className="actions downloads">
              {pdf && (
                <a className="button primary" href={pdf} download>
                  Download PDF
                </a>
              )}
              {epub && (
                <a className="button primary" href={epub} download>
                  Download EPUB
                </a>
              )}
            </div>
          )}
        </div>
      </header>
      <nav className="toc card" aria-label="Chapters">
        <h2>Contents</h2>
        <ol>
          {chapters.map((c) => (
            <li key={c.index}>
              <a href={`#chapter-${c.index}`}>
                {c.index}. {c.title}
              </a>
            </li>
          ))}
        </ol>
      </nav>
      {chapters.map((c) => {
        const img = sharedPath(c.imageUrl);
        return (
          <section key={c.index} className="chapter-read" id={`chapter-${c.index}`} aria-labelledby={`chapter-${c.index}-heading`}>
            <h2 id={`chapter-${c.index}-heading`}>
              Chapter {c.index}: {c.title}
            </h2>
            {img && (
              <figure className="image-slot wide has-image">
                <img src={img} alt={c.imageAlt ?? `Illustration for chapter ${c.index}`} />
              </figure>
            )}
            {(c.paragraphs ?? []).map((p, n) => (
              <p key={n}>{p}</p>
            ))}
          </section>
        );
      })}
    </article>
  );
}
