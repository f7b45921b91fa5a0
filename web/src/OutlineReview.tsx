/**
 * The outline editor of a book started with "Let me review the outline first":
 * the book waits until its owner approves the plan, edits it (rename, rewrite a
 * summary, reorder, add, remove) or asks for a new outline with their feedback.
 * The engine checks an edit and names the field it refuses; the message is shown
 * beside that chapter.
 */
import { useEffect, useRef, useState } from 'react';
import { apiJson, ApiError, explain, type ReviewOutline, type TokenSource } from './api';
import { CHAPTER_COUNT } from '../../core/limits';

interface Draft {
  /** A key that stays with the chapter while it moves. */
  key: number;
  title: string;
  summary: string;
}

interface Props {
  bookId: string;
  outline: ReviewOutline;
  token: TokenSource;
  /** The engine answered with a new outline, or the book is approved and runs on. */
  onChanged(): void;
  onUnauthorized(): void;
}

/** "chapters.2.title" as a person reads it: "Chapter 3’s title". */
function fieldName(field: string): string {
  const m = /^chapters\.(\d+)\.(title|summary)$/.exec(field);
  if (m) return `Chapter ${Number(m[1]) + 1}’s ${m[2]}`;
  return ({ title: 'The book title', chapters: 'The outline', feedback: 'What to change' } as Record<string, string>)[field] ?? field;
}

let nextKey = 1;
const draftOf = (outline: ReviewOutline): Draft[] => outline.chapters.map((c) => ({ key: nextKey++, title: c.title, summary: c.summary }));

