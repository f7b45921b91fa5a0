/** Which providers a worker gets from the configuration (wiring/providers.ts). */
import assert from 'node:assert/strict';
import { loadConfig, ConfigError } from '../../lib/config';
import { createProviders } from '../../wiring/providers';

const providers = (env: Record<string, string>) => createProviders(loadConfig({ DATA_DIR: '/tmp/x', ...env }));

describe('provider selection', () => {
  it('no keys and no local model → the offline providers', () => {
    const p = providers({ LOCAL_MODEL_PATH: '/nonexistent/model.gguf' });
    assert.equal(p.text.name, 'offline');
    assert.equal(p.text.offline, true);
    assert.equal(p.image.name, 'offline');
  });

  it('keys → a failover in the default order, unconfigured ones skipped, no offline appended', () => {
    const p = providers({ GROQ_API_KEY: 'g', OPENAI_API_KEY: 'o' });
    assert.equal(p.text.name, 'failover(groq,openai)');
    assert.equal(p.text.offline, false);
    assert.equal(p.image.name, 'openai', 'runware has no key');
  });

  it('TEXT_PROVIDERS orders them and may list offline explicitly', () => {
    const p = providers({ GROQ_API_KEY: 'g', OPENAI_API_KEY: 'o', TEXT_PROVIDERS: 'openai, groq,offline', IMAGE_PROVIDERS: 'offline' });
    assert.equal(p.text.name, 'failover(openai,groq,offline)');
    assert.equal(p.image.name, 'offline');
  });

  it('OPENAI_BASE_URL without a key → a local OpenAI-compatible server writes, the offline painter draws', () => {
    // Even with the local model installed: the server was asked for.
    const p = providers({ OPENAI_BASE_URL: 'http://localhost:11434/v1', TEXT_MODEL_OPENAI: 'llama3.1' });
    assert.equal(p.text.name, 'openai');
    assert.equal(p.text.offline, false);
    assert.equal(p.image.name, 'offline', 'such servers draw no pictures');
    // Without the base URL, no key is no openai.
    assert.equal(providers({ TEXT_PROVIDERS: 'openai,offline' }).text.name, 'offline');
  });

  it('keys set but none of the listed providers configured → refuses to start', () => {
    assert.throws(() => providers({ GROQ_API_KEY: 'g', TEXT_PROVIDERS: 'openai' }), /TEXT_PROVIDERS/);
  });

  it('bad values name the variable', () => {
    assert.throws(() => loadConfig({ TEXT_PROVIDERS: 'groq,claude' }), (e: unknown) => e instanceof ConfigError && e.variable === 'TEXT_PROVIDERS');
    assert.throws(() => loadConfig({ PROVIDER_ATTEMPT_BUDGET: '0' }), /PROVIDER_ATTEMPT_BUDGET/);
    assert.throws(() => loadConfig({ TEXT_TEMPERATURE: 'hot' }), /TEXT_TEMPERATURE/);
    const c = loadConfig({ TEXT_TEMPERATURE: '0.4', PROVIDER_ATTEMPT_BUDGET: '2' });
    assert.equal(c.providers.textTemperature, 0.4);
    assert.equal(c.providers.attemptBudget, 2);
  });
});
