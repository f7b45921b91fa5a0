/**
 * Book plans and chapter openings for the `local` provider's base model.
 *
 * A 270M base model continues text; it does not follow instructions, and its
 * story logic wanders. So the engine plans: the people and things of the brief,
 * an arc of chapter summaries that name them, the palette and style. The model
 * only fills what it does well and where a miss costs nothing: the book's title,
 * the hero's name, look and personality, and the chapter titles, continued from
 * two example plans. Its answer is checked with zod, repaired where the meaning
 * is plain, and ignored field by field where it is not.
 */
import { z } from 'zod';
import { getEra } from '../../core/eras';
import type { ChapterRequest, Outline, OutlineChapter, OutlineCharacter } from './types';
import { arcStages, hash32, mulberry32 } from './offline-text';
import type { BookBrief } from '../../core/brief';
import { languageName, primaryLanguage } from '../../core/language';

/** Words each local chapter aims at: the model wanders more the longer it writes. */
export const LOCAL_TARGET_WORDS = 400;

const DETERMINERS = new Set(['a', 'an', 'the', 'his', 'her', 'their', 'its', 'my', 'our', 'your', 'some', 'two', 'three', 'one']);
/** Words that end a noun phrase: prepositions, conjunctions, relative words, auxiliaries. */
const PHRASE_BREAK = new Set([
  'of', 'in', 'on', 'at', 'to', 'from', 'with', 'without', 'into', 'onto', 'for', 'by', 'about', 'under', 'over', 'across',
  'through', 'after', 'before', 'and', 'or', 'but', 'who', 'whom', 'which', 'that', 'where', 'when', 'while', 'is', 'are',
  'was', 'were', 'be', 'has', 'have', 'had', 'will', 'can', 'must', 'could', 'would', 'should', 'not', 'as', 'than',
]);
const PLACE_PREPOSITIONS = new Set(['in', 'at', 'on', 'near', 'across', 'inside', 'beneath', 'under', 'above', 'beyond']);

export interface Subjects {
  /** Noun phrases of the prompt, in order ("lighthouse keeper", "clockwork gull"). */
  phrases: string[];
  /** A capitalised place named after in/at/on ("Lisbon"), if any. */
  place?: string;
}

/**
 * The people and things the prompt is about: the words after a determiner up to
 * a preposition, a conjunction, or a word followed by a determiner (a verb:
 * "keeper *befriends* a gull"). Enough for the prompts people write; the plan
 * falls back to the prompt's words when there is no determiner at all.
 */
