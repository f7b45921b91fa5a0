/**
 * Cover lettering: a title is set as large as fits, with every word whole; a word too long
 * even at the smallest size breaks only at a legal hyphenation point, with a hyphen.
 */
import assert from 'node:assert/strict';
import { coverTitleLayout } from '../../activities/providers/offline-image';

const W = 1200;
const H = 1800;

/** The title's words, each found whole on one line (spaces only where the title had them). */
function wordsWhole(title: string, lines: string[]): boolean {
  const words = title.split(/\s+/).filter(Boolean);
  return words.every((word) => lines.some((l) => l.split(' ').includes(word)));
}

describe('cover title layout', () => {
  const titles: Array<[string, string]> = [
    ['The Cartographer of Quiet Harbours', 'en'],
    ["The Lighthouse Keeper's Granddaughter", 'en'],
    ['Η Κόρη του Χαρτογράφου και το Ρολόι', 'el'],
    ['Дочь картографа и часы с кукушкой', 'ru'],
    ['ابنة رسام الخرائط وساعة المنارة', 'ar'],
    ['בתו של הקרטוגרף ומגדלור השעון', 'he'],
    ['Letters: 東京 ✉ القاهرة ↔ ירושלים 🐉 <A & B> "Q" \'S\'', 'en'],
  ];
  for (const [title, language] of titles) {
    it(`never splits a word: ${title}`, () => {
      for (const [w, h] of [[W, H], [420, 630]]) {
        const { lines, size, maxWidth } = coverTitleLayout(title, w, h, language);
        assert.ok(lines.length >= 1 && lines.length <= 4, `${lines.length} lines`);
        assert.ok(wordsWhole(title, lines), `a word was split: ${JSON.stringify(lines)}`);
        assert.equal(lines.join(' '), title.replace(/\s+/g, ' '), 'nothing lost or added');
        assert.ok(size > 0 && maxWidth > 0);
      }
    });
  }

  it('keeps CJK titles whole, breaking only between characters', () => {
    const title = '東京の小さな灯台守とぜんまい仕掛けのカモメの長い長い冬の物語';
    const { lines } = coverTitleLayout(title, W, H, 'ja');
    assert.equal(lines.join(''), title);
  });

  it('hyphenates a word too long for any size at a legal point, with a visible hyphen', () => {
    const word = 'Pneumonoultramicroscopicsilicovolcanoconiosis';
    const { lines } = coverTitleLayout(`${word} ${word}`, 600, 900, 'en');
    assert.ok(lines.length > 2, JSON.stringify(lines));
    const broken = lines.filter((l) => l.endsWith('-'));
    assert.ok(broken.length > 0, 'the word is broken with a hyphen');
    // Every piece ends where the en-US patterns allow a break: joining the pieces gives the word back.
    assert.equal(lines.map((l) => l.replace(/-$/, '')).join('').replaceAll(' ', '').slice(0, word.length), word);
  });

  it('sets a short title large and a long one smaller, balanced', () => {
    const short = coverTitleLayout('Tide', W, H);
    const long = coverTitleLayout('A Lighthouse Keeper Befriends a Clockwork Gull on the Longest Night', W, H);
    assert.ok(short.size > long.size);
    const widths = long.lines.map((l) => l.length);
    assert.ok(Math.max(...widths) - Math.min(...widths) < 14, `balanced lines: ${JSON.stringify(long.lines)}`);
  });
});
