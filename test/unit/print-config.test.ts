/**
 * The print package's paper (PRINT_PAPER, PRINT_PAPER_THICKNESS_IN): a stock's thickness, an
 * override, and a bad value refused with the variable named.
 */
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../lib/config';

describe('config: the paper of the print package', () => {
  it('defaults to white paper, takes a stock and an exact thickness', () => {
    assert.deepEqual(loadConfig({}).print, { paper: 'white', paperThicknessIn: 0.002252, interiorBleed: 'all' });
    assert.deepEqual(loadConfig({ PRINT_PAPER: 'cream' }).print, { paper: 'cream', paperThicknessIn: 0.0025, interiorBleed: 'all' });
    assert.deepEqual(loadConfig({ PRINT_PAPER: 'color' }).print, { paper: 'color', paperThicknessIn: 0.002347, interiorBleed: 'all' });
    assert.equal(loadConfig({ PRINT_INTERIOR_BLEED: 'outside' }).print.interiorBleed, 'outside');
    assert.equal(loadConfig({ PRINT_PAPER: 'cream', PRINT_PAPER_THICKNESS_IN: '0.0026' }).print.paperThicknessIn, 0.0026);
    assert.equal(loadConfig({ PRINT_PAPER_THICKNESS_IN: ' ' }).print.paperThicknessIn, 0.002252);
  });

  for (const [env, variable, message] of [
    [{ PRINT_PAPER: 'glossy' }, 'PRINT_PAPER', /unknown paper "glossy" \(expected white, cream, color\)/],
    [{ PRINT_INTERIOR_BLEED: 'inside' }, 'PRINT_INTERIOR_BLEED', /unknown bleed "inside" \(expected all or outside\)/],
    [{ PRINT_PAPER_THICKNESS_IN: 'thin' }, 'PRINT_PAPER_THICKNESS_IN', /expected inches per page/],
    [{ PRINT_PAPER_THICKNESS_IN: '0' }, 'PRINT_PAPER_THICKNESS_IN', /more than 0/],
    [{ PRINT_PAPER_THICKNESS_IN: '0.25' }, 'PRINT_PAPER_THICKNESS_IN', /at most 0.01/],
    [{ PRINT_PAPER_THICKNESS_IN: '-0.002' }, 'PRINT_PAPER_THICKNESS_IN', /expected inches per page/],
  ] as const) {
    it(`refuses ${JSON.stringify(env)} naming ${variable}`, () => {
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof ConfigError && err.variable === variable && message.test(err.message),
      );
    });
  }
});
