/**
 * The rules of an outline review answer (core/outline-review.ts), which the
 * workflow's update validator applies, and REVIEW_TIMEOUT's parsing: plain
 * functions, no services.
 */
import assert from 'node:assert/strict';
import { answerProblem } from '../../core/outline-review';
import { CHAPTER_COUNT } from '../../core/limits';
import { ConfigError, loadConfig } from '../../lib/config';

const chapter = (n: number) => ({ title: `Chapter ${n}`, summary: `What happens in ${n}.` });

describe('outline review answers', () => {
  it('accepts an approval, a revision with feedback, and an edit of 1-24 chapters', () => {
    assert.equal(answerProblem({ action: 'approve' }), undefined);
    assert.equal(answerProblem({ action: 'revise', feedback: 'More rain.' }), undefined);
    assert.equal(answerProblem({ action: 'edit', chapters: [chapter(1)] }), undefined);
    const most = Array.from({ length: CHAPTER_COUNT.max }, (_, i) => chapter(i + 1));
    assert.equal(answerProblem({ action: 'edit', title: 'New', chapters: most }), undefined);
  });

  it('names the field of what it refuses', () => {
    const cases: Array<[unknown, string]> = [
      [null, 'body'],
      [{ action: 'publish' }, 'action'],
      [{ action: 'revise' }, 'feedback'],
      [{ action: 'revise', feedback: '   ' }, 'feedback'],
      [{ action: 'revise', feedback: 'x'.repeat(2001) }, 'feedback'],
      [{ action: 'edit' }, 'chapters'],
      [{ action: 'edit', chapters: [] }, 'chapters'],
      [{ action: 'edit', chapters: Array.from({ length: CHAPTER_COUNT.max + 1 }, (_, i) => chapter(i)) }, 'chapters'],
      [{ action: 'edit', title: 7, chapters: [chapter(1)] }, 'title'],
      [{ action: 'edit', title: 'x'.repeat(201), chapters: [chapter(1)] }, 'title'],
      [{ action: 'edit', chapters: [chapter(1), 'two'] }, 'chapters.1'],
      [{ action: 'edit', chapters: [chapter(1), { title: '', summary: 's' }] }, 'chapters.1.title'],
      [{ action: 'edit', chapters: [{ title: 't' }] }, 'chapters.0.summary'],
    ];
    for (const [answer, field] of cases) {
      assert.equal(answerProblem(answer)?.field, field, JSON.stringify(answer).slice(0, 80));
    }
  });
});

describe('REVIEW_TIMEOUT', () => {
  const timeout = (value?: string) => loadConfig({ REVIEW_TIMEOUT: value }).reviewTimeoutMs;
  it('defaults to a week and reads a duration with its unit', () => {
    assert.equal(timeout(), 7 * 24 * 3600_000);
    assert.equal(timeout('12h'), 12 * 3600_000);
    assert.equal(timeout('30s'), 30_000);
    assert.equal(timeout('1.5d'), 36 * 3600_000);
  });
  it('refuses what is not a duration, or out of range, naming the variable', () => {
    for (const bad of ['7', 'a week', '-1d', '10ms', '400d']) {
      assert.throws(() => timeout(bad), (err: unknown) => err instanceof ConfigError && err.variable === 'REVIEW_TIMEOUT', bad);
    }
  });
});