export function subjectsOf(prompt: string): Subjects {
  const words = [...prompt.normalize('NFC').matchAll(/[\p{L}\p{M}\p{N}]+(?:['’-][\p{L}\p{M}]+)*/gu)].map((m) => m[0]);
  const lower = words.map((w) => w.toLocaleLowerCase());
  const phrases: string[] = [];
  let place: string | undefined;
  for (let i = 0; i < words.length; i++) {
    if (PLACE_PREPOSITIONS.has(lower[i]) && i + 1 < words.length) {
      // "in 1920s Lisbon": the first capitalised word after the preposition.
      for (let j = i + 1; j < Math.min(words.length, i + 4) && !place; j++) {
        if (/^\p{Lu}/u.test(words[j]) && !DETERMINERS.has(lower[j])) place = words[j];
        if (PHRASE_BREAK.has(lower[j])) break;
      }
    }
    if (!DETERMINERS.has(lower[i])) continue;
    const phrase: string[] = [];
    for (let j = i + 1; j < words.length && phrase.length < 4; j++) {
      if (PHRASE_BREAK.has(lower[j]) || DETERMINERS.has(lower[j])) break;
      // A word with a determiner right after it is a verb ("befriends a").
      if (phrase.length > 0 && j + 1 < words.length && DETERMINERS.has(lower[j + 1])) break;
      phrase.push(/^\p{Lu}/u.test(words[j]) && j > 0 ? words[j] : lower[j]);
    }
    if (phrase.length > 0) phrases.push(phrase.join(' '));
  }
  if (phrases.length === 0) {
    // No determiners ("Dragons and tea"): the longer content words stand in.
    for (let i = 0; i < words.length && phrases.length < 3; i++) {
      if (!PHRASE_BREAK.has(lower[i]) && [...words[i]].length > 3) phrases.push(lower[i]);
    }
  }
  return { phrases: [...new Set(phrases)].slice(0, 4), place };
}

/** The head noun of a phrase ("gull" of "clockwork gull"): what a chapter must name. */
export function headOf(phrase: string): string {
  return phrase.split(/\s+/).at(-1) ?? phrase;
}

const NAMES = ['Tomas', 'Ines', 'Wren', 'Matteo', 'Ada', 'Oskar', 'Lena', 'Rafael', 'Mira', 'Elias', 'Nora', 'Jonah', 'Clara', 'Felix'];
const LOOKS = [
  'weathered hands, a grey wool coat and a cap pulled low',
  'dark curls, a patched blue jacket and boots too big for them',
  'a freckled face, a green scarf and ink on every finger',
  'silver hair tied back, round spectacles and a long brown coat',
];
const PERSONALITIES = ['patient, stubborn and quietly kind', 'curious, brave and a little reckless', 'careful, clever and slow to trust', 'warm, funny and secretly lonely'];

const cap = (s: string) => (s ? s[0].toLocaleUpperCase() + s.slice(1) : s);
const titleCase = (s: string) => s.split(/\s+/).map(cap).join(' ');
const the = (phrase: string) => (/^\p{Lu}/u.test(phrase) || /^(a|an|the) /i.test(phrase) ? phrase : `the ${phrase}`);

type Stage = ReturnType<typeof arcStages>[number];

/** Summaries by arc stage; every one names the hero and the second subject, most the place. */
const STAGE_SUMMARY: Record<Stage, (h: string, c: string, p: string) => string> = {
  whole: (h, c, p) => `${h} meets ${c} at ${p}; they face a danger together, and by the end ${h} is changed for good.`,
  setup: (h, c, p) => `${h} keeps to the old routine at ${p} until ${c} appears, and nothing is ordinary again.`,
  inciting: (h, c, p) => `${h} learns that ${c} is in trouble, and that ${p} is in danger too.`,
  rising: (h, c, p) => `${h} and ${c} set out from ${p} to find help, and the way is harder than either expected.`,
  midpoint: (h, c) => `${h} discovers the secret of ${c}, and it changes everything they planned.`,
  dark: (h, c, p) => `A storm reaches ${p}; ${c} is lost, and ${h} must decide whether to go on alone.`,
  climax: (h, c, p) => `${h} risks everything to save ${c}, and the fate of ${p} is decided.`,
  resolution: (h, c, p) => `With the danger past, ${h} and ${c} come home to ${p}, and a new life begins for both.`,
};
const STAGE_TITLE: Record<Stage, (c: string, p: string) => string> = {
  whole: (c) => `The Tale of ${titleCase(c)}`,
  setup: (c) => `The Coming of the ${titleCase(headOf(c))}`,
  inciting: () => 'Trouble Ahead',
  rising: () => 'The Long Way',
  midpoint: (c) => `The Secret of the ${titleCase(headOf(c))}`,
  dark: () => 'The Storm',
  climax: (_c, p) => `The Last Night at ${titleCase(p)}`,
  resolution: () => 'Homecoming',
};

/**
 * The first sentence of a chapter by arc stage, in the past tense of a novel: the
 * model continues prose far better from a sentence than from a heading alone.
 */
const STAGE_OPENING: Record<Stage, (h: string, hFull: string, c: string, p: string) => string> = {
  whole: (h, hFull, c, p) => `Nobody at ${p} had ever seen anything like ${c}, and ${hFull} was the first to find it.`,
  setup: (h, hFull, c, p) => `For years ${hFull} had kept to the same routine at ${p}, and nothing had ever changed, until the morning ${c} appeared.`,
  inciting: (h, _f, c) => `It was ${h} who first noticed that something was wrong with ${c}.`,
  rising: (h, _f, c, p) => `${h} and ${c} left ${p} before dawn, and by noon the way was already harder than either of them had expected.`,
  midpoint: (h, _f, c) => `That night ${h} finally understood the secret of ${c}.`,
  dark: (h, _f, c, p) => `The storm reached ${p} just after dark, and by morning ${c} was gone.`,
  climax: (h, _f, c) => `${h} had never been so afraid, but there was no time left to save ${c}.`,
  resolution: (h, _f, c, p) => `When it was all over, ${h} and ${c} came home to ${p} at last.`,
};

/** The brief's hero role, companion and place, as the plan and the openings use them. */
export function storyParts(brief: BookBrief): { role: string; companion: string; place: string } {
  const { phrases, place: promptPlace } = subjectsOf(brief.prompt);
  return {
    role: phrases[0] ?? 'traveller',
    companion: phrases[1] ?? 'a stranger',
    place: brief.place?.trim() || promptPlace || (phrases[2] ? the(phrases[2]) : 'the edge of the sea'),
  };
}

/** The plan without the model: the brief's subjects on an arc. Deterministic for a brief. */
export function planFromBrief(brief: BookBrief): Outline {
  const rng = mulberry32(hash32(`${brief.prompt}|${brief.era ?? ''}|${brief.characterName ?? ''}`));
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)];
  const { phrases } = subjectsOf(brief.prompt);
  const { role, companion, place } = storyParts(brief);
  const name = brief.characterName?.trim() || pick(NAMES);
  const era = getEra(brief.era);
  const palette: [string, string] = era ? [era.colors[0], era.colors[1]] : ['#2f5d7c', '#e8b04a'];
  const hero: OutlineCharacter = {
    name,
    look: `${cap(the(role))}: ${pick(LOOKS)}`,
    personality: brief.archetype ? `${brief.archetype}; ${pick(PERSONALITIES)}` : pick(PERSONALITIES),
  };
  const characters: OutlineCharacter[] = [hero];
  if (phrases[1]) characters.push({ name: cap(the(companion)), look: `${cap(the(companion))}, as the story describes it`, personality: 'strange and loyal' });
  const heroLine = `${name}, ${the(role)},`;
  const stages = arcStages(brief.chapterCount);
  const chapters: OutlineChapter[] = stages.map((stage, i) => {
    // The first mention introduces the hero with the role; later ones use the name.
    const h = i === 0 ? heroLine.slice(0, -1) : name;
    return {
      index: i + 1,
      title: STAGE_TITLE[stage](companion, place),
      summary: STAGE_SUMMARY[stage](h, the(companion), place).replace(`${heroLine.slice(0, -1)} `, `${heroLine} `),
      targetWords: LOCAL_TARGET_WORDS,
    };
  });
  const style = brief.style?.trim() || 'soft watercolour with ink outlines';
  return {
    title: `The ${titleCase(headOf(role))} and the ${titleCase(headOf(companion))}`,
    logline: `${cap(brief.prompt.trim().replace(/[.!?]*$/, ''))}.`,
    characters,
    setting: `${cap(place)}${era ? `, in the mood of ${era.name}` : ''}`,
    style: era ? `${cap(style)}; ${era.name} mood` : cap(style),
    palette,
    chapters,
  };
}

// ---------------------------------------------------------------------------
// What the model fills

/** The fields the model writes, and their JSON schema (for the optional grammar). */
export const modelFieldsSchema = (chapterCount: number) =>
  z.object({
    title: z.string().trim().min(2).max(80).optional(),
    hero: z
      .object({
        name: z.string().trim().min(2).max(40),
        look: z.string().trim().min(8).max(200),
        personality: z.string().trim().min(3).max(120),
      })
      .partial(),
    // Titles are taken by position (a misnumbered list is renumbered); the plan's fill the rest.
    chapters: z.array(z.object({ index: z.number().int().optional(), title: z.string().trim().min(2).max(80) })).max(chapterCount),
  });
export type ModelFields = z.infer<ReturnType<typeof modelFieldsSchema>>;

export function modelFieldsJsonSchema(chapterCount: number) {
  const str = { type: 'string' } as const;
  return {
    type: 'object',
    properties: {
      title: str,
      hero: { type: 'object', properties: { name: str, look: str, personality: str } },
      chapters: {
        type: 'array',
        minItems: chapterCount,
        maxItems: chapterCount,
        items: { type: 'object', properties: { index: { type: 'integer' }, title: str } },
      },
    },
  } as const;
}

const EXAMPLES = [
  {
    idea: 'A girl who can talk to rivers saves her drowning village',
    plan: {
      title: 'The River Speaks',
      hero: { name: 'Mira Holloway', look: 'a thin girl of twelve with river-grey eyes and a patched blue coat', personality: 'stubborn, patient, a good listener' },
      chapters: ['The Voice in the Water', 'The Flood Warning', 'The Broken Dam', 'What the River Wanted'],
    },
  },
  {
    idea: 'An old astronomer finds a lost comet',
    plan: {
      title: 'The Comet Nobody Saw',
      hero: { name: 'Ansel Crane', look: 'a stooped man with a white beard and brass spectacles', personality: 'absent-minded, kind, secretly brave' },
      chapters: ['A Smudge on the Plate', 'The Rival Observatory', 'Clouds for a Week', 'Night of the Return'],
    },
  },
];

/**
 * The few-shot prompt the model continues: two plans, then the brief's idea.
 * The examples carry as many chapters as the book asks for (up to four; the
 * model copies the count it sees), so the answer's shape matches the book.
 */
export function planPrompt(brief: BookBrief): string {
  const n = Math.max(1, Math.min(brief.chapterCount, 4));
  const line = (e: (typeof EXAMPLES)[number]) =>
    `Story idea: ${e.idea}\nPlan: ${JSON.stringify({
      title: e.plan.title,
      hero: e.plan.hero,
      chapters: e.plan.chapters.slice(0, n).map((title, i) => ({ index: i + 1, title })),
    })}`;
  const idea = [brief.prompt.trim(), brief.characterName ? `(the hero is called ${brief.characterName})` : ''].filter(Boolean).join(' ');
  return `Book plans, one per line, as JSON.\n\n${EXAMPLES.map(line).join('\n\n')}\n\nStory idea: ${idea}\nPlan: `;
}

/**
 * Reads what the model wrote; undefined when it is not a plan at all. Lenient
 * where the meaning is plain: a small model closes the object too early or runs
 * on into a fifth chapter, so the fields are read where they stand (the first
 * title, the hero's name/look/personality, each chapter's index and title) and
 * the object they make is checked with zod.
 */
export function parseModelFields(text: string, chapterCount: number): ModelFields | undefined {
  const str = (key: string, from = 0) => {
    const m = new RegExp(`"${key}"\\s*:\\s*"((?:[^"\\\\]|\\\\.)*)"`).exec(text.slice(from));
    if (!m) return undefined;
    try {
      return JSON.parse(`"${m[1]}"`) as string;
    } catch {
      return undefined;
    }
  };
  const heroAt = text.indexOf('"hero"');
  const chaptersAt = text.indexOf('"chapters"');
  const chapters: Array<{ index?: number; title: string }> = [];
  if (chaptersAt >= 0) {
    const re = /\{\s*(?:"index"\s*:\s*(\d+)\s*,\s*)?"title"\s*:\s*"((?:[^"\\]|\\.)*)"/g;
    for (const m of text.slice(chaptersAt).matchAll(re)) {
      try {
        chapters.push({ index: m[1] ? Number(m[1]) : undefined, title: JSON.parse(`"${m[2]}"`) as string });
      } catch {
        // An escape the model garbled: that title is skipped, the plan's stays.
      }
    }
  }
  const title = str('title');
  // The book's title is the first "title" before the chapters (not a chapter's).
  const bookTitle = title !== undefined && (chaptersAt < 0 || text.indexOf('"title"') < chaptersAt) ? title : undefined;
  const candidate = {
    title: bookTitle,
    hero:
      heroAt >= 0
        ? { name: str('name', heroAt), look: str('look', heroAt), personality: str('personality', heroAt) }
        : {},
    chapters: chapters.slice(0, chapterCount),
  };
  if (!candidate.title && !candidate.hero.name && candidate.chapters.length === 0) return undefined;
  const parsed = modelFieldsSchema(chapterCount).safeParse(candidate);
  return parsed.success ? parsed.data : undefined;
}

