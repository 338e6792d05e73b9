/**
 * A name for a container the user did not name, docker's way: an adjective
 * and a surname of someone who shaped computing or science, joined by `_`
 * (`tsbox ps` then shows `brave_lovelace`, not a hash). Pure: the caller
 * reserves it and asks again on a clash.
 */

export const ADJECTIVES = [
  "agile", "amazing", "awesome", "blissful", "bold", "brave", "busy", "calm", "careful", "charming",
  "cheerful", "clever", "cool", "curious", "dazzling", "determined", "eager", "elastic", "elegant", "epic",
  "fearless", "festive", "focused", "friendly", "gallant", "gentle", "gracious", "happy", "hopeful", "humble",
  "inspiring", "jolly", "keen", "kind", "laughing", "lucid", "magical", "modest", "nice", "nimble",
  "optimistic", "patient", "peaceful", "pensive", "practical", "quick", "quiet", "relaxed", "serene", "sharp",
  "silly", "sleepy", "steady", "stoic", "sweet", "tender", "thirsty", "trusting", "upbeat", "vibrant",
  "vigilant", "wizardly", "wonderful", "youthful", "zealous", "zen",
] as const;

export const SURNAMES = [
  "babbage", "backus", "bardeen", "bartik", "berners_lee", "boole", "borg", "cerf", "chandrasekhar", "church",
  "codd", "conway", "curie", "dijkstra", "easley", "engelbart", "euler", "faraday", "feynman", "floyd",
  "gauss", "goldberg", "goodall", "hamilton", "hawking", "hodgkin", "hollerith", "hopper", "hypatia", "johnson",
  "kahan", "kay", "keller", "knuth", "lamarr", "lamport", "liskov", "lovelace", "mccarthy", "meitner",
  "minsky", "montalcini", "moore", "neumann", "newton", "noether", "pascal", "perlman", "pike", "ramanujan",
  "ritchie", "shannon", "shaw", "sinoussi", "stallman", "sutherland", "swartz", "tesla", "thompson", "torvalds",
  "turing", "wescoff", "wilson", "wing", "wirth", "wozniak", "yalow", "yonath",
] as const;

/** `attempt` > 0 (an earlier pick was taken) adds docker's numeric suffix, so clashes cannot go on for ever. */
export function generatedName(attempt = 0, random: () => number = Math.random): string {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const base = `${pick(ADJECTIVES)}_${pick(SURNAMES)}`;
  return attempt === 0 ? base : `${base}${Math.floor(random() * 10)}`;
}
