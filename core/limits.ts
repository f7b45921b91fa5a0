/**
 * The brief's numeric limits, in a module of their own that imports nothing, so the
 * web page's bundle takes them without the schemas.
 */

/** How many chapters (or a story's sections) a brief may ask for, and how many by default. */
export const CHAPTER_COUNT = { min: 1, max: 24, default: 3 } as const;
