import { useEffect, useRef, useState } from 'react';
import { ApiError, fetchBlobUrl, type TokenSource } from './api';

/**
 * One chapter's illustration. The API wants the bearer token, which an <img>
 * cannot send, so the picture is fetched into a blob: URL. The box keeps its
 * shape while the picture is coming, so nothing below it moves.
 */
export function ChapterImage(props: {
  bookId: string;
  index: number;
  token: TokenSource;
  /** True once the chapter is illustrated; before that only the placeholder shows. */
  ready: boolean;
  /** The API's alt text when the caller has it (the reader); else it comes with the picture. */
  alt?: string;
  /** Changes when the book gets a new file version (a rewritten chapter has a new picture). */
  version?: number;
  wide?: boolean;
}) {
  const { bookId, index, token, ready, version } = props;
  const [img, setImg] = useState<{ url: string; alt: string } | null>(null);
  const [state, setState] = useState<'waiting' | 'loading' | 'shown' | 'failed'>('waiting');
  const [attempt, setAttempt] = useState(0);
  // The blob: URL on screen; released when a newer picture replaces it or the component goes.
  const shown = useRef<string | null>(null);
  useEffect(() => () => void (shown.current && URL.revokeObjectURL(shown.current)), []);

  useEffect(() => {
    if (!ready) return;
    const ctrl = new AbortController();
    let retry: ReturnType<typeof setTimeout> | undefined;
    setState((s) => (s === 'shown' ? s : 'loading'));
    fetchBlobUrl(`/v1/ebooks/${encodeURIComponent(bookId)}/chapters/${index}/image`, token, ctrl.signal).then(
      (r) => {
        if (ctrl.signal.aborted) return URL.revokeObjectURL(r.url);
        if (shown.current) URL.revokeObjectURL(shown.current);
        shown.current = r.url;
        const given = r.headers.get('x-image-alt');
        setImg({ url: r.url, alt: props.alt ?? (given ? decodeURIComponent(given) : `Illustration for chapter ${index}`) });
        setState('shown');
      },
      (err) => {
        if (ctrl.signal.aborted) return;
        // A 404 just after the event, or a network blip: look again a few times.
        if (attempt < 4 && !(err instanceof ApiError && err.status === 401)) retry = setTimeout(() => setAttempt((n) => n + 1), 1500);
        else setState('failed');
      },
    );
    return () => {
      ctrl.abort();
      clearTimeout(retry);
    };
    // props.alt is read once per picture (a new alt comes with a new version), so it is not a dependency.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [bookId, index, token, ready, version, attempt]);

  const cls = `image-slot${props.wide ? ' wide' : ''}${img ? ' has-image' : ''}`;
  if (img) {
    return (
      <figure className={cls} data-testid={`chapter-image-${index}`}>
        <img src={img.url} alt={img.alt} />
      </figure>
    );
  }
  return (
    <div className={cls} role="img" aria-label={ready ? 'Illustration loading' : 'Illustration not drawn yet'}>
      {!ready ? 'Illustration coming' : state === 'failed' ? 'The illustration could not be loaded. It is in the PDF and EPUB.' : 'Loading the illustration…'}
    </div>
  );
}