export function OutlineReview({ bookId, outline, token, onChanged, onUnauthorized }: Props) {
  const [title, setTitle] = useState(outline.title);
  const [chapters, setChapters] = useState<Draft[]>(() => draftOf(outline));
  const [feedback, setFeedback] = useState('');
  const [busy, setBusy] = useState<'' | 'save' | 'approve' | 'revise'>('');
  const [error, setError] = useState('');
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [saved, setSaved] = useState('');
  // A new version from the engine (an edit saved, a revision written) replaces the draft.
  const shown = useRef(outline.version);
  useEffect(() => {
    if (outline.version === shown.current) return;
    shown.current = outline.version;
    setTitle(outline.title);
    setChapters(draftOf(outline));
  }, [outline]);

  const base = `/v1/ebooks/${encodeURIComponent(bookId)}/outline`;
  const dirty =
    title !== outline.title ||
    chapters.length !== outline.chapters.length ||
    chapters.some((c, i) => c.title !== outline.chapters[i].title || c.summary !== outline.chapters[i].summary);

  const send = async (kind: 'save' | 'approve' | 'revise') => {
    setBusy(kind);
    setError('');
    setFieldErrors({});
    setSaved('');
    try {
      // Unsaved edits go first, so the approved outline is the one on the screen.
      if (kind === 'save' || (kind === 'approve' && dirty)) {
        await apiJson(base, token, { method: 'PUT', body: { title, chapters: chapters.map(({ title, summary }) => ({ title, summary })) } });
      }
      if (kind === 'approve') await apiJson(`${base}/approve`, token, { method: 'POST' });
      if (kind === 'revise') {
        await apiJson(`${base}/revise`, token, { method: 'POST', body: { feedback } });
        setFeedback('');
      }
      setSaved(kind === 'approve' ? 'Approved: the chapters are being written.' : kind === 'save' ? 'Changes saved.' : 'A new outline is ready.');
      onChanged();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return onUnauthorized();
      if (err instanceof ApiError && err.errors.length) {
        const fields = err.errors.map((fe) => [fe.field.replace(/^body\./, ''), fe.message] as const);
        setFieldErrors(Object.fromEntries(fields));
        setError(`${fields.map(([field, message]) => `${fieldName(field)} ${message}`).join('. ')}. Fix it and try again.`);
      } else {
        setError(explain(err, 'This book'));
      }
    } finally {
      setBusy('');
    }
  };

  const update = (i: number, patch: Partial<Draft>) => setChapters((cs) => cs.map((c, n) => (n === i ? { ...c, ...patch } : c)));
  const move = (i: number, by: -1 | 1) =>
    setChapters((cs) => {
      const next = [...cs];
      [next[i], next[i + by]] = [next[i + by], next[i]];
      return next;
    });
  const remove = (i: number) => setChapters((cs) => cs.filter((_, n) => n !== i));
  const add = () => setChapters((cs) => [...cs, { key: nextKey++, title: '', summary: '' }]);
  const disabled = busy !== '';

  return (
    <section className="card outline-review" aria-labelledby="outline-review-heading" data-testid="outline-review">
      <h2 id="outline-review-heading">Review the outline</h2>
      <p className="hint">
        Nothing more is written until you approve the plan. Change what you like, or ask for a new outline.
        {outline.expiresAt && ` If nobody answers by ${new Date(outline.expiresAt).toLocaleString()}, the book is cancelled and your allowance given back.`}
      </p>
      {outline.logline && <p className="logline">{outline.logline}</p>}
      {outline.characters.length > 0 && (
        <p className="meta">Characters: {outline.characters.map((c) => c.name).join(', ')}</p>
      )}
      <div className="field">
        <label htmlFor="outline-title">Book title</label>
        <input id="outline-title" value={title} maxLength={200} onChange={(e) => setTitle(e.target.value)} disabled={disabled} aria-invalid={fieldErrors.title ? true : undefined} />
        {fieldErrors.title && <p className="field-error" role="alert">{fieldErrors.title}</p>}
      </div>
      <ol className="outline-chapters">
        {chapters.map((c, i) => {
          const titleError = fieldErrors[`chapters.${i}.title`];
          const summaryError = fieldErrors[`chapters.${i}.summary`];
          return (
            <li key={c.key} className="outline-chapter" data-testid="outline-chapter">
              <label htmlFor={`ch-title-${c.key}`}>Chapter {i + 1} title</label>
              <input id={`ch-title-${c.key}`} value={c.title} maxLength={200} onChange={(e) => update(i, { title: e.target.value })} disabled={disabled} aria-invalid={titleError ? true : undefined} />
              {titleError && <p className="field-error" role="alert">{titleError}</p>}
              <label htmlFor={`ch-summary-${c.key}`}>Chapter {i + 1} summary</label>
              <textarea id={`ch-summary-${c.key}`} value={c.summary} rows={2} maxLength={2000} onChange={(e) => update(i, { summary: e.target.value })} disabled={disabled} aria-invalid={summaryError ? true : undefined} />
              {summaryError && <p className="field-error" role="alert">{summaryError}</p>}
              <div className="actions">
                <button type="button" className="button" onClick={() => move(i, -1)} disabled={disabled || i === 0} aria-label={`Move chapter ${i + 1} up`}>
                  Up
                </button>
                <button type="button" className="button" onClick={() => move(i, 1)} disabled={disabled || i === chapters.length - 1} aria-label={`Move chapter ${i + 1} down`}>
                  Down
                </button>
                <button type="button" className="button" onClick={() => remove(i)} disabled={disabled || chapters.length <= CHAPTER_COUNT.min} aria-label={`Remove chapter ${i + 1}`}>
                  Remove
                </button>
              </div>
            </li>
          );
        })}
      </ol>
      {fieldErrors.chapters && <p className="field-error" role="alert">{fieldErrors.chapters}</p>}
      <div className="actions">
        <button type="button" className="button" onClick={add} disabled={disabled || chapters.length >= CHAPTER_COUNT.max}>
          Add a chapter
        </button>
        <button type="button" className="button" onClick={() => send('save')} disabled={disabled || !dirty} aria-busy={busy === 'save'}>
          {busy === 'save' ? 'Saving…' : 'Save changes'}
        </button>
        <button type="button" className="button primary" onClick={() => send('approve')} disabled={disabled} aria-busy={busy === 'approve'}>
          {busy === 'approve' ? 'Approving…' : 'Approve and write the book'}
        </button>
      </div>
      <div className="field">
        <label htmlFor="outline-feedback">What should a new outline do differently?</label>
        <textarea id="outline-feedback" value={feedback} rows={2} maxLength={2000} onChange={(e) => setFeedback(e.target.value)} disabled={disabled} aria-invalid={fieldErrors.feedback ? true : undefined} />
        {fieldErrors.feedback && <p className="field-error" role="alert">{fieldErrors.feedback}</p>}
      </div>
      <div className="actions">
        <button type="button" className="button" onClick={() => send('revise')} disabled={disabled || !feedback.trim()} aria-busy={busy === 'revise'}>
          {busy === 'revise' ? 'Writing a new outline…' : 'Ask for changes'}
        </button>
      </div>
      {error && <p className="notice error" role="alert">{error}</p>}
      {saved && <p className="meta" role="status">{saved}</p>}
    </section>
  );
}
