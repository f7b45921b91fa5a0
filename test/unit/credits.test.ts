/** The copyright page's people and tools: the author from a pen name or the profile, the tools in words. */
import assert from 'node:assert/strict';
import { creditLine } from '../../core/credits';
import { authorOf } from '../../activities/files';

describe('credits and author', () => {
  it('names the tools in words, once each, text before pictures', () => {
    const line = creditLine([
      { step: 'outline', provider: 'openai', model: 'gpt-4.1-mini' },
      { step: 'chapter', provider: 'openai', model: 'gpt-4.1-mini' },
      { step: 'chapter', provider: 'groq', model: 'llama-3.3-70b-versatile' },
      { step: 'illustration', provider: 'runware', model: 'runware:101@1' },
      { step: 'cover', provider: 'runware', model: 'runware:101@1' },
    ]);
    assert.equal(line, 'Text written with OpenAI gpt-4.1-mini and Groq llama-3.3-70b-versatile; pictures drawn with Runware runware:101@1.');
  });

  it('says what the offline providers are, never a bare provider id', () => {
    const line = creditLine([
      { step: 'chapter', provider: 'offline', model: 'offline-template-v1' },
      { step: 'cover', provider: 'offline', model: 'offline-scene-v1' },
    ]);
    assert.equal(line, "Text written with the engine's offline writer; pictures drawn with the engine's offline painter.");
    assert.doesNotMatch(line, /Made with: offline/);
  });

  it('falls back to the chapters\' providers where the ledger has no call (a book made from a story)', () => {
    assert.equal(
      creditLine([{ step: 'illustration', provider: 'openai', model: 'gpt-image-1' }], { text: ['groq'] }),
      'Text written with Groq; pictures drawn with OpenAI gpt-image-1.',
    );
    assert.equal(creditLine([]), '');
  });

  it('the author is the pen name, else the profile name, else the email name, never the engine', () => {
    assert.equal(authorOf({ author: '  Mara Quill ' }, { name: 'Alice Smith' }), 'Mara Quill');
    assert.equal(authorOf({}, { name: 'Alice Smith', email: 'a@x.org' }), 'Alice Smith');
    assert.equal(authorOf(null, { name: null, email: 'dana.r@example.org' }), 'dana.r');
    assert.equal(authorOf(undefined, undefined), 'Anonymous');
  });
});
