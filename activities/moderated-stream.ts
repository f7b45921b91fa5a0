/**
 * Streamed chapter text, moderated before anyone sees it.
 *
 * The provider's deltas are held back and gathered into pieces that end at a
 * paragraph break; each piece is moderated (with the end of the text already let
 * through in front of it, so a phrase split across two pieces is still seen
 * whole) and only then handed on as one piece, in order: one event per piece
 * rather than per delta, since an approved piece reaches readers at once anyway. A refused piece is
 * never handed on: `onRefused` runs at once (the activity aborts the provider's
 * stream there, so nothing more is spent) and `finish()` throws the refusal.
 *
 * The first piece is the opening few words (`firstChars`), so the first
 * words reach readers as soon as the model starts; after it pieces grow as the
 * chapter does (at least `minChars`, and at least as long as everything checked
 * before them), so a chapter of n characters costs about log2(n / minChars) + 2
 * moderation calls, not one per paragraph.
 */
import type { ModerationResult } from './moderation';

export interface ModeratedStreamOptions {
  moderate: (text: string) => Promise<ModerationResult>;
  /** Receives each approved piece, in order; may be async (awaited in order). */
  publish: (piece: string) => Promise<void> | void;
  /** Called once, as soon as a piece is refused (or moderation fails). */
  onRefused?: (verdict: ModerationResult | undefined, err?: unknown) => void;
  /** The smallest piece worth a moderation call (default 600 characters). */
  minChars?: number;
  /** The first piece is cut as soon as this many characters came (default 24: a few words). */
  firstChars?: number;
  /** Characters of approved text put in front of each piece as context (default 200). */
  contextChars?: number;
}

export class ContentRefusedError extends Error {
  constructor(readonly verdict: ModerationResult) {
    super(`refused by content moderation (${verdict.source}: ${verdict.categories.join(', ') || 'flagged'})`);
    this.name = 'ContentRefusedError';
  }
}

export class ModeratedStream {
  /** Moderation calls made so far. */
  checks = 0;
  /** The text let through so far (exactly what `publish` received). */
  approved = '';
  private pending: string[] = [];
  private pendingChars = 0;
  private queuedChars = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private readonly minChars: number;
  private readonly firstChars: number;
  private readonly contextChars: number;

  constructor(private readonly opts: ModeratedStreamOptions) {
    this.minChars = opts.minChars ?? 600;
    this.firstChars = Math.min(opts.firstChars ?? 24, this.minChars);
    this.contextChars = opts.contextChars ?? 200;
  }

  /** True once a piece was refused or moderation failed: later text is dropped. */
  get stopped(): boolean {
    return this.failure !== undefined;
  }

  /** Takes one delta of the provider's stream (synchronous: the stream never waits for moderation). */
  push(delta: string): void {
    if (this.stopped || !delta) return;
    // A piece ends right after a paragraph break: the delta's part after its last
    // break belongs to the next piece (it may be the start of a refused paragraph).
    const brk = delta.lastIndexOf('\n\n');
    const threshold = Math.max(this.minChars, this.queuedChars);
    if (brk >= 0 && this.pendingChars + brk + 2 >= threshold) {
      this.pending.push(delta.slice(0, brk + 2));
      this.cut();
      delta = delta.slice(brk + 2);
      if (!delta) return;
    }
    this.pending.push(delta);
    this.pendingChars += delta.length;
    const endsSentence = /[.!?…]['"”’)\]]*\s*$/.test(delta);
    // The opening: a few words, checked on their own, so readers see the chapter start at once.
    // Whatever they begin is checked again, whole, with the next piece (it carries them as context).
    if (this.queuedChars === 0 && this.pendingChars >= this.firstChars) return this.cut();
    // Prose without paragraph breaks is cut after a sentence once it is twice
    // the size due, so it still reaches readers before the chapter ends.
    if (this.pendingChars >= 2 * threshold && endsSentence) this.cut();
  }

  /**
   * The provider finished: checks the rest. `fullText` is the result the provider
   * returned; text in it that never came through `push` (a provider that does
   * not stream) is checked here too, so nothing is stored unchecked.
   */
  async finish(fullText?: string): Promise<void> {
    this.cut();
    await this.chain;
    if (this.failure !== undefined) throw this.failure;
    const squash = (t: string) => t.replace(/\s+/g, ' ').trim();
    if (fullText !== undefined && squash(fullText) !== squash(this.approved)) {
      const verdict = await this.check(fullText);
      if (verdict.flagged) throw this.fail(verdict);
    }
  }

  /** Waits for the pieces already cut to be checked and handed on (for a caller giving up). */
  async settle(): Promise<void> {
    await this.chain.catch(() => undefined);
  }

  private cut(): void {
    if (this.pending.length === 0 || this.stopped) return;
    const piece = this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    this.queuedChars += piece.length;
    this.chain = this.chain.then(async () => {
      if (this.stopped) return;
      let verdict: ModerationResult;
      try {
        verdict = await this.check(this.approved.slice(-this.contextChars) + piece);
      } catch (err) {
        this.fail(undefined, err);
        return;
      }
      if (verdict.flagged) {
        this.fail(verdict);
        return;
      }
      try {
        await this.opts.publish(piece);
      } catch (err) {
        // A piece that cannot reach readers (the database gone, the book erased) stops the
        // stream like a refusal would; held here, the chain never rejects unobserved when
        // the activity gives up without waiting for it.
        this.fail(undefined, err);
        return;
      }
      this.approved += piece;
    });
  }

  private check(text: string): Promise<ModerationResult> {
    this.checks++;
    return this.opts.moderate(text);
  }

  private fail(verdict: ModerationResult | undefined, err?: unknown): unknown {
    if (this.failure === undefined) {
      this.failure = verdict ? new ContentRefusedError(verdict) : err;
      this.pending = [];
      this.opts.onRefused?.(verdict, err);
    }
    return this.failure;
  }
}
