import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../lib/config';
import { activePrices, costOf, mergePrices, parsePriceOverrides, PRICES } from '../../core/pricing';

describe('provider prices (built-in table, PROVIDER_PRICES overrides)', () => {
  const saved = process.env.PROVIDER_PRICES;
  afterEach(() => {
    if (saved === undefined) delete process.env.PROVIDER_PRICES;
    else process.env.PROVIDER_PRICES = saved;
  });

  it('refuses a bad PROVIDER_PRICES at start, naming the variable and the field', () => {
    const bad: Array<[string, RegExp]> = [
      ['{not json', /PROVIDER_PRICES: not valid JSON/],
      ['{"groq":{"m":{"inputPerMTok":-1}}}', /PROVIDER_PRICES: groq\.m\.inputPerMTok/],
      ['{"groq":{"m":{"inputPerMtok":1}}}', /PROVIDER_PRICES: groq\.m: .*inputPerMtok/],
      ['{"groq":{"m":{}}}', /PROVIDER_PRICES: groq\.m: name at least one/],
      ['[1]', /PROVIDER_PRICES: \(top level\)/],
    ];
    for (const [raw, message] of bad) {
      assert.throws(
        () => loadConfig({ PROVIDER_PRICES: raw }),
        (err: unknown) => err instanceof ConfigError && err.variable === 'PROVIDER_PRICES' && message.test(err.message),
        raw,
      );
    }
    assert.deepEqual(loadConfig({}).providers.priceOverrides, {});
  });

  it('overrides one model, adds another, keeps the rest of the built-in table', () => {
    const overrides = parsePriceOverrides(
      JSON.stringify({ groq: { 'llama-3.3-70b-versatile': { inputPerMTok: 1, outputPerMTok: 2 } }, local: { 'my-llama': { outputPerMTok: 0.5 } } }),
    );
    assert.deepEqual(loadConfig({ PROVIDER_PRICES: JSON.stringify(overrides) }).providers.priceOverrides, overrides);
    const table = mergePrices(overrides);
    assert.deepEqual(table.groq['llama-3.3-70b-versatile'], { inputPerMTok: 1, outputPerMTok: 2 });
    assert.deepEqual(table.groq['openai/gpt-oss-20b'], PRICES.groq['openai/gpt-oss-20b']);
    assert.deepEqual(table.openai, PRICES.openai);
    // 1M in at $1 + 0.5M out at $2 = $2.
    assert.deepEqual(costOf('groq', 'llama-3.3-70b-versatile', { inputTokens: 1e6, outputTokens: 5e5 }, table), { costUsd: 2, estimated: true });
    assert.deepEqual(costOf('local', 'my-llama', { outputTokens: 2e6 }, table), { costUsd: 1, estimated: true });
    assert.equal(PRICES.groq['llama-3.3-70b-versatile'].inputPerMTok, 0.59, 'the built-in table is not changed');
  });

  it('the ledger prices (costOf without a table) follow PROVIDER_PRICES in the environment', () => {
    delete process.env.PROVIDER_PRICES;
    const builtIn = costOf('runware', 'runware:101@1', { images: 10 });
    assert.deepEqual(builtIn, { costUsd: 0.038, estimated: true });
    process.env.PROVIDER_PRICES = JSON.stringify({ runware: { 'runware:101@1': { perImage: 0.01 } } });
    assert.deepEqual(costOf('runware', 'runware:101@1', { images: 10 }), { costUsd: 0.1, estimated: true });
    assert.equal(activePrices().runware['runware:100@1'].perImage, PRICES.runware['runware:100@1'].perImage);
    assert.deepEqual(costOf('runware', 'unknown-model', { images: 1 }), { costUsd: 0, estimated: false });
  });
});