const HEX = /^#[0-9a-fA-F]{6}$/;

/**
 * The plan with the model's fields laid over it, each one only when it is
 * usable: chapter titles by position (a misnumbered list is renumbered), a
 * title or name that merely repeats a subject or the examples is dropped.
 * Returns which fields the model supplied, for the record.
 */
export function mergeModelFields(plan: Outline, fields: ModelFields | undefined): { outline: Outline; used: string[] } {
  if (!fields) return { outline: plan, used: [] };
  const used: string[] = [];
  const exampleWords = new Set(EXAMPLES.flatMap((e) => [e.plan.title, e.plan.hero.name, ...e.plan.chapters]).map((s) => s.toLowerCase()));
  const fresh = (s: string | undefined) => Boolean(s && !exampleWords.has(s.trim().toLowerCase()));
  const outline: Outline = structuredClone(plan);
  if (fields.title && fresh(fields.title)) {
    outline.title = fields.title.trim();
    used.push('title');
  }
  const hero = outline.characters[0];
  const name = fields.hero.name?.trim();
  // A name must look like one (capitalised words, not "The Keeper"), and not be the companion.
  if (name && fresh(name) && /^\p{Lu}[\p{L}'’-]+(?: \p{Lu}[\p{L}'’-]+){0,2}$/u.test(name) && !/^the\b/i.test(name) &&
      !outline.characters.slice(1).some((c) => c.name.toLowerCase().includes(name.toLowerCase()))) {
    const old = hero.name;
    hero.name = name;
    for (const c of outline.chapters) c.summary = c.summary.split(old).join(name);
    used.push('name');
  }
  if (fields.hero.look && fresh(fields.hero.look)) {
    hero.look = `${hero.look.split(':')[0]}: ${fields.hero.look.trim()}`;
    used.push('look');
  }
  if (fields.hero.personality && fresh(fields.hero.personality)) {
    hero.personality = fields.hero.personality.trim();
    used.push('personality');
  }
  // Titles by position; the same title twice, or an example's, keeps the plan's.
  const seen = new Set<string>();
  fields.chapters.forEach((c, i) => {
    const ch = outline.chapters[i];
    const t = c.title.trim();
    if (!ch || !fresh(t) || seen.has(t.toLowerCase())) return;
    seen.add(t.toLowerCase());
    ch.title = t;
    used.push(`chapter ${i + 1} title`);
  });
  return { outline, used };
}

