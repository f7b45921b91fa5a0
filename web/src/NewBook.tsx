import { useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { apiJson, ApiError, explain } from './api';
import { ERAS } from './eras';
import { CHAPTER_COUNT } from '../../core/limits';
import { navigate } from './router';
import type { Session } from './session';

type Field = 'prompt' | 'era' | 'characterName' | 'archetype' | 'chapterCount' | 'style' | 'mood';

/** What the API's field errors mean for a person, and what to do about them. */
const advice: Record<Field, string> = {
  prompt: 'Describe your story in a sentence or two (at most 2000 characters).',
  era: 'Pick one of the eras in the list, or leave it on “No particular era”.',
  characterName: 'Use a name of at most 50 characters, or leave it empty.',
  archetype: 'Pick a character type from the list, or leave it on “Let the story decide”.',
  chapterCount: `Choose a whole number of chapters from ${CHAPTER_COUNT.min} to ${CHAPTER_COUNT.max}.`,
  style: 'Describe the style in at most 100 characters, or leave it empty.',
  mood: 'Describe the mood in at most 100 characters, or leave it empty.',
};

const labels: Record<Field, string> = {
  prompt: 'The prompt',
  era: 'The era',
  characterName: 'The name',
  archetype: 'The character type',
  chapterCount: 'The number of chapters',
  style: 'The style',
  mood: 'The mood',
};

export function NewBook({ session, onUnauthorized }: { session: Session; onUnauthorized(): void }) {
  const [prompt, setPrompt] = useState('');
  const [era, setEra] = useState('');
  const [characterName, setCharacterName] = useState('');
  const [archetype, setArchetype] = useState('');
  const [chapterCount, setChapterCount] = useState(String(CHAPTER_COUNT.default));
  const [style, setStyle] = useState('');
  const [mood, setMood] = useState('');
  const [review, setReview] = useState(false);
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [formError, setFormError] = useState('');
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const chosenEra = ERAS.find((e) => e.id === era);

  const focusFirstError = (fields: Partial<Record<Field, string>>) => {
    const first = (Object.keys(fields) as Field[])[0];
    if (first) requestAnimationFrame(() => formRef.current?.querySelector<HTMLElement>(`[name="${first}"]`)?.focus());
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    // Check what we can here, in the same words the API would use.
    const local: Partial<Record<Field, string>> = {};
    if (!prompt.trim()) local.prompt = `The prompt is empty. ${advice.prompt}`;
    const n = Number(chapterCount);
    // The range is left to the API, whose answer is shown the same way.
    if (!/^\d+$/.test(chapterCount.trim())) local.chapterCount = `“${chapterCount}” is not a chapter count. ${advice.chapterCount}`;
    setErrors(local);
    setFormError('');
    if (Object.keys(local).length) {
      focusFirstError(local);
      return;
    }
    const body: Record<string, unknown> = { prompt: prompt.trim(), chapterCount: n };
    if (era) body.era = era;
    if (characterName.trim()) body.characterName = characterName.trim();
    if (archetype) body.archetype = archetype;
    if (style.trim()) body.style = style.trim();
    if (mood.trim()) body.mood = mood.trim();
    if (review) body.review = 'outline';
    setBusy(true);
    try {
      const created = await apiJson<{ id: string }>('/v1/ebooks', session.token, { method: 'POST', body });
      navigate(`/books/${created.id}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return onUnauthorized();
      if (err instanceof ApiError && err.errors.length) {
        const byField: Partial<Record<Field, string>> = {};
        for (const fe of err.errors) {
          const name = fe.field.replace(/^body\./, '') as Field;
          if (name in advice) byField[name] ??= `${labels[name]} ${fe.message}. ${advice[name]}`;
          else setFormError(`${fe.field}: ${fe.message}.`);
        }
        setErrors(byField);
        focusFirstError(byField);
      } else {
        setFormError(explain(err, 'The book service'));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="narrow">
      <h1 tabIndex={-1}>Start a new book</h1>
      <p className="hint">Fields marked “optional” can stay empty; the story will fill them in.</p>
      <form ref={formRef} onSubmit={submit} noValidate className="card form" aria-describedby={formError ? 'form-error' : undefined}>
        {formError && (
          <p id="form-error" className="notice error" role="alert">
            {formError}
          </p>
        )}
        <Row label="Prompt" error={errors.prompt} hint="What is the story about? One or two sentences are enough.">
          {(p) => <textarea {...p} name="prompt" rows={4} maxLength={2000} value={prompt} onChange={(e) => setPrompt(e.target.value)} required />}
        </Row>
        <Row label="Era" optional error={errors.era} hint={chosenEra ? chosenEra.mood : 'The world and feeling of the book.'}>
          {(p) => (
            <select
              {...p}
              name="era"
              value={era}
              onChange={(e) => {
                setEra(e.target.value);
                setArchetype('');
              }}
            >
              <option value="">No particular era</option>
              {ERAS.map((e) => (
                <option key={e.id} value={e.id}>
                  {e.name}
                </option>
              ))}
            </select>
          )}
        </Row>
        <div className="two">
          <Row label="Main character’s name" optional error={errors.characterName}>
            {(p) => <input {...p} name="characterName" maxLength={50} value={characterName} onChange={(e) => setCharacterName(e.target.value)} autoComplete="off" />}
          </Row>
          <Row
            label="Character type"
            optional
            error={errors.archetype}
            hint={chosenEra ? chosenEra.archetypes.find((a) => a.id === archetype)?.description ?? 'Types depend on the era.' : 'Pick an era first to choose a type.'}
          >
            {(p) => (
              <select {...p} name="archetype" value={archetype} onChange={(e) => setArchetype(e.target.value)} disabled={!chosenEra}>
                <option value="">Let the story decide</option>
                {chosenEra?.archetypes.map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.name}
                  </option>
                ))}
              </select>
            )}
          </Row>
        </div>
        <div className="two">
          <Row label="Chapters" error={errors.chapterCount} hint={`From ${CHAPTER_COUNT.min} to ${CHAPTER_COUNT.max}.`}>
            {(p) => (
              <input {...p} name="chapterCount" type="number" inputMode="numeric" min={CHAPTER_COUNT.min} max={CHAPTER_COUNT.max} step={1} value={chapterCount} onChange={(e) => setChapterCount(e.target.value)} required />
            )}
          </Row>
          <Row label="Illustration style" optional error={errors.style} hint="For example: watercolour, ink, gouache.">
            {(p) => <input {...p} name="style" maxLength={100} value={style} onChange={(e) => setStyle(e.target.value)} />}
          </Row>
        </div>
        <Row label="Mood" optional error={errors.mood} hint="For example: hopeful, eerie, cosy.">
          {(p) => <input {...p} name="mood" maxLength={100} value={mood} onChange={(e) => setMood(e.target.value)} />}
        </Row>
        <div className="field">
          <label>
            <input type="checkbox" name="review" checked={review} onChange={(e) => setReview(e.target.checked)} /> Let me review the outline
            first
          </label>
          <p className="hint field-hint">The book waits after its plan until you approve, edit or ask for a new one.</p>
        </div>
        <div className="actions">
          <button type="submit" className="button primary" disabled={busy} aria-busy={busy}>
            {busy ? 'Starting…' : 'Start the book'}
          </button>
        </div>
      </form>
    </section>
  );
}

type ControlProps = { id: string; 'aria-describedby'?: string; 'aria-invalid'?: true };

/** A labelled field with its hint and its error, tied together for assistive tech. */
function Row(props: { label: string; optional?: boolean; hint?: string; error?: string; children(p: ControlProps): ReactNode }) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errId = `${id}-error`;
  const describedBy = [props.error ? errId : '', props.hint ? hintId : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${props.error ? ' has-error' : ''}`}>
      <label htmlFor={id}>
        {props.label}
        {props.optional && <span className="optional"> (optional)</span>}
      </label>
      {props.children({ id, 'aria-describedby': describedBy, 'aria-invalid': props.error ? true : undefined })}
      {props.hint && (
        <p id={hintId} className="hint field-hint">
          {props.hint}
        </p>
      )}
      {props.error && (
        <p id={errId} className="field-error" role="alert">
          {props.error}
        </p>
      )}
    </div>
  );
}
