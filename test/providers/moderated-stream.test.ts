import assert from 'node:assert/strict';
import { ContentRefusedError, ModeratedStream } from '../../activities/moderated-stream';
import { moderateLocally, type ModerationResult } from '../../activities/moderation';
import { prose } from '../helpers/provider-servers';

/** Splits text into model-like deltas of three words. */
const deltasOf = (text: string) => text.match(/\S+\s*/g)!.reduce<string[]>((out, w, i) => {
  if (i % 3 === 0) out.push(w);
  else out[out.length - 1] += w;
  return out;
}, []);

describe('ModeratedStream (paragraph pieces, moderated before they are published)', () => {
  it('publishes the whole text, in order, after a few growing checks', async () => {
    const text = prose('a long chapter', 1600); // about 9,000 characters, ~27 paragraphs
    const checked: string[] = [];
    const published: string[] = [];
    const stream = new ModeratedStream({
      moderate: async (t) => {
        checked.push(t);
        return moderateLocally(t);
      },
      publish: (d) => {
        published.push(d);
      },
    });
    for (const d of deltasOf(text)) stream.push(d);
    await stream.finish(text);
    assert.equal(published.join(''), text);
    assert.equal(stream.approved, text);
    const paragraphs = text.split('\n\n').length;
    assert.ok(stream.checks <= Math.ceil(Math.log2(text.length / 600)) + 3, `${stream.checks} checks for ${text.length} chars`);
    // One publication per piece, not per delta: the event log gets a handful of rows per chapter.
    assert.equal(published.length, stream.checks);
    // The opening is a few words, so the first words show early.
    assert.ok(published[0].length >= 24 && published[0].length < 100, `first piece of ${published[0].length} chars`);
    assert.ok(stream.checks < paragraphs / 3, `${stream.checks} checks for ${paragraphs} paragraphs`);
    // Every piece but the opening and the last ends at a paragraph break; each check carries the end of the text before it.
    assert.ok(checked.slice(1, -1).every((c) => c.endsWith('\n\n')));
    assert.ok(checked.slice(1).every((c) => c.length > 200));
  });

  it('prose without paragraph breaks is still published in pieces, cut after a sentence', async () => {
    const text = prose('one long paragraph', 800).replace(/\n\n/g, ' ');
    const checked: string[] = [];
    const stream = new ModeratedStream({ moderate: async (t) => (checked.push(t), moderateLocally(t)), publish: () => undefined });
    const sentences = text.match(/[^.!?]+[.!?]+\s*/g)!;
    for (const s of sentences) stream.push(s);
    await new Promise((r) => setImmediate(r));
    assert.ok(checked.length >= 1, 'a piece was checked before the end of the stream');
    await stream.finish(text);
    assert.equal(stream.approved, text);
    assert.ok(checked.length >= 2 && checked.length <= 5, `${checked.length} checks`);
  });

  it('publishes nothing of a piece before its check passed', async () => {
    let release!: (r: ModerationResult) => void;
    const published: string[] = [];
    const stream = new ModeratedStream({
      moderate: () => new Promise((r) => (release = r)),
      publish: (d) => {
        published.push(d);
      },
      minChars: 10,
    });
    stream.push('First paragraph here.\n\nSecond');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(published, [], 'held while the check runs');
    release({ flagged: false, categories: [], source: 'local' });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(published, ['First paragraph here.\n\n'], 'the piece ends at the break; "Second" waits for the next');
  });

  it('a refused piece is never published, stops at once, and finish() throws the verdict', async () => {
    const good = prose('good part', 150);
    const bad = 'He explained how to make a pipe bomb from the lamp oil.';
    const tail = prose('tail part', 300);
    const published: string[] = [];
    let refusedWith: ModerationResult | undefined;
    const stream = new ModeratedStream({
      moderate: async (t) => moderateLocally(t),
      publish: (d) => {
        published.push(d);
      },
      onRefused: (v) => (refusedWith = v),
    });
    for (const d of deltasOf(`${good}\n\n${bad}\n\n${tail}`)) {
      stream.push(d);
      await new Promise((r) => setImmediate(r)); // a stream's deltas arrive over time
      if (stream.stopped) break;
    }
    assert.ok(stream.stopped, 'stopped before the end of the stream');
    await assert.rejects(stream.finish(), (err: unknown) => err instanceof ContentRefusedError && err.verdict.flagged);
    assert.deepEqual(refusedWith?.categories, ['violence/weapons-instructions']);
    const out = published.join('');
    assert.ok(out.length > 0 && good.startsWith(out.trimEnd()), 'only text from before the refused paragraph');
    assert.ok(!out.includes('bomb'));
  });

  it('a phrase split across two pieces is still caught (the check sees the end of the text before)', async () => {
    // The break falls inside the rule's window: "... how to\n\nmake a bomb".
    const first = `${prose('context', 120)} She asked how to`;
    const published: string[] = [];
    const stream = new ModeratedStream({ moderate: async (t) => moderateLocally(t), publish: (d) => void published.push(d) });
    stream.push(`${first}\n\n`);
    stream.push('make a bomb, but nobody answered.\n\n');
    await assert.rejects(stream.finish(), ContentRefusedError);
    assert.ok(!published.join('').includes('bomb'));
  });

  it('text the provider returned but never streamed is checked before finish() resolves', async () => {
    const stream = new ModeratedStream({ moderate: async (t) => moderateLocally(t), publish: () => undefined });
    await assert.rejects(stream.finish('They learnt how to make a pipe bomb.'), ContentRefusedError);
    const clean = new ModeratedStream({ moderate: async (t) => moderateLocally(t), publish: () => undefined });
    await clean.finish('A quiet night by the sea.');
    assert.equal(clean.checks, 1);
  });

  it('a failing moderation call stops the stream with that error (Temporal retries it)', async () => {
    let stoppedWith: unknown;
    const stream = new ModeratedStream({
      moderate: async () => {
        throw new Error('moderation endpoint down');
      },
      publish: () => assert.fail('nothing may be published unchecked'),
      onRefused: (_v, err) => (stoppedWith = err),
      minChars: 5,
    });
    stream.push('Some text.\n\nMore');
    await assert.rejects(stream.finish(), /moderation endpoint down/);
    assert.match(String(stoppedWith), /moderation endpoint down/);
  });
});