/** An outline's palette, or the era's (or a neutral one) when it is not two #rrggbb colours. */
export function lenientPalette(palette: unknown, eraId: string | undefined): [string, string] {
  if (Array.isArray(palette) && palette.length >= 2 && HEX.test(String(palette[0])) && HEX.test(String(palette[1]))) {
    return [String(palette[0]), String(palette[1])];
  }
  const era = getEra(eraId);
  return era ? [era.colors[0], era.colors[1]] : ['#2f5d7c', '#e8b04a'];
}

// ---------------------------------------------------------------------------
// Chapter openings

/**
 * The text the model continues for a chapter: the book's title and logline, the
 * end of the previous chapter when given, the chapter heading, its summary as an
 * "In which ..." lead-in (an old novel's convention), and a first sentence for
 * the chapter's place in the arc that names its hero and the brief's second
 * subject. Returns the prompt and that sentence, which starts the chapter's text.
 */
export function chapterOpening(req: ChapterRequest): { prompt: string; primer: string } {
  const { outline, chapter } = req;
  const hero = outline.characters[0]?.name ?? 'the hero';
  const { role, companion, place } = storyParts(req.brief);
  const stage = arcStages(outline.chapters.length)[chapter.index - 1] ?? 'rising';
  const opening = STAGE_OPENING[stage](hero, `${hero}, ${the(role)},`, the(companion), place);
  const lead = chapter.summary.trim().startsWith(hero)
    ? chapter.summary.trim()
    : chapter.summary.trim().replace(/^\p{Lu}(?!\p{Lu})/u, (c) => c.toLocaleLowerCase());
  // A book asked in another language says so at its head, as a translated edition's title page
  // does; how far a small base model follows is checked on the text (activities/text-language.ts).
  const language = primaryLanguage(req.brief.language) === 'en' ? '' : `\nWritten in ${languageName(req.brief.language)}`;
  const parts = [`${outline.title}${language}\n\n${outline.logline}`];
  if (req.previousEnding?.trim()) parts.push(`…${req.previousEnding.trim()}`);
  parts.push(`Chapter ${chapter.index}: ${chapter.title}\n\nIn which ${lead}`);
  return { prompt: `${parts.join('\n\n')}\n\n${opening}`, primer: opening };
}
