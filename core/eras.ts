/**
 * The eras a brief may pick, kept as data in `eras.json` so that adding one is
 * an edit to that file only. The file is checked once at load: a malformed
 * entry fails at startup rather than in the middle of a book.
 */
import erasData from './eras.json';

export interface EraArchetype {
  /** Stable id, unique across all eras (e.g. 'the-dreamer'). */
  id: string;
  /** Display name, lower case with its article (e.g. 'the dreamer'). */
  name: string;
  description: string;
  traits: [string, string, string, string];
}

export interface Era {
  id: string;
  name: string;
  /** One line describing the era's feeling. */
  mood: string;
  /** Two CSS hex colours, the era's palette. */
  colors: [string, string];
  /** Adjectives the offline writer weaves into prose. */
  moodWords: string[];
  archetypes: EraArchetype[];
}

const HEX = /^#[0-9a-f]{6}$/i;

function fail(where: string, message: string): never {
  throw new Error(`core/eras.json: ${where}: ${message}`);
}

function nonEmptyString(v: unknown, where: string): string {
  if (typeof v !== 'string' || v.trim() === '') fail(where, 'must be a non-empty string');
  return v;
}

function validate(data: unknown): Era[] {
  if (!Array.isArray(data) || data.length === 0) fail('root', 'must be a non-empty array');
  const eraIds = new Set<string>();
  const archetypeIds = new Set<string>();
  return data.map((raw, i): Era => {
    const e = raw as Record<string, unknown>;
    const where = `eras[${i}]`;
    const id = nonEmptyString(e.id, `${where}.id`);
    if (eraIds.has(id)) fail(where, `duplicate id "${id}"`);
    eraIds.add(id);
    const colors = e.colors;
    if (!Array.isArray(colors) || colors.length !== 2 || !colors.every((c) => typeof c === 'string' && HEX.test(c))) {
      fail(`${where}.colors`, 'must be two hex colours like "#ff8c42"');
    }
    const moodWords = e.moodWords;
    if (!Array.isArray(moodWords) || moodWords.length === 0) fail(`${where}.moodWords`, 'must be a non-empty array');
    const archetypes = e.archetypes;
    if (!Array.isArray(archetypes) || archetypes.length === 0) fail(`${where}.archetypes`, 'must be a non-empty array');
    return {
      id,
      name: nonEmptyString(e.name, `${where}.name`),
      mood: nonEmptyString(e.mood, `${where}.mood`),
      colors: [colors[0] as string, colors[1] as string],
      moodWords: moodWords.map((w, j) => nonEmptyString(w, `${where}.moodWords[${j}]`)),
      archetypes: archetypes.map((rawA, j): EraArchetype => {
        const a = rawA as Record<string, unknown>;
        const aw = `${where}.archetypes[${j}]`;
        const aid = nonEmptyString(a.id, `${aw}.id`);
        if (archetypeIds.has(aid)) fail(aw, `duplicate archetype id "${aid}"`);
        archetypeIds.add(aid);
        const traits = a.traits;
        if (!Array.isArray(traits) || traits.length !== 4) fail(`${aw}.traits`, 'must be four strings');
        const t = traits.map((x, k) => nonEmptyString(x, `${aw}.traits[${k}]`));
        return {
          id: aid,
          name: nonEmptyString(a.name, `${aw}.name`),
          description: nonEmptyString(a.description, `${aw}.description`),
          traits: [t[0], t[1], t[2], t[3]],
        };
      }),
    };
  });
}

export const ERAS: readonly Era[] = Object.freeze(validate(erasData));

const byId = new Map(ERAS.map((e) => [e.id, e]));

export function isEraId(id: unknown): boolean {
  return typeof id === 'string' && byId.has(id);
}

export function getEra(id: string | undefined | null): Era | undefined {
  return typeof id === 'string' ? byId.get(id) : undefined;
}

/**
 * Finds an archetype by id ('the-dreamer') or name ('The Dreamer'), looking in
 * the given era first so a name shared by two eras resolves to the brief's one.
 */
export function findArchetype(value: string | undefined | null, eraId?: string): EraArchetype | undefined {
  if (typeof value !== 'string') return undefined;
  const wanted = value.trim().toLowerCase();
  if (!wanted) return undefined;
  const normalized = wanted.replace(/[\s_]+/g, '-');
  const era = getEra(eraId);
  const order = era ? [era, ...ERAS.filter((e) => e !== era)] : ERAS;
  for (const e of order) {
    for (const a of e.archetypes) {
      if (a.id === normalized || a.name.toLowerCase() === wanted) return a;
      // Allow the article to be left out: 'dreamer' matches 'the dreamer'.
      if (a.name.toLowerCase() === `the ${wanted}`) return a;
    }
  }
  return undefined;
}
